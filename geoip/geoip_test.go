package geoip_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/geoip"
	"github.com/drswatch/drswatch/internal/sharedtest"
)

func TestLookups(t *testing.T) {
	dbs := sharedtest.GeoIP(t)
	city, err := geoip.Open(dbs.City, geoip.KindCity)
	require.NoError(t, err)
	t.Cleanup(func() { city.Close() })
	country, err := geoip.Open(dbs.Country, geoip.KindCity)
	require.NoError(t, err)
	t.Cleanup(func() { country.Close() })
	asn, err := geoip.Open(dbs.ASN, geoip.KindASN)
	require.NoError(t, err)
	t.Cleanup(func() { asn.Close() })
	require.Equal(t, "GeoLite2-City", city.Type())

	// Values as Elastic's fixtures show them (81.2.69.x, 1.128.3.4) and as
	// the test databases hold them; the region is the most specific
	// subdivision (2.125.160.216 has England, then West Berkshire).
	tests := []struct {
		name, addr                 string
		city, region, country, org string
		countryOnly                string // what a Country database gives
	}{
		{name: "London", addr: "81.2.69.142", city: "London", region: "England", country: "United Kingdom", countryOnly: "United Kingdom"},
		{name: "most specific subdivision", addr: "2.125.160.216", city: "Boxford", region: "West Berkshire", country: "United Kingdom", countryOnly: "United Kingdom"},
		{name: "ASN only", addr: "1.128.3.4", org: "Telstra Pty Ltd"},
		{name: "documentation range v4", addr: "198.51.100.7", city: "Amsterdam", region: "North Holland", country: "Netherlands", org: "Documentation ASN", countryOnly: "Netherlands"},
		{name: "documentation range v6", addr: "2001:db8::1", city: "Greenwich", region: "England", country: "United Kingdom", org: "Documentation ASN", countryOnly: "United Kingdom"},
		{name: "IPv4-mapped IPv6", addr: "::ffff:81.2.69.142", city: "London", region: "England", country: "United Kingdom", countryOnly: "United Kingdom"},
		{name: "Sweden", addr: "89.160.20.112", city: "Linköping", region: "Östergötland County", country: "Sweden", org: "Bredband2 AB", countryOnly: "Sweden"},
		{name: "private address", addr: "10.0.0.1"},
		{name: "unspecified", addr: "0.0.0.0"},
		{name: "not an address", addr: "not-an-ip"},
		{name: "empty", addr: ""},
		{name: "leading zeros are not an address", addr: "081.002.069.142"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, r, co := city.City(tc.addr)
			require.Equal(t, [3]string{tc.city, tc.region, tc.country}, [3]string{c, r, co}, "City(%q)", tc.addr)
			require.Equal(t, tc.org, asn.ASOrganization(tc.addr), "ASOrganization(%q)", tc.addr)
			c, r, co = country.City(tc.addr)
			require.Equal(t, [3]string{"", "", tc.countryOnly}, [3]string{c, r, co}, "Country database City(%q)", tc.addr)
		})
	}
	require.Zero(t, city.DecodeErrors()+asn.DecodeErrors()+country.DecodeErrors())
	// A database answers only for its kind.
	require.Empty(t, city.ASOrganization("1.128.3.4"))
	c, _, _ := asn.City("81.2.69.142")
	require.Empty(t, c)
}

func TestOpenRefuses(t *testing.T) {
	dbs := sharedtest.GeoIP(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	require.NoError(t, os.WriteFile(garbage, []byte("this is not a MaxMind DB file"), 0o600))
	data, err := os.ReadFile(dbs.City)
	require.NoError(t, err)
	// Damage the search tree, keep the metadata: only verification sees it.
	damaged := filepath.Join(dir, "damaged.mmdb")
	bad := append([]byte(nil), data...)
	for i := 0; i < 4096 && i < len(bad); i++ {
		bad[i] = 0xff
	}
	require.NoError(t, os.WriteFile(damaged, bad, 0o600))
	truncated := filepath.Join(dir, "truncated.mmdb")
	require.NoError(t, os.WriteFile(truncated, data[:len(data)/2], 0o600))

	tests := []struct {
		name      string
		path      string
		kind      geoip.Kind
		wrongType bool
	}{
		{name: "missing", path: filepath.Join(dir, "absent.mmdb"), kind: geoip.KindCity},
		{name: "not an MMDB", path: garbage, kind: geoip.KindCity},
		{name: "truncated", path: truncated, kind: geoip.KindCity},
		{name: "damaged search tree", path: damaged, kind: geoip.KindCity},
		{name: "ASN database as city", path: dbs.ASN, kind: geoip.KindCity, wrongType: true},
		{name: "city database as ASN", path: dbs.City, kind: geoip.KindASN, wrongType: true},
		{name: "directory", path: dir, kind: geoip.KindASN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := geoip.Open(tc.path, tc.kind)
			require.Error(t, err)
			require.Nil(t, db)
			require.Contains(t, err.Error(), tc.path)
			require.Equal(t, tc.wrongType, errors.Is(err, geoip.ErrWrongType), "error %v", err)
		})
	}
}
