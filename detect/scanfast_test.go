package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// scanAll runs a scanner and returns the records it passed that decode
// (the others are skipped whoever passes them) and its counts.
func scanAll(scan func([]byte, Prefilter, func([]byte)) (int, int), body []byte, p Prefilter) (string, int, int) {
	var got [][]byte
	n, rej := scan(body, p, func(raw []byte) {
		if _, skip := DecodeRecord(raw); skip == SkipNone {
			got = append(got, raw)
		}
	})
	return string(bytes.Join(got, []byte("\n"))), n, rej
}

func scanBodySlow(body []byte, p Prefilter, fn func([]byte)) (int, int) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return 0, 0
	}
	return scanSlow(body, p, fn)
}

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

// TestScanFastEqualsSlow: on any body the fast scanner passes the same
// decodable records as the byte-wise one, and on valid bodies the same
// counts. (On an invalid body the byte-wise scanner may pass the whole body,
// which decodes to not_json, where the fast one passes nothing.)
func TestScanFastEqualsSlow(t *testing.T) {
	p := DefaultRule().Prefilter()
	for i, body := range scanSeeds() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkScan(t, body, p) })
	}
}

func checkScan(t *testing.T, body []byte, p Prefilter) {
	t.Helper()
	fast, fn, fr := scanAll(ScanBody, body, p)
	slow, sn, sr := scanAll(scanBodySlow, body, p)
	if fast != slow {
		t.Fatalf("ScanBody(%q) passed\n%s\nscanSlow passed\n%s", body, fast, slow)
	}
	if json.Valid(body) && (fn != sn || fr != sr) {
		t.Fatalf("ScanBody(%q) = %d, %d, want %d, %d", body, fn, fr, sn, sr)
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
