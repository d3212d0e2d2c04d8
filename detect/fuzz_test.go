package detect

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// fuzzSeeds returns raw records from the Elastic fixtures (when
// ../shared is present) and from testdata/scenarios.json.
func fuzzSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	wd, _ := os.Getwd()
	for root := wd; ; root = filepath.Dir(root) {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			dir := filepath.Join(root, "..", "shared", "testdata", "elastic-signinlogs")
			logs, _ := filepath.Glob(filepath.Join(dir, "test-*.log"))
			for _, p := range logs {
				seeds = append(seeds, readLines(f, p)...)
			}
			break
		}
		if filepath.Dir(root) == root {
			break
		}
	}
	if data, err := os.ReadFile("testdata/scenarios.json"); err == nil {
		var scs []scenario
		if json.Unmarshal(data, &scs) == nil {
			for _, sc := range scs {
				for _, r := range sc.Records {
					seeds = append(seeds, r)
				}
			}
		}
	}
	return seeds
}

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte(`{"category":"SignInLogs","time":"1/9/2007 9:41:00 AM","properties":{"status":"x"}}`))
	f.Add([]byte(`{"Category":"SignInLogs","CreatedDateTime":"2026-03-02T10:00:00Z","Properties":{"SessionId":"a","sessionId":"b"}}`))
	r := DefaultRule()
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, skip := DecodeRecord(raw)
		if skip != SkipNone {
			return
		}
		if rec.ID == "" {
			t.Fatalf("DecodeRecord(%q).ID is empty", raw)
		}
		if rec.Timestamp.Location() != time.UTC || !rec.Timestamp.Equal(rec.Timestamp.Truncate(time.Millisecond)) {
			t.Fatalf("DecodeRecord(%q).Timestamp = %v, want UTC ms", raw, rec.Timestamp)
		}
		// Force selection so Merge and the state round trip see every
		// decoded record, whatever its filter fields say.
		k, skip := r.Select(rec)
		if skip != SkipNone {
			rec.Outcome, rec.UserType, rec.AppID, rec.ResourceID = "success", "Member", r.AppID, r.ResourceID
			for _, p := range []*string{&rec.Identity, &rec.UPN, &rec.SourceAddress, &rec.SessionID} {
				if *p == "" {
					*p = "x"
				}
			}
			if k, skip = r.Select(rec); skip != SkipNone {
				if skip == SkipOversize {
					return
				}
				t.Fatalf("Select(forced record) = %v", skip)
			}
		}
		g := NewGroup(k)
		if !g.Merge(rec, nil) {
			t.Fatal("Merge(first record) = false")
		}
		r.Evaluate(g, time.Unix(0, 0))
		b, err := g.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary: %v", err)
		}
		var back Group
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(MarshalBinary()) = %v", err)
		}
		if back.Key.UPN != g.Key.UPN || back.Key.SessionID != g.Key.SessionID || !back.Key.Window.Equal(g.Key.Window) {
			t.Fatalf("key after round trip = %+v, want %+v", back.Key, g.Key)
		}
		if back.EventCount() != 1 || back.AddressCount() != 1 || !reflect.DeepEqual(back.Values, g.Values) {
			t.Fatalf("group after round trip = %+v, want %+v", back, *g)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"01/09/2007 09:41:00", "1/9/2007 9:41:00 AM", "1/9/2007 10:41:00 AM +01:00",
		"2007-01-09T09:41:00", "2007-01-09T09:41:00.535404056Z", "2007-01-09T11:41:00+02:00",
		"2007-01-09T9:41:00.000Z", "1969-12-31T23:59:59.999Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999-18:00", "2/31/2007 9:41:00 AM", "", "garbage",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseTime(s)
		if !ok {
			if !got.IsZero() {
				t.Fatalf("ParseTime(%q) rejected but returned %v", s, got)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) location = %v, want UTC", s, got.Location())
		}
		if got.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("ParseTime(%q) = %v, not truncated to ms", s, got)
		}
	})
}
