package handler

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// splitCase is an events binding (a JSON string, as it stands in the
// envelope) and whether splitEvents decodes it in one pass.
type splitCase struct {
	raw     string
	onePass bool
}

// quoted returns inner as the JSON string encoding/json writes for it.
func quoted(inner string) string {
	b, err := json.Marshal(inner)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// splitCases are the tricky forms of the events binding.
func splitCases() []splitCase {
	return []splitCase{
		{quoted(`["{\"records\":[]}"]`), true},
		{quoted(`[]`), true},
		{quoted(" \t[ ]\r\n"), true},
		{quoted(`[ "a" ,"b",` + "\n" + `""]`), true},
		// Surrogates: a pair, lone ones (high or low, before anything but a
		// \uXXXX that pairs), a lone one before a pair.
		{quoted(`["\ud83d\ude00 \u00e9 \ud800 x"]`), true},
		{quoted(`["\ud800\ud83d\ude00"]`), true},
		{quoted(`["\udc00\u0041", "\ude00\ud83d"]`), true},
		{quoted(`["\ud800\n\ud800\\\ud800/\ud800"]`), true},
		{quoted(`["\ud800\u0041\ud83d\ud83d\ude00"]`), true},
		{quoted(`["\ud800é\ud800` + "\x01" + `"]`), true},
		{quoted(`["\ud800\uzzzz"]`), false},
		{quoted(`["\ud800\u12"]`), false},
		{quoted(`["\ud800\x"]`), false},
		// Every escape, and <, >, & which encoding/json writes as \u003c...
		{quoted(`["\u00e9\u4E2d\"\\\/\b\f\n\r\t<>&"]`), true},
		// The inner array's quotes, backslashes and hex digits made by the
		// envelope's \uXXXX escapes, a surrogate pair split across them.
		{`"[\u0022x\u0022, \"\u005c\u005c\"]"`, true},
		{`"[\"\\\u0075d83d\\ude00\"]"`, true},
		{`"[\"\\ud83d\u005cude00\"]"`, true},
		{`"[\"\\ud83d\\u\u0064e00\"]"`, true},
		{`"[\"\\ud83d\u005c\u0075\u0064\u0065\u0030\u0030\"]"`, true},
		{`"[\"\\ud83d\"]"`, true},
		// The envelope's own surrogates, pairs and lone, and escapes that
		// make non-ASCII text in a body.
		{`"[\"\ud83d\ude00\ud800x\udc00\u00e9\"]"`, true},
		{`"[\"\\ud800\u00e9\", \"\\ud800\ud83d\ude00\"]"`, true},
		{`"[\"\\ud800\u00e9\"\u00a0]"`, false},
		// Invalid UTF-8 and control characters in a body, and outside one.
		{"\"[\\\"\xff\xfe a\xc3\\\"]\"", true},
		{"\"[\\\"\\\\ud800\xff\xc3\xa9\\\"]\"", true},
		{"\"[\\\"a\x01\x1f\\\"]\"", true},
		{"\"[\\\"a\\\"]\xff\"", false},
		{"\"[\\\"a\\\"\x01]\"", false},
		{"\"[\\\"\\\\ud800\\\\\xff\\\"]\"", false},
		// Backslashes in a body: \\ and \\\" and a \" that ends it.
		{`"[\"a\\\\\\\\b\\\\\\\"c\\\\\", \"\"]"`, true},
		{`"[\"a\/b\\/c\"]"`, true},
		// Not the common form: the two passes decide.
		{quoted(`[1, "a"]`), false},
		{quoted(`[{"records":[]}]`), false},
		{quoted(`{"records":[]}`), false},
		{quoted(`["a", null]`), false},
		{quoted(quoted(`["x"]`)), false},
		{quoted(`["a",]`), false},
		{quoted(`[,"a"]`), false},
		{quoted(`["a" "b"]`), false},
		{quoted(`["a"]]`), false},
		{quoted("\u00a0[\"a\"]"), false},
		{quoted("[\"a\"]\v"), false},
		{quoted(`["a\q"]`), false},
		{`""`, false}, {`"["`, false}, {`"[\"a"`, false}, {`"[\"a\""`, false}, {`"[\"a\"]`, false},
		{`"[\"a\"]\"`, false}, {`"[\"a\"]\u12"`, false}, {`"[\"a\"]\x"`, false},
	}
}

// checkSplit: wherever encoding/json decodes the string at b[i], decoding it
// in two passes gives the same bodies (bindingByJSON is the reference);
// wherever splitEvents decodes it, decoding it in two passes succeeds, ends
// at the same index and gives the same bodies.
func checkSplit(t *testing.T, b []byte, i int) (onePass bool) {
	t.Helper()
	if dec, end, err := jsonbytes.AppendString(nil, b, i); err == nil {
		if want, ok := bindingByJSON(b[i:end]); ok {
			got, err := decodeEvents(binding{decoded: dec, str: true}, &buffers{})
			if err != nil || len(got) != len(want) {
				t.Fatalf("%q: two passes %d bodies (%v), encoding/json %d", b, len(got), err, len(want))
			}
			for k := range want {
				if !bytes.Equal(got[k], want[k]) {
					t.Fatalf("%q body %d:\ntwo passes   %q\nencoding/json %q", b, k, got[k], want[k])
				}
			}
		}
	}
	_, got, gend, ok := splitEvents(nil, b, i)
	if !ok {
		return false
	}
	dec, wend, err := jsonbytes.AppendString(nil, b, i)
	if err != nil || wend != gend {
		t.Fatalf("%q: one pass ends at %d, two passes at %d (%v)", b, gend, wend, err)
	}
	want, err := decodeEvents(binding{decoded: dec, str: true}, &buffers{})
	if err != nil || len(got) != len(want) {
		t.Fatalf("%q: one pass %d bodies, two passes %d (%v)", b, len(got), len(want), err)
	}
	for k := range want {
		if !bytes.Equal(got[k], want[k]) {
			t.Fatalf("%q body %d:\none pass  %q\ntwo passes %q", b, k, got[k], want[k])
		}
	}
	return true
}

func TestSplitEqualsTwoPass(t *testing.T) {
	for _, c := range splitCases() {
		if got := checkSplit(t, []byte(c.raw), 0); got != c.onePass {
			t.Errorf("%s: one pass %v, want %v", c.raw, got, c.onePass)
		}
		// In an envelope, after other bytes, and through parseInvocation.
		env := []byte(`{"Data":{"events":` + c.raw + `},"Metadata":{}}`)
		checkSplit(t, env, len(`{"Data":{"events":`))
		var bufs buffers
		inv, err := parseInvocation(env, &bufs)
		if err != nil {
			continue
		}
		if bd := inv.Data["events"]; bd.split != c.onePass {
			t.Errorf("%s: parseInvocation split %v, want %v", c.raw, bd.split, c.onePass)
		}
	}
}

// TestSplitGrows: bodies of invalid UTF-8 are longer than the binding.
func TestSplitGrows(t *testing.T) {
	raw := []byte("\"[\\\"" + string(bytes.Repeat([]byte{0xff}, 100)) + "\\\"]\"")
	out, bodies, _, ok := splitEvents(make([]byte, 0, 10), raw, 0)
	if !ok || len(bodies) != 1 || !bytes.Equal(bodies[0], bytes.Repeat([]byte("\uFFFD"), 100)) || len(out) != 300 {
		t.Fatalf("ok %v, %d bodies, out %d bytes", ok, len(bodies), len(out))
	}
	checkSplit(t, raw, 0)
}
