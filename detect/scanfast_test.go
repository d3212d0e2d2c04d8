package detect

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
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
		// The device filter's records: audit records of device operations
		// and sign-ins naming a watched device, in any case and alignment.
		[]byte(`{"records":[{"category":"AuditLogs","operationName":"Register device"},{"a":1},{"category":"AuditLogs","operationName":"Update user"}]}`),
		[]byte(`{"records":[{"x":"AuditLogs","operationName":"Add device"},{"category":"AuditLogs","properties":{"activityDisplayName":"Update device","initiatedBy":{"app":{"displayName":"Device Registration Service"}}}}]}`),
		[]byte(`{"records":[{"properties":{"deviceDetail":{"deviceId":"` + roadtxDevice + `"}}},{"properties":{"deviceDetail":{"deviceId":"` + managedDevice + `"}}}]}`),
		[]byte(`{"records":[{"p":{"deviceId" : "` + strings.ToUpper(roadtxDevice) + `"}},{"q":"x` + roadtxDevice + `"},{"deviceId":"` + roadtxDevice[:20] + `"}]}`),
		[]byte(`{"records":[{"a":"` + mab + `","b":"` + drs + `","deviceId":"` + roadtxDevice + `"}]}`),
		[]byte(`[{"category":"AuditLogs","operationName":"Register device"}]`),
	}
}

// watchedFilter is the device filter the scan tests hold ScanBodyWith to.
var watchedFilter = NewDeviceFilter([]string{roadtxDevice, "11111111-2222-4333-8444-555555555555"})

type devCall struct {
	raw string
	k   DeviceKind
}

// checkScanWith: ScanBodyWith calls dev and fn with what the filter's
// ScanBody and ScanBody call them with, in that order, and returns their
// counts; and every record the filter classifies as needed is passed.
func checkScanWith(t *testing.T, body []byte, p Prefilter, f DeviceFilter) {
	t.Helper()
	var wantDev, gotDev []devCall
	var wantFn, gotFn []string
	wd := f.ScanBody(body, func(raw []byte, k DeviceKind) { wantDev = append(wantDev, devCall{string(raw), k}) })
	wn, wr := ScanBody(body, p, func(raw []byte) { wantFn = append(wantFn, string(raw)) })
	order := ""
	gn, gr, gd := f.ScanBodyWith(body, p,
		func(raw []byte) { gotFn = append(gotFn, string(raw)); order += "f" },
		func(raw []byte, k DeviceKind) { gotDev = append(gotDev, devCall{string(raw), k}); order += "d" })
	if gn != wn || gr != wr || gd != wd || !slices.Equal(gotFn, wantFn) || !slices.Equal(gotDev, wantDev) {
		t.Fatalf("ScanBodyWith(%q) = %d, %d, %d, fn %q, dev %v\nthe two scans: %d, %d, %d, fn %q, dev %v", body, gn, gr, gd, gotFn, gotDev, wn, wr, wd, wantFn, wantDev)
	}
	if strings.Contains(order, "df") && strings.Contains(order, "fd") {
		t.Fatalf("ScanBodyWith(%q) interleaves dev and fn: %s", body, order)
	}
	for _, w := range splitBodyRef(body) {
		if k := f.Classify(w); k != DeviceNone && !slices.Contains(gotDev, devCall{string(w), k}) {
			t.Fatalf("ScanBodyWith(%q) left out %q, classified %v", body, w, k)
		}
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
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkScan(t, body, p)
			checkScanWith(t, body, p, watchedFilter)
			checkScanWith(t, body, Prefilter{}, watchedFilter)
			checkScanWith(t, body, p, DeviceFilter{})
		})
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
		checkScanWith(t, body, p, watchedFilter)
		checkScanWith(t, body, Prefilter{}, watchedFilter)
		checkScanWith(t, body, p, DeviceFilter{})
	})
}

func TestIDTableFindsEveryAlignment(t *testing.T) {
	p := DefaultRule().Prefilter()
	for pad := range 16 {
		body := slices.Concat(bytes.Repeat([]byte("x"), pad), p.resource, []byte("--"), p.app)
		var app, res occurrences
		p.ids.find(body, &app, &res, nil, nil)
		if res.n != 1 || res.pos[0] != pad || app.n != 1 || app.pos[0] != pad+len(p.resource)+2 {
			t.Fatalf("pad %d: app %v, res %v", pad, app.pos[:app.n], res.pos[:res.n])
		}
	}
}

// TestGUIDTableFindsEveryAlignment: a watched deviceId is found at every
// offset, in any case, between quotes, and one that is not between quotes
// or differs in a byte is not.
func TestGUIDTableFindsEveryAlignment(t *testing.T) {
	g := watchedFilter.guids
	for pad := range 40 {
		for _, id := range []string{roadtxDevice, strings.ToUpper(roadtxDevice)} {
			body := []byte(strings.Repeat("x", pad) + `"` + id + `","` + managedDevice + `"` + strings.Repeat("y", pad%3))
			var got spots
			g.find(body, &got)
			if len(got.pos) != 1 || got.pos[0] != pad+1 {
				t.Fatalf("pad %d, %s: found at %v, want [%d]", pad, id, got.pos, pad+1)
			}
			var ab, res occurrences
			var fused spots
			DefaultRule().Prefilter().ids.find(body, &ab, &res, g, &fused)
			if !slices.Equal(fused.pos, got.pos) {
				t.Fatalf("pad %d: idTable.find found %v, guidTable.find %v", pad, fused.pos, got.pos)
			}
		}
		for _, body := range []string{
			strings.Repeat("x", pad) + roadtxDevice + `"`,
			strings.Repeat("x", pad) + `"` + roadtxDevice[:35] + `f"`,
		} {
			var got spots
			g.find([]byte(body), &got)
			if len(got.pos) != 0 {
				t.Fatalf("pad %d: found %v in %q", pad, got.pos, body)
			}
		}
	}
}

// TestHasUnicodeEscape: a 'u' is escaped by the last of an odd run of
// backslashes only, as scanArray reads strings; Classify and the prefilter
// agree with the single-pass scans on it (the FuzzScanBody seed
// a238362b0fe36862: an escaped backslash before a 'u' was taken as \u by
// Classify and not by the scan).
func TestHasUnicodeEscape(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		want bool
	}{
		{"none", `{"a":"u"}`, false},
		{"escape", `{"a":"\u0030"}`, true},
		{"escaped backslash", `{"a":"\\u"}`, false},
		{"escaped backslash then escape", `{"a":"\\\u0030"}`, true},
		{"two escaped backslashes", `{"a":"\\\\u"}`, false},
		{"second occurrence", `{"a":"\\u","b":"\u0030"}`, true},
		{"at the start", `\u0030`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasUnicodeEscape([]byte(tc.raw)); got != tc.want {
				t.Fatalf("hasUnicodeEscape(%q) = %v, want %v", tc.raw, got, tc.want)
			}
			var escU bool
			if _, _, ok := scanArray([]byte("["+tc.raw+"]"), 0, func(_, _ int, u bool) { escU = u }); ok && escU != tc.want {
				t.Fatalf("scanArray reads %q with escU %v, hasUnicodeEscape %v", tc.raw, escU, tc.want)
			}
		})
	}
}
