// Package sharedtest locates, for tests, the reference data in
// ../shared/testdata beside the repository: Elastic's sign-in and audit log
// fixtures and the GeoIP test databases its pipeline tests ran with. Tests
// read them from there; they are never copied into the repository. Under
// CI=true a missing folder fails the test; elsewhere the test is skipped
// with a message.
package sharedtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Databases holds the paths of the three test databases.
type Databases struct {
	City, ASN, Country string
}

// Dir returns ../shared/testdata/<name> beside the repository root (the
// directory holding go.mod), failing under CI=true and skipping elsewhere
// when it is missing.
func Dir(tb testing.TB, name string) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			root = ""
			break
		}
		root = parent
	}
	if root != "" {
		dir := filepath.Join(root, "..", "shared", "testdata", name)
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
	}
	msg := fmt.Sprintf("../shared/testdata/%s not found beside the repository root (searched up from %s)", name, wd)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + "; CI=true requires it")
	}
	tb.Skip(msg + "; set up ../shared to run this test")
	return ""
}

// GeoIP returns the GeoIP test databases, failing or skipping as Dir does.
func GeoIP(tb testing.TB) Databases {
	tb.Helper()
	dir := Dir(tb, "elastic-geoip")
	d := Databases{
		City:    filepath.Join(dir, "GeoLite2-City.mmdb"),
		ASN:     filepath.Join(dir, "GeoLite2-ASN.mmdb"),
		Country: filepath.Join(dir, "GeoLite2-Country.mmdb"),
	}
	for _, p := range []string{d.City, d.ASN, d.Country} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				tb.Fatalf("%v; CI=true requires it", err)
			}
			tb.Skipf("%v; set up ../shared to run this test", err)
		}
	}
	return d
}
