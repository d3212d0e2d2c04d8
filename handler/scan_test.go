package handler

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// eventsByJSON is the reference: the envelope decoded with encoding/json,
// string layers peeled, each string element unquoted.
func eventsByJSON(body []byte) ([][]byte, bool) {
	var inv struct {
		Data map[string]json.RawMessage `json:"Data"`
	}
	if json.Unmarshal(body, &inv) != nil {
		return nil, false
	}
	raw, ok := inv.Data["events"]
	if !ok {
		return nil, false
	}
	return bindingByJSON(raw)
}

// bindingByJSON is the reference for the events binding raw (as it stands
// in the envelope): string layers peeled with encoding/json, each string
// element unquoted.
func bindingByJSON(raw []byte) ([][]byte, bool) {
	raw = bytes.TrimSpace(raw)
	for i := 0; len(raw) > 0 && raw[0] == '"'; i++ {
		if i == 4 {
			return nil, false
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		raw = bytes.TrimSpace([]byte(s))
	}
	if len(raw) > 0 && raw[0] == '{' {
		return [][]byte{raw}, true
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return nil, false
	}
	var out [][]byte
	for _, e := range elems {
		if len(e) > 0 && e[0] == '"' {
			var s string
			if json.Unmarshal(e, &s) != nil {
				return nil, false
			}
			out = append(out, []byte(s))
			continue
		}
		out = append(out, e)
	}
	return out, true
}

func eventsByScan(body []byte) ([][]byte, bool) {
	var bufs buffers
	inv, err := parseInvocation(body, &bufs)
	if err != nil {
		return nil, false
	}
	raw, ok := inv.Data["events"]
	if !ok {
		return nil, false
	}
	bodies, err := decodeEvents(raw, &bufs)
	return bodies, err == nil
}

func scanSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, name := range []string{"invocation-datatype-string.json", "invocation-datatype-object.json", "invocation-timer.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, s := range []string{
		`{"Data":{"events":"[\"{\\\"records\\\":[]}\"]"}}`,
		`{"Data":{"events":"[\"\\ud83d\\ude00 \\u00e9 \\ud800 x\"]"}}`,
		`{"Data":{"events":"\"[\\\"{}\\\"]\""}}`,
		`{"Data":{"events":[{"records":[]}, {"a":"\u00e9"}]}}`,
		`{"Data":{"events":"{\"records\":[]}"}}`,
		"{\"Data\":{\"events\":\"[\\\"\xff\xfe\\\"]\"}}",
		`{"Data":{"events":"[]"},"Data":{"events":"[\"x\"]"}}`,
	} {
		out = append(out, []byte(s))
	}
	for _, c := range splitCases() {
		out = append(out, []byte(`{"Data":{"events":`+c.raw+`},"Metadata":{}}`))
	}
	return out
}

func TestEnvelopeScanEqualsJSON(t *testing.T) {
	for i, b := range scanSeeds(t) {
		want, wok := eventsByJSON(b)
		got, gok := eventsByScan(b)
		if !wok {
			continue // the scanner may be more lenient than encoding/json
		}
		if !gok || len(got) != len(want) {
			t.Fatalf("seed %d: scan = %d bodies (%v), json = %d", i, len(got), gok, len(want))
		}
		for k := range want {
			if !bytes.Equal(got[k], want[k]) {
				t.Fatalf("seed %d body %d:\nscan %q\njson %q", i, k, got[k], want[k])
			}
		}
	}
}

// FuzzEnvelopeScanEqualsJSON: wherever encoding/json decodes an envelope,
// the scanner finds the same event bodies.
func FuzzEnvelopeScanEqualsJSON(f *testing.F) {
	for _, b := range scanSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wok := eventsByJSON(b)
		got, gok := eventsByScan(b)
		if !wok {
			return
		}
		if !gok || len(got) != len(want) {
			t.Fatalf("scan = %d bodies (%v), json = %d", len(got), gok, len(want))
		}
		for k := range want {
			if !bytes.Equal(got[k], want[k]) {
				t.Fatalf("body %d:\nscan %q\njson %q", k, got[k], want[k])
			}
		}
	})
}
