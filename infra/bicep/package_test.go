package bicep_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPackageGeoIP runs the Makefile's package target in a scratch copy of
// the files it packages, with a stand-in for the go command (the build is
// not what is tested), and checks what it does with GEOIP_CITY_DB and
// GEOIP_ASN_DB: copies the databases into dist/app/geoip/, prints the Bicep
// parameters to deploy with, and refuses a missing file, a file that is not
// an MMDB, or two databases with one file name.
func TestPackageGeoIP(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but make is missing")
		}
		t.Skip("make missing; not skipped under CI=true")
	}
	// An MMDB file ends with its metadata, introduced by this marker
	// (MaxMind DB File Format Specification, "Database Metadata").
	mmdb := func(t *testing.T, dir, name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("\x00data section\xab\xcd\xefMaxMind.com\x00metadata"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		for _, f := range []string{"Makefile", "host.json", "SignInLogs/function.json", "Sweep/function.json"} {
			if err := copyFile(filepath.Join(root, f), filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
		// Stand-in for go: `build ... -o OUT ...` writes OUT, `run ... ZIP` writes ZIP.
		fake := "#!/bin/sh\ncase \"$1\" in\nbuild) while [ $# -gt 0 ]; do [ \"$1\" = -o ] && { : > \"$2\"; exit 0; }; shift; done; exit 1;;\nrun) for a; do last=$a; done; : > \"$last\";;\nesac\n"
		if err := os.WriteFile(filepath.Join(dir, "fakego"), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	run := func(t *testing.T, dir string, vars ...string) (string, error) {
		args := append([]string{"--no-print-directory", "-C", dir, "package", "GO=" + filepath.Join(dir, "fakego")}, vars...)
		out, err := exec.Command(mk, args...).CombinedOutput()
		return string(out), err
	}

	t.Run("both databases", func(t *testing.T) {
		dir := setup(t)
		src := t.TempDir()
		city, asn := mmdb(t, src, "GeoLite2-City.mmdb"), mmdb(t, src, "dbip-asn-lite.mmdb")
		out, err := run(t, dir, "GEOIP_CITY_DB="+city, "GEOIP_ASN_DB="+asn)
		if err != nil {
			t.Fatalf("make package: %v\n%s", err, out)
		}
		for _, f := range []string{"GeoLite2-City.mmdb", "dbip-asn-lite.mmdb"} {
			if _, err := os.Stat(filepath.Join(dir, "dist", "app", "geoip", f)); err != nil {
				t.Errorf("dist/app/geoip/%s: %v", f, err)
			}
		}
		for _, s := range []string{"geoipCityDb=geoip/GeoLite2-City.mmdb", "geoipAsnDb=geoip/dbip-asn-lite.mmdb"} {
			if !strings.Contains(out, s) {
				t.Errorf("output does not say %q:\n%s", s, out)
			}
		}
		// The parameters it names exist and feed the settings internal/config reads.
		main := read(t, "infra/bicep/main.bicep")
		common := appSettings(t)
		for param, setting := range map[string]string{"geoipCityDb": "DRSWATCH_GEOIP_CITY_DB", "geoipAsnDb": "DRSWATCH_GEOIP_ASN_DB"} {
			if !regexp.MustCompile(`(?m)^param ` + param + ` string = ''$`).MatchString(main) {
				t.Errorf("main.bicep: want `param %s string = ''` (empty: no database)", param)
			}
			if common[setting] != param {
				t.Errorf("app setting %s = %q; want %s", setting, common[setting], param)
			}
		}
	})

	t.Run("none", func(t *testing.T) {
		dir := setup(t)
		if out, err := run(t, dir); err != nil {
			t.Fatalf("make package: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "dist", "app", "geoip")); !os.IsNotExist(err) {
			t.Errorf("dist/app/geoip exists without GEOIP_*_DB (%v)", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "dist", "drswatch.zip")); err != nil {
			t.Errorf("no dist/drswatch.zip: %v", err)
		}
	})

	refused := []struct {
		name, want string
		vars       func(t *testing.T, src string) []string
	}{
		{"missing file", "no such file", func(t *testing.T, src string) []string {
			return []string{"GEOIP_CITY_DB=" + filepath.Join(src, "absent.mmdb")}
		}},
		{"not an MMDB", "is not a MaxMind DB", func(t *testing.T, src string) []string {
			p := filepath.Join(src, "city.csv")
			if err := os.WriteFile(p, []byte("network,geoname_id\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"GEOIP_ASN_DB=" + p}
		}},
		{"one file name for both", "same file name", func(t *testing.T, src string) []string {
			a := mmdb(t, src, "geo.mmdb")
			other := filepath.Join(src, "other")
			if err := os.MkdirAll(other, 0o755); err != nil {
				t.Fatal(err)
			}
			return []string{"GEOIP_CITY_DB=" + a, "GEOIP_ASN_DB=" + mmdb(t, other, "geo.mmdb")}
		}},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			dir := setup(t)
			out, err := run(t, dir, r.vars(t, t.TempDir())...)
			if err == nil {
				t.Fatalf("make package succeeded:\n%s", out)
			}
			if !strings.Contains(out, r.want) {
				t.Errorf("output does not say %q:\n%s", r.want, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "dist")); !os.IsNotExist(err) {
				t.Errorf("dist was touched before the databases were checked (%v)", err)
			}
		})
	}
}
