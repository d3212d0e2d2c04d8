package jsonbytes

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValueEnd(t *testing.T) {
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	tests := []struct {
		name      string
		in        string
		end       int // -1: an error
		wantDepth int
	}{
		{name: "string", in: `"a\"b" ,`, end: 6},
		{name: "string of backslashes", in: `"\\\\"]`, end: 6},
		{name: "unterminated string", in: `"a\"`, end: -1},
		{name: "object", in: `{"a":[1,{"b":"}"}]} x`, end: 19, wantDepth: 3},
		{name: "empty array", in: `[]`, end: 2, wantDepth: 1},
		{name: "brackets of either kind close either", in: `[}`, end: 2, wantDepth: 1},
		{name: "unbounded depth", in: deep, end: 200, wantDepth: 100},
		{name: "unterminated array", in: `[1,2`, end: -1},
		{name: "number", in: `12.5e3,`, end: 6},
		{name: "literal at the end", in: `true`, end: 4},
		{name: "scalar holding a quote", in: `tr"ue`, end: -1},
		{name: "scalar holding a colon", in: `a:b`, end: -1},
		{name: "empty scalar", in: `,`, end: -1},
		{name: "closing bracket", in: `]`, end: -1},
		{name: "nothing", in: ``, end: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			end, depth, err := ValueEnd([]byte(tc.in), 0)
			if tc.end < 0 {
				if err == nil {
					t.Fatalf("ValueEnd(%q) = %d, %d, want an error", tc.in, end, depth)
				}
				return
			}
			if err != nil || end != tc.end || depth != tc.wantDepth {
				t.Fatalf("ValueEnd(%q) = %d, %d, %v, want %d, %d", tc.in, end, depth, err, tc.end, tc.wantDepth)
			}
		})
	}
}

func TestWalk(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // keys and elements seen, | separated; "error" for an error
	}{
		{name: "object", in: ` { "a" : 1 , "b\"" : [2] } x`, want: `"a"=1|"b\""=[2]`},
		{name: "empty object", in: `{ }`, want: ``},
		{name: "trailing comma", in: `{"a":1,}`, want: "error"},
		{name: "missing colon", in: `{"a" 1}`, want: "error"},
		{name: "key not a string", in: `{a:1}`, want: "error"},
		{name: "not an object", in: `"a"`, want: "error"},
		{name: "not an array", in: `  [1}`, want: "error"},
		{name: "array", in: `[1, "x" ,{}]`, want: `1|"x"|{}`},
		{name: "empty array", in: `[ ]`, want: ``},
		{name: "array without commas", in: `[1 2]`, want: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.in)
			var seen []string
			value := func(b []byte, i int) (int, error) {
				end, _, err := ValueEnd(b, i)
				if err == nil {
					seen = append(seen, string(b[i:end]))
				}
				return end, err
			}
			var err error
			if strings.HasPrefix(strings.TrimSpace(tc.in), "[") {
				_, err = WalkArray(b, 0, value)
			} else {
				_, err = WalkObject(b, 0, func(key []byte, b []byte, i int) (int, error) {
					end, err := value(b, i)
					if err == nil {
						seen[len(seen)-1] = string(key) + "=" + seen[len(seen)-1]
					}
					return end, err
				})
			}
			got := strings.Join(seen, "|")
			if err != nil {
				got = "error"
			}
			if got != tc.want {
				t.Fatalf("walk %q = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// stringSeeds are JSON strings (valid or not) with every escape, surrogates
// paired and lone, invalid UTF-8 and control characters.
var stringSeeds = []string{
	`""`, `"a"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\u4E2d"`, `"\ud83d\ude00"`, `"\ud800"`, `"\ud800x"`,
	`"\udc00\u0041"`, `"\ud800\u0041"`, `"\ud800\ud83d\ude00"`, "\"\xff\xfe a\xc3\"", "\"a\x01\"", "\"\x7f\"",
	`"\q"`, `"\u12"`, `"\u12zz"`, `"abc`, `"a\"`, `"a"b`,
}

// FuzzString: CheckString accepts a whole string exactly when
// encoding/json does, and Unquote then gives encoding/json's value; where
// only Unquote accepts it (control characters), no escape is resolved
// otherwise than encoding/json's rules say.
func FuzzString(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		if len(s) == 0 || s[0] != '"' || IsSpace(s[len(s)-1]) {
			return
		}
		var want string
		jerr := json.Unmarshal(s, &want)
		end, escaped, err := CheckString(s, 0)
		if ok := err == nil && end == len(s); ok != (jerr == nil) {
			t.Fatalf("CheckString(%q) = %d, %v, encoding/json: %v", s, end, err, jerr)
		}
		if jerr != nil {
			return
		}
		if hasBackslash := strings.Contains(string(s), `\`); escaped != hasBackslash {
			t.Fatalf("CheckString(%q) escaped = %v", s, escaped)
		}
		if e, err := StringEnd(s, 0); err != nil || e != len(s) {
			t.Fatalf("StringEnd(%q) = %d, %v, want %d", s, e, err, len(s))
		}
		got, err := Unquote([]byte("prefix"), s)
		if err != nil || string(got) != "prefix"+want {
			t.Fatalf("Unquote(%q) = %q, %v, want %q", s, got, err, want)
		}
	})
}

// FuzzNumber: NumberEnd accepts a whole number exactly when encoding/json
// takes it for one.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "-12.5e+3", "1E9", "01", "-", "1.", ".5", "1e", "1e+", "0x1", "-a", "1.5.2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		if len(s) == 0 || s[0] != '-' && (s[0] < '0' || s[0] > '9') || IsSpace(s[len(s)-1]) {
			return
		}
		var n json.Number
		jok := json.Valid(s) && json.Unmarshal(s, &n) == nil
		end, err := NumberEnd(s, 0)
		if ok := err == nil && end == len(s); ok != jok {
			t.Fatalf("NumberEnd(%q) = %d, %v; encoding/json takes it: %v", s, end, err, jok)
		}
	})
}

func TestLiteralEnd(t *testing.T) {
	for _, tc := range []struct {
		in  string
		end int // -1: an error
	}{{"true", 4}, {"false,", 5}, {"null]", 4}, {"nul", -1}, {"tru", -1}, {"t", -1}, {"x", -1}, {"", -1}} {
		end, err := LiteralEnd([]byte(tc.in), 0)
		if tc.end < 0 && !errors.Is(err, ErrSyntax) || tc.end >= 0 && (err != nil || end != tc.end) {
			t.Errorf("LiteralEnd(%q) = %d, %v, want %d", tc.in, end, err, tc.end)
		}
	}
}
