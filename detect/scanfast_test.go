package detect

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

func scanSeeds() [][]byte {
	mab, drs := DefaultRule().AppID, DefaultRule().ResourceID
	rec := func(app, res, extra string) string {
		return fmt.Sprintf(`{"category":"SignInLogs","time":"2026-11-03T09:00:00Z","properties":{"appId":%q,"resourceId":%q,"x":"a{b}[c]\"}{\\"%s}}`, app, res, extra)
	}
	return [][]byte{
		[]byte(`{"records":[]}`),
		[]byte(`{"records":[` + rec(mab, drs, "") + `]}`),
		[]byte(`{"records":[` + rec(mab, "x", "") + `,` + rec("y", drs, "") + `]}`),
		[]byte(` { "records" : [ ` + rec(mab, drs, `,"y":[{"z":1},[2]]`) + ` , {"a":"\u0030"} ] } `),
		[]byte(`{"records":[{"a":1},2]}`),
		[]byte(`{"records":[{"a":"` + mab + `","b":"` + drs + `"},{"c":"}"}]}`),
		[]byte(`{"records":[{"a":"` + mab[:20] + `"},{"b":"` + mab[20:] + drs + `"}]}`),
		[]byte(`{"records":[{"a":"\\"},{"b":"\"{"}],"x":1}`),
		[]byte(`{"records":[{"a":"` + mab + drs + `"}]`),
		[]byte(`{"category":"SignInLogs"}`),
	}
}

// TestScanBodyEqualsReference: without a prefilter ScanBody passes exactly
// the records the reference finds (encoding/json on a valid body, the naive
// scanner on an invalid one); with the rule's, the records it passes are
// among those, every one the rule selects among them, and the counts add up.
// (The assertion the fast and the byte-wise scanner were held to, the same
// decodable records, follows.)
func TestScanBodyEqualsReference(t *testing.T) {
	p := DefaultRule().Prefilter()
	for i, body := range scanSeeds() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkScan(t, body, p) })
	}
}

func checkScan(t *testing.T, body []byte, p Prefilter) {
	t.Helper()
	want := splitBodyRef(body)
	var got [][]byte
	n, rej := ScanBody(body, Prefilter{}, func(raw []byte) { got = append(got, raw) })
	if n != len(want) || rej != 0 || describe(got) != describe(want) {
		t.Fatalf("ScanBody(%q) = %d, %d: %s\nreference %s", body, n, rej, describe(got), describe(want))
	}
	var passed [][]byte
	n, rej = ScanBody(body, p, func(raw []byte) { passed = append(passed, raw) })
	if n != len(want) || rej != n-len(passed) {
		t.Fatalf("ScanBody(%q) with the prefilter = %d, %d, passing %d; want %d records", body, n, rej, len(passed), len(want))
	}
	k := 0
	for _, w := range want {
		if k < len(passed) && bytes.Equal(passed[k], w) {
			k++
			continue
		}
		if rec, skip := decodeRecordRef(w); skip == SkipNone {
			if _, skip := DefaultRule().Select(rec); skip == SkipNone {
				t.Fatalf("ScanBody(%q): the prefilter rejected %q, which the rule selects", body, w)
			}
		}
	}
	if k != len(passed) {
		t.Fatalf("ScanBody(%q) passed %s, not among %s", body, describe(passed), describe(want))
	}
}

func FuzzScanBody(f *testing.F) {
	for _, b := range scanSeeds() {
		f.Add(b)
	}
	p := DefaultRule().Prefilter()
	f.Fuzz(func(t *testing.T, body []byte) {
		checkScan(t, body, p)
	})
}

func TestIDTableFindsEveryAlignment(t *testing.T) {
	p := DefaultRule().Prefilter()
	for pad := range 16 {
		body := slices.Concat(bytes.Repeat([]byte("x"), pad), p.resource, []byte("--"), p.app)
		var app, res occurrences
		p.ids.find(body, &app, &res)
		if res.n != 1 || res.pos[0] != pad || app.n != 1 || app.pos[0] != pad+len(p.resource)+2 {
			t.Fatalf("pad %d: app %v, res %v", pad, app.pos[:app.n], res.pos[:res.n])
		}
	}
}
