package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReplayInputForms: every JSON form of the demo's sign-in records gives
// the demo's alerts; what is not JSON is counted as not_json and costs
// nothing else. The fixtures in testdata/ hold testdata/demo.ndjson in each
// form (the Graph pages hold its sign-ins as Graph beta signIn objects:
// properties at top level, userType in lower case, signInEventTypes).
func TestReplayInputForms(t *testing.T) {
	demo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo.ndjson"))
	require.NoError(t, err)
	want, _, err := runCmd(t, string(demo), "replay", "-")
	require.NoError(t, err)
	file := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return string(b)
	}
	lines := strings.Split(strings.TrimSpace(string(demo)), "\n")
	tests := []struct {
		name        string
		input       string
		wantSummary []string
	}{
		{name: "NDJSON", input: string(demo), wantSummary: []string{"17 lines, 21 records read, 4 matched", "skipped: duplicate=1 prefiltered=16"}},
		{name: "a line holding an array of bodies", input: file("demo-array-of-bodies.json"), wantSummary: []string{"1 lines, 21 records read, 4 matched"}},
		{name: "a line holding an array of records", input: file("demo-array-of-records.json"), wantSummary: []string{"1 lines, 21 records read, 4 matched"}},
		{name: "a pretty-printed array of bodies", input: file("demo-pretty-array.json"), wantSummary: []string{"21 records read, 4 matched"}},
		{name: "a pretty-printed body", input: file("demo-pretty-records.json"), wantSummary: []string{"21 records read, 4 matched"}},
		{name: "two Graph pages", input: file("demo-graph-pages.json"), wantSummary: []string{"20 records read, 4 matched", "skipped: duplicate=1 prefiltered=15"}},
		{name: "Graph signIn objects one per line", input: graphLines(t, file("demo-graph-pages.json")), wantSummary: []string{"20 records read, 4 matched"}},
		{name: "forms mixed line by line, and lines not JSON", input: strings.Join([]string{
			lines[0], "[" + strings.Join(lines[1:3], ",") + "]", "not json", "[1,", "[]", strings.Join(lines[3:], "\n"),
		}, "\n"), wantSummary: []string{"19 lines, 23 records read, 4 matched", "not_json=2"}}, // [] holds no record
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, summary, err := runCmd(t, tc.input, "replay", "--batch", "3", "-")
			require.NoError(t, err)
			require.Equal(t, finalAlerts(t, want), finalAlerts(t, got))
			for _, s := range tc.wantSummary {
				require.Contains(t, summary, s)
			}
		})
	}
}

// graphLines returns the Graph items of pages, one compact object a line.
func graphLines(t *testing.T, pages string) string {
	t.Helper()
	var out []string
	dec := json.NewDecoder(strings.NewReader(pages))
	for dec.More() {
		var page struct{ Value []json.RawMessage }
		require.NoError(t, dec.Decode(&page))
		for _, v := range page.Value {
			var b bytes.Buffer
			require.NoError(t, json.Compact(&b, v))
			out = append(out, b.String())
		}
	}
	require.NotEmpty(t, out)
	return strings.Join(out, "\n")
}

// TestReplayDocumentNotJSON: a document that breaks is read up to the break
// and counted once as not_json; --strict names where it broke.
func TestReplayDocumentNotJSON(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "demo-pretty-array.json"))
	require.NoError(t, err)
	doc := strings.TrimSpace(string(b))
	broken := doc[:len(doc)-1] + ",\n}\n" // no element after the comma
	demo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo.ndjson"))
	require.NoError(t, err)
	want, _, err := runCmd(t, string(demo), "replay", "-")
	require.NoError(t, err)
	out, summary, err := runCmd(t, broken, "replay", "-")
	require.NoError(t, err)
	require.Contains(t, summary, "22 records read, 4 matched") // the demo's 21 and the break
	require.Contains(t, summary, "not_json=1")
	require.Equal(t, finalAlerts(t, want), finalAlerts(t, out), "the records before the break are replayed")
	_, _, err = runCmd(t, broken, "replay", "--strict", "-")
	require.ErrorContains(t, err, "-: byte ")
	require.ErrorContains(t, err, "not_json")
}

// TestOpensDocument: which first lines make a file one document.
func TestOpensDocument(t *testing.T) {
	tests := []struct {
		first string
		want  bool
	}{
		{"[", true}, {"{", true}, {"  {\r", true}, {`{"records": [`, true}, {`{"@odata.context": "x",`, true}, {`[{"a":1},`, true},
		{`{"records":[]}`, false}, {`[]`, false}, {`not json`, false}, {`{"records":[{"a":"b`, false}, {`"x"`, false}, {``, false},
	}
	for _, tc := range tests {
		got := runOpens(tc.first + "\n" + `"rest"` + "\n")
		require.Equal(t, tc.want, got, "first line %q", tc.first)
	}
	require.False(t, runOpens("["), "a file of one line is NDJSON")
}

func runOpens(s string) bool {
	return opensDocument(bufio.NewReader(strings.NewReader(s)))
}

// FuzzReplayInput: any input read as replay reads it (NDJSON or documents)
// never panics and hands on at most what it read (a Graph object grows by
// its envelope); a line that is a valid JSON array is handed on as the
// elements encoding/json finds.
func FuzzReplayInput(f *testing.F) {
	for _, name := range []string{"demo-array-of-records.json", "demo-pretty-records.json", "demo-graph-pages.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(b[:min(len(b), 4000)])
	}
	f.Add([]byte("[\n1,\n{\"value\":\n[2]}]\n{\"records\":[{}],\"x\":[]}\n"))
	f.Add([]byte(`[{"records":[]}, {"createdDateTime":"x","userType":"member"}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		sum := &summary{groups: map[string]bool{}, skipped: map[string]int{}}
		var got [][]byte
		err := replayFile("-", bytes.NewReader(in), sum, false, func(b []byte) error {
			got = append(got, bytes.Clone(b))
			return nil
		})
		if err != nil {
			t.Fatalf("replayFile: %v", err)
		}
		line := bytes.TrimSpace(in)
		var elems []json.RawMessage
		if bytes.IndexByte(line, '\n') < 0 && len(line) > 0 && line[0] == '[' && json.Unmarshal(line, &elems) == nil {
			if len(got) != len(elems) {
				t.Fatalf("%q: %d bodies, encoding/json finds %d elements", in, len(got), len(elems))
			}
			for i, e := range elems {
				if !bytes.Equal(got[i], e) && !bytes.HasPrefix(got[i], []byte(`{"category":`)) {
					t.Fatalf("%q: body %d = %q, element %q", in, i, got[i], e)
				}
			}
		}
	})
}
