package detect

import (
	"fmt"
	"testing"

	"github.com/drswatch/drswatch/geoip"
	"github.com/drswatch/drswatch/internal/sharedtest"
)

// benchRecords returns n records of one group: a few addresses and tokens,
// as a phishing session looks.
func benchRecords(b *testing.B, n int) []Record {
	b.Helper()
	recs := make([]Record, n)
	for i := range recs {
		rec := with(baseRecord(), "properties.id", fmt.Sprintf("bench-%04d", i))
		rec = with(rec, "time", fmt.Sprintf("2026-03-02T10:%02d:%02d.000Z", i/60%30, i%60))
		rec = with(rec, "properties.ipAddress", fmt.Sprintf("203.0.113.%d", i%4))
		rec = with(rec, "properties.uniqueTokenIdentifier", fmt.Sprintf("tok-%04d", i))
		recs[i] = decode(b, rec)
	}
	return recs
}

// BenchmarkGroupMerge merges 40 new records into a fresh group.
func BenchmarkGroupMerge(b *testing.B) {
	recs := benchRecords(b, 40)
	k, _ := DefaultRule().Select(recs[0])
	b.ReportAllocs()
	for b.Loop() {
		g := NewGroup(k)
		for _, r := range recs {
			g.Merge(r, nil)
		}
	}
}

// BenchmarkGroupCycle is what a batch does to a touched group: load its
// state (20 records), merge two new records, evaluate, save.
func BenchmarkGroupCycle(b *testing.B) {
	recs := benchRecords(b, 22)
	r := DefaultRule()
	k, _ := r.Select(recs[0])
	g := NewGroup(k)
	for _, rec := range recs[:20] {
		g.Merge(rec, nil)
	}
	r.Evaluate(g, now)
	state, err := g.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var g Group
		if err := g.UnmarshalBinary(state); err != nil {
			b.Fatal(err)
		}
		g.Merge(recs[20], nil)
		g.Merge(recs[21], nil)
		if _, ok := r.Evaluate(&g, now); !ok {
			b.Fatal("no alert")
		}
		if _, err := g.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGroupMergeGeoIP is BenchmarkGroupMerge with both test databases
// of ../shared/testdata/elastic-geoip looked up (one lookup per new
// address).
func BenchmarkGroupMergeGeoIP(b *testing.B) {
	dbs := sharedtest.GeoIP(b)
	city, err := geoip.Open(dbs.City, geoip.KindCity)
	if err != nil {
		b.Fatal(err)
	}
	defer city.Close()
	asn, err := geoip.Open(dbs.ASN, geoip.KindASN)
	if err != nil {
		b.Fatal(err)
	}
	defer asn.Close()
	geo := &Geo{City: city.City, ASOrganization: asn.ASOrganization}
	recs := benchRecords(b, 40)
	k, _ := DefaultRule().Select(recs[0])
	b.ReportAllocs()
	for b.Loop() {
		g := NewGroup(k)
		for _, r := range recs {
			g.Merge(r, geo)
		}
	}
}
