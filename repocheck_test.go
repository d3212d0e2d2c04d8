package drswatch_test

// The repository checks: what the files at the root promise (README,
// host.json, go.mod, the example settings, the Makefile's package) against
// the code, a scan for secrets, and that the shipped binary links no test
// machinery. The Bicep is checked against the code in infra/bicep.

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/bench"
	"github.com/drswatch/drswatch/internal/config"
)

// TestSettingsAreDocumented keeps the README's configuration table in step
// with the settings the code reads.
func TestSettingsAreDocumented(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(b)
	for _, s := range config.Settings {
		require.Contains(t, readme, "| `"+s.Name+"` |", "README configuration table lacks %s", s.Name)
		cell := " "
		if s.Default != "" {
			cell = " `" + s.Default + "` "
		}
		require.True(t, strings.Contains(readme, "| `"+s.Name+"` |"+cell+"|"), "README's default for %s is not Settings' %q", s.Name, s.Default)
	}
	// And the README documents no DRSWATCH_ setting the code does not read.
	for _, line := range strings.Split(readme, "\n") {
		if !strings.HasPrefix(line, "| `DRSWATCH_") {
			continue
		}
		name := strings.Trim(strings.SplitN(line, "|", 3)[1], " `")
		found := false
		for _, s := range config.Settings {
			found = found || s.Name == name
		}
		require.True(t, found, "README documents %s, which the code does not read", name)
	}
}

// TestREADMEStartsWithTheTwoCommands: the set-up block is exactly make demo
// and make test.
func TestREADMEStartsWithTheTwoCommands(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(b)
	i := strings.Index(readme, "```sh\n")
	require.GreaterOrEqual(t, i, 0)
	block := readme[i+len("```sh\n"):]
	block = block[:strings.Index(block, "```")]
	require.Equal(t, "make demo\nmake test\n", block)
}

// The only key allowed in the repository is Azurite's development account
// key: it is published in Azurite's and the Azure SDKs' documentation, works
// only against the local emulator, and local.settings.example.json and
// internal/testenv need it. The Event Hubs emulator's connection string
// uses the documented placeholder SAS_KEY_VALUE, which is not a key.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// secretPatterns find credentials by their shape and context.
var secretPatterns = []struct {
	name string
	re   *regexp.Regexp
}{
	{"storage account key", regexp.MustCompile(`(?i)AccountKey\s*=\s*([A-Za-z0-9+/]{20,}={0,2})`)},
	{"shared access key", regexp.MustCompile(`(?i)SharedAccessKey\s*=\s*([A-Za-z0-9+/=_-]{8,})`)},
	{"SAS signature", regexp.MustCompile(`(?i)[?&;"]sig=([A-Za-z0-9%+/]{20,})`)},
	{"bearer token", regexp.MustCompile(`(?i)Bearer\s+([A-Za-z0-9._~+/-]{20,}=*)`)},
	{"JWT", regexp.MustCompile(`(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)`)},
	{"private key", regexp.MustCompile(`(-----BEGIN [A-Z ]*PRIVATE KEY-----)`)},
	{"client secret", regexp.MustCompile(`(?i)client_?secret["'\s]*[:=]\s*["']?([A-Za-z0-9~._-]{20,})`)},
	{"Entra client secret", regexp.MustCompile(`\b([A-Za-z0-9_~.-]{3}8Q~[A-Za-z0-9_~.-]{31,34})`)},
}

// allowed are values the patterns match that are not secrets.
var allowed = map[string]bool{azuriteKey: true, "SAS_KEY_VALUE": true}

func findSecrets(text string) []string {
	var found []string
	for _, p := range secretPatterns {
		for _, m := range p.re.FindAllStringSubmatch(text, -1) {
			if !allowed[m[1]] {
				found = append(found, p.name+": "+m[0])
			}
		}
	}
	return found
}

// The detector finds each kind (examples are assembled so that this file
// holds none of them whole).
func TestFindSecrets(t *testing.T) {
	b64 := strings.Repeat("Ab3+", 21) + "xw=="
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"account key", "DefaultEndpointsProtocol=https;AccountName=x;Account" + "Key=" + b64, true},
		{"azurite key", "AccountKey=" + azuriteKey, false},
		{"event hub key", "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=r;SharedAccess" + "Key=" + b64, true},
		{"emulator placeholder", "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true", false},
		{"SAS url", "https://a.table.core.windows.net/t?sv=2022-11-02&s" + "ig=" + "aBcD%2BeFgH1234567890abcdefXYZ%3D", true},
		{"bearer", "Authorization: Bear" + "er " + "abcdefghijklmnopqrstuvwxyz0123456789", true},
		{"jwt", "token " + "eyJ" + "hbGciOiJSUzI1NiJ9.eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0.sig", true},
		{"private key", "-----BEGIN RSA " + "PRIVATE KEY-----", true},
		{"client secret", `"client` + `_secret": "` + "abcdEFGH1234~ijklMNOP5678" + `"`, true},
		{"entra secret", "abc" + "8Q~" + "abcdefghijklmnopqrstuvwxyz0123456", true},
		{"prose", "the Logs Ingestion API takes a bearer token from managed identity", false},
		{"lockfile integrity", `"integrity": "sha512-` + b64 + `"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, len(findSecrets(tc.text)) > 0, "%v", findSecrets(tc.text))
		})
	}
}

// TestNoSecretsInRepo scans every tracked file, and the example local
// settings, for credentials.
func TestNoSecretsInRepo(t *testing.T) {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	files = append(files, "local.settings.example.json")
	require.Greater(t, len(files), 50)
	for _, f := range files {
		if f == "repocheck_test.go" {
			continue // its examples are assembled at run time
		}
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		require.NoError(t, err)
		for _, s := range findSecrets(string(b)) {
			t.Errorf("%s: %s", f, s)
		}
	}
}

// TestExampleSettings checks the example local settings run the custom
// handler against the emulators, with nothing but the emulators' public
// values.
func TestExampleSettings(t *testing.T) {
	b, err := os.ReadFile("local.settings.example.json")
	require.NoError(t, err)
	s := string(b)
	for _, want := range []string{`"FUNCTIONS_WORKER_RUNTIME": "custom"`, `"AzureWebJobsStorage": "UseDevelopmentStorage=true"`,
		"UseDevelopmentEmulator=true", "DRSWATCH_TABLE_CONNECTION", "127.0.0.1:10002"} {
		require.Contains(t, s, want)
	}
	require.Empty(t, findSecrets(s))
}

// testSupport are this module's packages that exist for tests and
// developers (they import testing, start Azurite, generate traffic or build
// the zip); none may be linked into what ships. Any module package whose
// own files import testing is added by shippedDeps.
var testSupport = []string{
	"e2e", "gen", "internal/bench", "internal/cmd/drswatch-dev", "internal/fixture",
	"internal/sharedtest", "internal/mkzip", "internal/testenv", "store/storetest",
}

const module = "github.com/drswatch/drswatch"

// forbiddenDeps returns the packages in `go list -deps pkg` that are test
// machinery: testing and net/http/httptest (and their subpackages), testify,
// and this module's test-support packages.
func forbiddenDeps(t *testing.T, pkg string) []string {
	t.Helper()
	support := map[string]bool{}
	for _, p := range testSupport {
		support[module+"/"+p] = true
	}
	// Module packages whose non-test files import testing are test support
	// too, whatever they are called.
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	require.NoError(t, err, "go list ./...")
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && slices.Contains(f[1:], "testing") {
			support[f[0]] = true
		}
	}
	out, err = exec.Command("go", "list", "-deps", pkg).Output()
	require.NoError(t, err, "go list -deps %s", pkg)
	var bad []string
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "testing", strings.HasPrefix(dep, "testing/"),
			dep == "net/http/httptest",
			strings.HasPrefix(dep, "github.com/stretchr/testify"),
			support[dep]:
			bad = append(bad, dep)
		}
	}
	return bad
}

// TestShippedBinaryHoldsNoTestMachinery: `make package` zips
// ./cmd/drswatch into the Function App; it must not link testing,
// httptest, Azurite's key (internal/testenv), the generator or the bench.
// The developer command is the control: it does link them, so the check
// can see what it looks for.
func TestShippedBinaryHoldsNoTestMachinery(t *testing.T) {
	require.Empty(t, forbiddenDeps(t, "./cmd/drswatch"), "go list -deps ./cmd/drswatch")
	control := forbiddenDeps(t, "./internal/cmd/drswatch-dev")
	for _, want := range []string{"testing", "net/http/httptest", module + "/internal/testenv", module + "/gen"} {
		require.Contains(t, control, want, "the check finds %s in the developer command", want)
	}
}

// modulePackages returns the module's packages matched by pattern, as
// paths relative to the root ("." for the root package).
func modulePackages(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	require.NoError(t, err, "go list %v", args)
	var rel []string
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == module:
			rel = append(rel, ".")
		case strings.HasPrefix(p, module+"/"):
			rel = append(rel, strings.TrimPrefix(p, module+"/"))
		}
	}
	return rel
}

// layoutTables returns what the README's three layout tables name (the
// backquoted names in each row's first cell): the packages that ship, the
// packages tests and developers use, and the other folders (infra/bicep is
// a package of tests beside the templates). The root package is named by
// its file, repocheck_test.go.
func layoutTables(t *testing.T) (shipped, support, other map[string]bool) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, layout, ok := strings.Cut(string(b), "\nCode layout.")
	require.True(t, ok, "README has the Code layout")
	layout, _, ok = strings.Cut(layout, "\n## ")
	require.True(t, ok, "the layout ends with a section")
	first, rest, ok := strings.Cut(layout, "\nWhat tests and developers use")
	require.True(t, ok, "the layout has a table of what tests and developers use")
	second, third, ok := strings.Cut(rest, "\nOther folders:")
	require.True(t, ok, "the layout has a table of other folders")
	names := func(table string) map[string]bool {
		out := map[string]bool{}
		for _, line := range strings.Split(table, "\n") {
			cells := strings.Split(line, "|")
			if len(cells) < 3 || !strings.Contains(cells[1], "`") {
				continue
			}
			for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cells[1], -1) {
				name := strings.TrimSuffix(m[1], "/")
				if name == "repocheck_test.go" {
					name = "."
				}
				out[name] = true
			}
		}
		return out
	}
	return names(first), names(second), names(third)
}

// TestLayoutNamesEveryPackage: the README's layout names every package of
// the module in the right table: the ones `go list -deps ./cmd/drswatch`
// names under what ships, every other one under what tests and developers
// use (or, for infra/bicep, under the other folders); and neither package
// table names a package that does not exist.
func TestLayoutNamesEveryPackage(t *testing.T) {
	shippedRows, supportRows, otherRows := layoutTables(t)
	ships := map[string]bool{}
	for _, p := range modulePackages(t, "-deps", "./cmd/drswatch") {
		ships[p] = true
	}
	all := modulePackages(t, "./...")
	require.Contains(t, all, "cmd/drswatch")
	for _, p := range all {
		if ships[p] {
			require.True(t, shippedRows[p], "README layout: %s ships (go list -deps ./cmd/drswatch) but is not in the table of what ships", p)
		} else {
			require.True(t, supportRows[p] || otherRows[p], "README layout: %s is not in the table of what tests and developers use", p)
		}
	}
	for p := range shippedRows {
		require.True(t, ships[p], "README layout lists %s under what ships; go list -deps ./cmd/drswatch does not name it", p)
	}
	for p := range supportRows {
		require.Contains(t, all, p, "README layout lists %s, which is not a package", p)
		require.False(t, ships[p], "README layout lists %s as test support, but it ships", p)
	}
}

// TestPackageBuildsOnlyTheShippedBinary: the Makefile's package recipe
// builds ./cmd/drswatch and nothing else.
func TestPackageBuildsOnlyTheShippedBinary(t *testing.T) {
	b, err := os.ReadFile("Makefile")
	require.NoError(t, err)
	_, recipe, ok := strings.Cut(string(b), "\npackage:\n")
	require.True(t, ok, "Makefile has a package target")
	if i := strings.Index(recipe, "\n\n"); i >= 0 {
		recipe = recipe[:i]
	}
	builds := regexp.MustCompile(`\$\(GO\) build [^\n]*`).FindAllString(recipe, -1)
	require.Len(t, builds, 1, "one go build in:\n%s", recipe)
	require.True(t, strings.HasSuffix(builds[0], " ./cmd/drswatch"), builds[0])
}

// TestDeployedBatchIsHostJSON keeps the benchmark's deployed batch size equal
// to the maxEventBatchSize drswatch ships in host.json.
func TestDeployedBatchIsHostJSON(t *testing.T) {
	b, err := os.ReadFile("host.json")
	require.NoError(t, err)
	var host struct {
		Extensions struct {
			EventHubs struct {
				MaxEventBatchSize int `json:"maxEventBatchSize"`
			} `json:"eventHubs"`
		} `json:"extensions"`
	}
	require.NoError(t, json.Unmarshal(b, &host))
	require.Equal(t, bench.DeployedBatch, host.Extensions.EventHubs.MaxEventBatchSize)
}

// TestDependenciesAreListed: the README's dependency table names exactly
// the modules go.mod requires directly, each with its reason.
func TestDependenciesAreListed(t *testing.T) {
	out, err := exec.Command("go", "mod", "edit", "-json").Output()
	require.NoError(t, err, "go mod edit -json")
	var mod struct {
		Require []struct {
			Path     string
			Indirect bool
		}
	}
	require.NoError(t, json.Unmarshal(out, &mod))
	var direct []string
	for _, r := range mod.Require {
		if !r.Indirect {
			direct = append(direct, r.Path)
		}
	}
	require.NotEmpty(t, direct)

	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(b), "\n## Dependencies\n")
	require.True(t, ok, "README has a Dependencies section")
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var listed []string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		require.NotEmpty(t, strings.TrimSpace(cells[2]), "README gives no reason for %s", name)
		listed = append(listed, name)
	}
	slices.Sort(direct)
	slices.Sort(listed)
	require.Equal(t, direct, listed, "README dependency table vs go.mod's direct requirements")
}
