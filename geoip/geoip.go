// Package geoip reads MaxMind DB (MMDB) files and answers, for a source
// address, what Elasticsearch's geoip ingest processor stores for it: with a
// city database source.geo.city_name, region_name and country_name; with an
// ASN database source.as.organization.name. drswatch fills its alert's
// SourceCities, SourceRegions, SourceCountries and SourceAsOrganizations
// with these, as Elastic's Entra ID sign-in pipeline does (the two geoip
// processors of its default.yml).
//
// What Elasticsearch does, and so what this package does (module
// ingest-geoip, MaxmindIpDataLookups.java and IpDataLookupFactories.java):
//   - The database type in the file's metadata picks the lookup by suffix:
//     "-City", "-Country" and "-Enterprise" give location data, "-ASN" and
//     "-ISP" autonomous-system data. Any other type is refused.
//   - Names are taken in English only (locales ["en"]): a record without an
//     English name gives no value.
//   - region_name is the name of the most specific subdivision, the last of
//     the record's subdivisions.
//   - country_name is the country (where the address is), not the
//     registered country.
//   - organization_name is autonomous_system_organization.
//   - An address the database does not hold gives nothing.
//
// The address is the record's source.address string, which the pipeline
// converts to source.ip first: a string that is not an IP address gives
// nothing.
package geoip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Kind is what a database is opened for.
type Kind int

// The kinds of database drswatch reads.
const (
	KindCity Kind = iota // location: city, region, country
	KindASN              // autonomous system organisation
)

func (k Kind) String() string {
	if k == KindASN {
		return "ASN"
	}
	return "city"
}

// suffixes are the database types Elasticsearch's geoip processor reads
// each kind from.
var suffixes = map[Kind][]string{
	KindCity: {"-City", "-Country", "-Enterprise"},
	KindASN:  {"-ASN", "-ISP"},
}

// ErrWrongType is wrapped by Open when the file holds another kind of
// database.
var ErrWrongType = errors.New("wrong database type")

// DB is an open MMDB file. It is safe for concurrent use.
type DB struct {
	r    *maxminddb.Reader
	kind Kind
	// errs counts lookups whose record did not decode; they give nothing.
	errs atomic.Int64
}

// Open opens path as a database of the given kind: it reads the metadata,
// checks the database type against what Elasticsearch reads that kind from,
// and verifies the whole file (search tree and data section), so a damaged
// file fails here rather than in the middle of a batch.
func Open(path string, kind Kind) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s database %s: %w", kind, path, err)
	}
	typ := r.Metadata.DatabaseType
	ok := false
	for _, s := range suffixes[kind] {
		if strings.HasSuffix(typ, s) {
			ok = true
		}
	}
	if !ok {
		r.Close()
		return nil, fmt.Errorf("open %s database %s: %w: %q (want a type ending in %s)",
			kind, path, ErrWrongType, typ, strings.Join(suffixes[kind], ", "))
	}
	if err := r.Verify(); err != nil {
		r.Close()
		return nil, fmt.Errorf("open %s database %s: %w", kind, path, err)
	}
	return &DB{r: r, kind: kind}, nil
}

// Close releases the file.
func (db *DB) Close() error { return db.r.Close() }

// Type is the database type from the file's metadata, e.g. GeoLite2-City.
func (db *DB) Type() string { return db.r.Metadata.DatabaseType }

// DecodeErrors counts lookups whose record did not decode.
func (db *DB) DecodeErrors() int64 { return db.errs.Load() }

type names struct {
	En string `maxminddb:"en"`
}

type named struct {
	Names names `maxminddb:"names"`
}

type cityRecord struct {
	City         named   `maxminddb:"city"`
	Country      named   `maxminddb:"country"`
	Subdivisions []named `maxminddb:"subdivisions"`
}

type asnRecord struct {
	Organization string `maxminddb:"autonomous_system_organization"`
}

// lookup decodes the record of addr into v and reports whether there was
// one.
func (db *DB) lookup(addr string, v any) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false // not an IP: the pipeline sets no source.ip
	}
	res := db.r.Lookup(ip.WithZone("").Unmap())
	if !res.Found() {
		return false
	}
	if err := res.Decode(v); err != nil {
		db.errs.Add(1)
		return false
	}
	return true
}

// City returns source.geo.city_name, region_name and country_name for addr
// ("" for each the database lacks). It is meant for a KindCity database.
func (db *DB) City(addr string) (city, region, country string) {
	var rec cityRecord
	if db.kind != KindCity || !db.lookup(addr, &rec) {
		return "", "", ""
	}
	if n := len(rec.Subdivisions); n > 0 {
		region = rec.Subdivisions[n-1].Names.En
	}
	return rec.City.Names.En, region, rec.Country.Names.En
}

// ASOrganization returns source.as.organization.name for addr, "" when the
// database lacks it. It is meant for a KindASN database.
func (db *DB) ASOrganization(addr string) string {
	var rec asnRecord
	if db.kind != KindASN || !db.lookup(addr, &rec) {
		return ""
	}
	return rec.Organization
}
