package bicep_test

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The type check (../shared/tools/bicepcheck, see its README) as make
// bicep-check runs it, and proof that it fails on templates broken the ways
// issue 10 found them broken.

const allowFile = "infra/bicep/bicepcheck-allow.txt"

// bicepcheck returns the checker's folder and python3, or skips (fails under
// CI=true) when either is missing.
func bicepcheck(t *testing.T) (dir, python string) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(root, "..", "shared", "tools", "bicepcheck"))
	if err != nil {
		t.Fatal(err)
	}
	_, statErr := os.Stat(filepath.Join(dir, "bicepcheck.py"))
	python, err = exec.LookPath("python3")
	if statErr != nil || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the Bicep type checker (%v) or python3 (%v) is missing", statErr, err)
		}
		t.Skipf("../shared/tools/bicepcheck (%v) or python3 (%v) missing; not skipped under CI=true", statErr, err)
	}
	return dir, python
}

// copyTemplates copies infra/bicep (templates, parameters, allow file) and
// schema/alerts.json into a temporary tree of the same shape, so the
// templates' relative loadJsonContent paths resolve there too.
func copyTemplates(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join(root, "infra", "bicep")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext != ".bicep" && ext != ".json" && ext != ".txt" {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		return copyFile(p, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFile(filepath.Join(root, "schema", "alerts.json"), filepath.Join(dst, "schema", "alerts.json")); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// runCheck runs the type check and the parameters check on the tree at dir as
// make bicep-check does, and returns their combined output and whether both
// passed.
func runCheck(t *testing.T, checker, python, dir string, allow bool) (string, bool) {
	t.Helper()
	args := []string{filepath.Join(checker, "bicepcheck.py"), "--fail-on", "warning", "--base", "infra/bicep"}
	if allow {
		args = append(args, "--allow", allowFile)
	}
	args = append(args, "infra/bicep/main.bicep", "infra/bicep/tenant.bicep")
	cmd := exec.Command(python, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	ok := err == nil
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("bicepcheck: %v", err)
	}
	cmd = exec.Command(python, filepath.Join(checker, "checkparams.py"), "infra/bicep/main.bicep", "infra/bicep/main.parameters.json")
	cmd.Dir = dir
	pout, err := cmd.CombinedOutput()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("checkparams: %v", err)
	}
	return string(out) + string(pout), ok && err == nil
}

func TestBicepTypeCheck(t *testing.T) {
	checker, python := bicepcheck(t)
	if out, ok := runCheck(t, checker, python, copyTemplates(t), true); !ok {
		t.Fatalf("the templates fail the type check:\n%s", out)
	}
	t.Run("self-test", func(t *testing.T) {
		if out, err := exec.Command(filepath.Join(checker, "run_tests.sh")).CombinedOutput(); err != nil {
			t.Fatalf("bicepcheck self-test: %v\n%s", err, out)
		}
	})
}

// TestBicepTypeCheckFailsOnBrokenTemplates breaks a copy of the templates in
// the ways issue 10 found them broken (and a few more) and shows that the
// check fails, naming the file and the fault.
func TestBicepTypeCheckFailsOnBrokenTemplates(t *testing.T) {
	checker, python := bicepcheck(t)
	breaks := []struct {
		name, file, old, new, want string
	}{
		{
			name: "BCP138 loop inside a variable's value",
			file: "infra/bicep/modules/functionapp.bicep",
			old:  "resource site 'Microsoft.Web/sites@",
			new:  "var siteConfig = {\n  appSettings: [for s in items(appSettings): {\n    name: s.key\n    value: s.value\n  }]\n}\n\nresource site 'Microsoft.Web/sites@",
			want: "modules/functionapp.bicep:", // and BCP138, checked below
		},
		{
			name: "ftpsState on the Flex site (ARM 51021)",
			file: "infra/bicep/modules/functionapp.bicep",
			old:  "      minTlsVersion: '1.2'\n",
			new:  "      minTlsVersion: '1.2'\n      ftpsState: 'Disabled'\n",
			want: "siteConfig.ftpsState is sent to a Flex Consumption site",
		},
		{
			name: "alwaysOn on the Flex site (ARM 51021)",
			file: "infra/bicep/modules/functionapp.bicep",
			old:  "      minTlsVersion: '1.2'\n",
			new:  "      minTlsVersion: '1.2'\n      alwaysOn: true\n",
			want: "siteConfig.alwaysOn is sent to a Flex Consumption site",
		},
		{
			name: "misspelt property name",
			file: "infra/bicep/modules/storage.bicep",
			old:  "    allowSharedKeyAccess: false\n",
			new:  "    allowSharedKeyAcess: false\n",
			want: "property 'allowSharedKeyAcess' does not exist",
		},
		{
			name: "table retention -1 (the type allows 4..730)",
			file: "infra/bicep/modules/loganalytics.bicep",
			old:  "    retentionInDays: alertsRetentionInDays\n",
			new:  "    retentionInDays: -1\n",
			want: "retentionInDays: -1 below minValue 4",
		},
		{
			name: "module param not given",
			file: "infra/bicep/main.bicep",
			old:  "    deadLetterContainerName: deadLetterContainerName\n",
			new:  "",
			want: "required param deadLetterContainerName",
		},
		{
			name: "unknown api version",
			file: "infra/bicep/modules/eventhubs.bicep",
			old:  "resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01'",
			new:  "resource hub 'Microsoft.EventHub/namespaces/eventhubs@2099-01-01'",
			want: "Microsoft.EventHub/namespaces/eventhubs@2099-01-01 does not exist",
		},
		{
			name: "parameters file out of bounds",
			file: "infra/bicep/main.parameters.json",
			old:  "\"messageRetentionInDays\": {\n      \"value\": 7\n    }",
			new:  "\"messageRetentionInDays\": {\n      \"value\": 8\n    }",
			want: "messageRetentionInDays=8 violates @maxValue(7)",
		},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			dir := copyTemplates(t)
			p := filepath.Join(dir, b.file)
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(src), b.old); n != 1 {
				t.Fatalf("%s: the text to break occurs %d times, want 1 (update this test with the template):\n%s", b.file, n, b.old)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(src), b.old, b.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, ok := runCheck(t, checker, python, dir, true)
			if ok {
				t.Fatalf("the check passed a broken template:\n%s", out)
			}
			if !strings.Contains(out, b.want) {
				t.Errorf("the output does not name the fault %q:\n%s", b.want, out)
			}
			if strings.HasPrefix(b.name, "BCP138") && !regexp.MustCompile(`modules/functionapp\.bicep:\d+: ERROR: BCP138`).MatchString(out) {
				t.Errorf("no BCP138 error for functionapp.bicep:\n%s", out)
			}
		})
	}
}

// TestAllowFile: every accepted finding carries its reason (a comment right
// above it) and still matches a finding the checker reports without the
// allow file, so a fixed finding cannot stay silently allowed.
func TestAllowFile(t *testing.T) {
	f, err := os.Open(filepath.Join(root, allowFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type entry struct {
		line      int
		file, sub string
	}
	var entries []entry
	prevComment := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "":
			prevComment = false
		case strings.HasPrefix(l, "#"):
			prevComment = true
		default:
			if !prevComment {
				t.Errorf("%s:%d: %q has no reason (a # comment naming the document) right above it", allowFile, n, l)
			}
			if strings.Contains(l, "#") {
				t.Errorf("%s:%d: %q holds '#', which bicepcheck reads as a comment", allowFile, n, l)
			}
			file, sub, ok := strings.Cut(l, ":")
			if !ok || strings.TrimSpace(sub) == "" {
				t.Errorf("%s:%d: %q is not `file: text of the finding`", allowFile, n, l)
				continue
			}
			entries = append(entries, entry{n, strings.TrimSpace(file), strings.TrimSpace(sub)})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	checker, python := bicepcheck(t)
	out, _ := runCheck(t, checker, python, copyTemplates(t), false)
	for _, e := range entries {
		found := false
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, e.file+":") && strings.Contains(l, e.sub) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s:%d: %s: %q matches no finding any more; remove it", allowFile, e.line, e.file, e.sub)
		}
	}
}
