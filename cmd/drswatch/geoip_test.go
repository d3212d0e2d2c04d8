package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/gen"
	"github.com/drswatch/drswatch/internal/config"
	"github.com/drswatch/drswatch/internal/sharedtest"
)

// elasticGeo is what Elastic's pipeline, run with the test databases of
// ../shared/testdata/elastic-geoip, stores in source.geo.city_name,
// region_name, country_name and source.as.organization.name for the
// address ranges generated traffic uses (the dummy entries for the
// documentation ranges, see that folder's README).
var elasticGeo = []struct {
	prefix                     netip.Prefix
	city, region, country, org string
}{
	{netip.MustParsePrefix("192.0.2.0/24"), "Las Vegas", "Nevada", "United States", "Documentation ASN"},
	{netip.MustParsePrefix("198.51.100.0/24"), "Amsterdam", "North Holland", "Netherlands", "Documentation ASN"},
	{netip.MustParsePrefix("203.0.113.0/24"), "Madrid", "Madrid", "Spain", "Documentation ASN"},
	{netip.MustParsePrefix("2001:db8::/32"), "Greenwich", "England", "United Kingdom", "Documentation ASN"},
}

// TestGenReplayGeoIP replays generated traffic with both GeoIP settings
// pointing at the test databases and checks every alert's location and AS
// columns against what Elastic would store for its source addresses, and
// that Entra's own location stays in the Entra columns.
func TestGenReplayGeoIP(t *testing.T) {
	dbs := sharedtest.GeoIP(t)
	var traffic, stderr bytes.Buffer
	genTraffic(t, &traffic)
	env := func(k string) string {
		switch k {
		case config.EnvGeoIPCityDB:
			return dbs.City
		case config.EnvGeoIPASNDB:
			return dbs.ASN
		}
		return ""
	}
	var alerts bytes.Buffer
	stderr.Reset()
	require.NoError(t, run(context.Background(), []string{"replay", "-quiet", "-"}, env, &traffic, &alerts, &stderr), stderr.String())

	n := 0
	sc := bufio.NewScanner(&alerts)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a struct {
			AlertID                                               string   `json:"AlertId"`
			SourceAddresses                                       []string `json:"SourceAddresses"`
			SourceCities, SourceRegions, SourceCountries, SrcOrgs []string
			GeoSource                                             string
			EntraCities, EntraCountries                           []string
			TruncatedColumns                                      []string
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &a))
		var orgs struct {
			SourceAsOrganizations []string
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &orgs))
		n++
		want := map[string]map[string]bool{"city": {}, "region": {}, "country": {}, "org": {}}
		for _, s := range a.SourceAddresses {
			addr := netip.MustParseAddr(s)
			found := false
			for _, e := range elasticGeo {
				if e.prefix.Contains(addr) {
					want["city"][e.city], want["region"][e.region], want["country"][e.country], want["org"][e.org] = true, true, true, true
					found = true
				}
			}
			require.True(t, found, "alert %s: address %s outside the ranges the test databases cover", a.AlertID, s)
		}
		keys := func(m map[string]bool) []string {
			out := make([]string, 0, len(m))
			for k := range m {
				out = append(out, k)
			}
			slices.Sort(out)
			return out
		}
		require.Equal(t, "geoip", a.GeoSource, "alert %s", a.AlertID)
		require.Empty(t, a.TruncatedColumns, "alert %s", a.AlertID)
		require.Equal(t, keys(want["city"]), a.SourceCities, "alert %s SourceCities", a.AlertID)
		require.Equal(t, keys(want["region"]), a.SourceRegions, "alert %s SourceRegions", a.AlertID)
		require.Equal(t, keys(want["country"]), a.SourceCountries, "alert %s SourceCountries", a.AlertID)
		require.Equal(t, keys(want["org"]), orgs.SourceAsOrganizations, "alert %s SourceAsOrganizations", a.AlertID)
		require.NotEmpty(t, a.EntraCities, "alert %s: Entra's own location", a.AlertID)
		require.NotEmpty(t, a.EntraCountries, "alert %s: Entra's own location", a.AlertID)
	}
	require.NoError(t, sc.Err())
	require.GreaterOrEqual(t, n, 12, "alerts")

	// The same traffic without the settings: Entra's location, flagged so.
	var again bytes.Buffer
	genTraffic(t, &again)
	alerts.Reset()
	require.NoError(t, run(context.Background(), []string{"replay", "-quiet", "-"}, noEnv, &again, &alerts, &stderr), stderr.String())
	sc = bufio.NewScanner(&alerts)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a struct {
			GeoSource                 string
			SourceCities, EntraCities []string
			SourceAsOrganizations     []string
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &a))
		require.Equal(t, "entra", a.GeoSource)
		require.Equal(t, a.EntraCities, a.SourceCities)
		require.Empty(t, a.SourceAsOrganizations)
	}
}

// genTraffic writes what `drswatch-dev gen -seed 11 -bodies 200
// -match-share 0.01 -attacks 12` writes.
func genTraffic(t *testing.T, w io.Writer) {
	t.Helper()
	_, err := gen.New(gen.Config{Seed: 11, Bodies: 200, MatchShare: 0.01, Attacks: 12}).WriteNDJSON(w)
	require.NoError(t, err)
}

func noEnv(string) string { return "" }

// TestGeoIPSettingsStopAtStart: a database that is missing, unreadable or
// of the wrong type stops replay and serve before any input is read, with a
// message naming the setting.
func TestGeoIPSettingsStopAtStart(t *testing.T) {
	dbs := sharedtest.GeoIP(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	require.NoError(t, os.WriteFile(garbage, []byte("not an mmdb"), 0o600))
	tests := []struct {
		name, setting, path, want string
	}{
		{"city missing", config.EnvGeoIPCityDB, filepath.Join(dir, "absent.mmdb"), "no such file"},
		{"city unreadable", config.EnvGeoIPCityDB, garbage, garbage},
		{"city of the wrong type", config.EnvGeoIPCityDB, dbs.ASN, "wrong database type"},
		{"ASN missing", config.EnvGeoIPASNDB, filepath.Join(dir, "absent.mmdb"), "no such file"},
		{"ASN of the wrong type", config.EnvGeoIPASNDB, dbs.City, "wrong database type"},
	}
	for _, tc := range tests {
		for _, cmd := range []string{"replay", "serve"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				env := func(k string) string {
					switch k {
					case tc.setting:
						return tc.path
					case config.EnvState:
						return "memory"
					}
					return ""
				}
				args := []string{cmd}
				if cmd == "replay" {
					args = append(args, "-")
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var out, stderr bytes.Buffer
				in := &failReader{t: t}
				err := run(ctx, args, env, in, &out, &stderr)
				require.Error(t, err)
				require.NotErrorIs(t, err, errUsage, "stderr: %s", stderr.String())
				require.Contains(t, err.Error(), tc.setting)
				require.Contains(t, err.Error(), tc.want)
				require.Empty(t, out.String(), "nothing served or printed")
				require.False(t, strings.Contains(stderr.String(), "drswatch serving"))
			})
		}
	}
}

// failReader fails the test if replay reads its input.
type failReader struct{ t *testing.T }

func (r *failReader) Read([]byte) (int, error) {
	r.t.Error("input read before the GeoIP databases were checked")
	return 0, os.ErrClosed
}
