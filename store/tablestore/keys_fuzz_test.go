package tablestore

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/internal/rules"
)

// maxKeyBytes is the smaller of the key limits: Azurite allows 512
// characters, Azure 1 KiB.
const maxKeyBytes = 512

// checkKey reports what makes k an invalid PartitionKey or RowKey: the
// service forbids / \ # ? and control characters U+0000-U+001F and
// U+007F-U+009F.
func checkKey(t *testing.T, what, k string) {
	t.Helper()
	if k == "" || len(k) > maxKeyBytes || !utf8.ValidString(k) {
		t.Fatalf("%s %q: empty, longer than %d bytes or not UTF-8", what, k, maxKeyBytes)
	}
	for _, r := range k {
		if strings.ContainsRune(`/\#?`, r) || r < 0x20 || r >= 0x7f && r <= 0x9f {
			t.Fatalf("%s %q holds forbidden %U", what, k, r)
		}
	}
}

// checkEntity decodes an entity body and checks its keys, property names
// (letters and digits, at most 255) and label values.
func checkEntity(t *testing.T, body []byte) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("entity is not JSON: %v", err)
	}
	for name, v := range m {
		base, _, _ := strings.Cut(name, "@odata.type")
		if base == "" || len(base) > 255 {
			t.Fatalf("property name %q", name)
		}
		for _, r := range base {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Fatalf("property name %q holds %q", name, r)
			}
		}
		s, ok := v.(string)
		if !ok || base != name {
			continue
		}
		if m[name+"@odata.type"] == "Edm.Binary" { // base64 of a chunk of at most 64 KiB
			if n := base64.StdEncoding.DecodedLen(len(s)); n > 64<<10 {
				t.Fatalf("binary property %s holds %d bytes", name, n)
			}
			continue
		}
		if utf8.RuneCountInString(s) > rules.MaxLabelRunes {
			t.Fatalf("property %s holds %d runes", name, utf8.RuneCountInString(s))
		}
	}
	checkKey(t, "PartitionKey", m["PartitionKey"].(string))
	checkKey(t, "RowKey", m["RowKey"].(string))
}

// FuzzKeys: for any UPN, session id and time, the group id the pipeline
// derives is valid, and the keys and property names the store builds from
// it are valid Table Storage keys and names; so are those of any id the
// store accepts.
func FuzzKeys(f *testing.F) {
	f.Add("dora.nagy@contoso.example", "2b855c1f-28aa-4a51-b98c-67c215bd448f", int64(1762162262441), int64(1), "0a1b")
	f.Add("o'brien/x\\y#z?\u00e9\x01\t@contoso.example", "sess/#?\\\x7f'\u0085", int64(0), int64(9_999_999_999), "f")
	f.Add(strings.Repeat("\U0001F600", 300), "\xff\xfe", int64(253402300799000), int64(-1), "G/")
	if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo.ndjson")); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			detect.ScanBody(sc.Bytes(), detect.Prefilter{}, func(raw []byte) {
				if r, skip := detect.DecodeRecord(raw); skip == detect.SkipNone {
					f.Add(r.UPN, r.SessionID, r.Timestamp.UnixMilli(), int64(2), r.ID)
				}
			})
		}
	}
	rule := detect.DefaultRule()
	f.Fuzz(func(t *testing.T, upn, session string, ms int64, rev int64, anyID string) {
		window := rule.WindowStart(time.UnixMilli(ms))
		id := detect.Key{Window: window, UPN: upn, SessionID: session}.ID()
		if err := rules.CheckID(id); err != nil {
			t.Fatalf("pipeline id %q: %v", id, err)
		}
		for _, gid := range []string{id, anyID} {
			if rules.CheckID(gid) != nil {
				continue // Load, Commit and the outbox refuse it before building keys
			}
			checkKey(t, "group RowKey", groupRowKey(gid))
			if rules.CheckWindow(window) != nil {
				continue
			}
			checkKey(t, "PartitionKey", partitionKey(gid, window))
			if rev >= 0 && rev <= rules.MaxRevision {
				checkKey(t, "outbox RowKey", pendingRowKey(gid, int(rev)))
			}
			g := store.Group{ID: gid, Window: window, ExpiresAt: window.Add(time.Hour), UPN: upn, SessionID: session,
				State: []byte(upn + session)}
			if rules.CheckGroup(g) != nil {
				continue
			}
			body, err := groupEntity(g)
			if err != nil {
				t.Fatalf("group entity: %v", err)
			}
			checkEntity(t, body)
			body, err = pendingEntity(store.Pending{GroupID: gid, Window: window, Revision: max(0, int(rev%1000)), Row: []byte(`{}`),
				LastError: session})
			if err != nil {
				t.Fatalf("pending entity: %v", err)
			}
			checkEntity(t, body)
		}
	})
}
