package detect

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fastSeeds are records for the differential tests: the shared Elastic
// fixtures when present, and hand-made edge cases.
func fastSeeds(t testing.TB) [][]byte {
	var out [][]byte
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "testdata", "elastic-signinlogs", "test-*.log"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				out = append(out, l)
			}
		}
	}
	ids := `"appId":"` + DefaultAppID + `","resourceId":"` + DefaultResourceID + `"`
	for _, s := range []string{
		`{"category":"SignInLogs","time":"2026-11-03T09:31:02.4410000Z","identity":"D","properties":{` + ids + `,"userType":"Member","userPrincipalName":"d@x","ipAddress":"1.2.3.4","sessionId":"s","deviceDetail":{"browser":"Edge 1"},"status":{"errorCode":0}}}`,
		`{"category":"SignInLogs","time":"2026-11-03T09:31:02Z","properties":{` + ids + `,"userType":"Member","UserType":"Guest"}}`,
		`{"category":"SignInLogs","time":"2026-11-03T09:31:02Z","properties":{` + ids + `},"properties":{"userType":{}}}`,
		`{"category":"SignInLogs","time":"2026-11-03T09:31:02Z","properties":{` + ids + `,"userType":["x"]}}`,
		`{"category":"SignInLogs","time":"2026-11-03T09:31:02Z","properties":{` + ids + `,"status":"bad"}}`,
		`{"category":"SignInLogs","time":"2026-11-03T09:31:02Z","properties":{` + ids + `,"user\u0054ype":"Member"}}`,
		`{"category":"Sign\u0049nLogs","time":"2026-11-03T09:31:02Z","properties":{` + ids + `}}`,
		`{"category":"SignInLogs","time":"2026-11-03T09:31:02Z","x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
		`{"category":"SignInLogs","time":"2026-11-03T09:31:02Z","x":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`,
		`{"category":"SignInLogs","time":"2026-11-03T09:31:02Z","x":` + strings.Repeat("[", 65) + `1` + strings.Repeat("]", 65) + `}`,
		` {"category":"SignInLogs"} `, `[]`, `{}`, `{"category":1}`, `{"category":"SignInLogs",}`,
		// Where the depth limit meets a syntax error: encoding/json reads an
		// object's first key before refusing its value, and closes an array
		// at '}' before any depth check.
		strings.Repeat(`{"a":`, 64) + `{"k" 1}` + strings.Repeat("}", 64),
		strings.Repeat(`{"a":`, 64) + `{}` + strings.Repeat("}", 64),
		strings.Repeat(`{"a":`, 64) + "{\"k\x01\":1}" + strings.Repeat("}", 64),
		strings.Repeat(`{"a":`, 64) + `{1}` + strings.Repeat("}", 64),
		`{"a":` + strings.Repeat("[", 64) + `}`,
		`{"a":` + strings.Repeat("[", 64) + `x`,
		`{"a":` + strings.Repeat("[", 63) + `}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// TestDecodeRecordEqualsJSON: the byte-level decoder gives what decoding
// the record with encoding/json's decoder gives (decodeRecordRef).
func TestDecodeRecordEqualsJSON(t *testing.T) {
	for i, raw := range fastSeeds(t) {
		want, wskip := decodeRecordRef(raw)
		got, gskip := DecodeRecord(raw)
		if wskip != gskip || got != want {
			t.Errorf("seed %d %.80q:\nDecodeRecord    = %+v, %v\ndecodeRecordRef = %+v, %v", i, raw, got, gskip, want, wskip)
		}
	}
}

func FuzzDecodeRecordEqualsJSON(f *testing.F) {
	for _, raw := range fastSeeds(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, wskip := decodeRecordRef(raw)
		got, gskip := DecodeRecord(raw)
		if wskip != gskip || got != want {
			t.Fatalf("DecodeRecord    = %+v, %v\ndecodeRecordRef = %+v, %v", got, gskip, want, wskip)
		}
	})
}
