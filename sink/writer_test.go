package sink_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/sink"
)

func TestWriterSend(t *testing.T) {
	tests := []struct {
		name      string
		rows      []string
		wantOut   string
		wantKinds []sink.Kind // 0 = accepted
	}{
		{
			name:      "rows become lines",
			rows:      []string{`{"a":1}`, `{"b":"x"}`},
			wantOut:   "{\"a\":1}\n{\"b\":\"x\"}\n",
			wantKinds: []sink.Kind{0, 0},
		},
		{
			name:      "multi-line row is compacted",
			rows:      []string{"{\n  \"a\": [1, 2]\n}"},
			wantOut:   "{\"a\":[1,2]}\n",
			wantKinds: []sink.Kind{0},
		},
		{
			name:      "invalid rows are permanent and skipped",
			rows:      []string{`{"a":`, `[1]`, ``, `{"ok":true}`},
			wantOut:   "{\"ok\":true}\n",
			wantKinds: []sink.Kind{sink.KindInvalid, sink.KindInvalid, sink.KindInvalid, 0},
		},
		{name: "no rows", rows: nil, wantOut: "", wantKinds: []sink.Kind{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := sink.NewWriter(&buf)
			errs := w.Send(context.Background(), toRows(tc.rows))
			require.Len(t, errs, len(tc.rows))
			for i, err := range errs {
				if tc.wantKinds[i] == 0 {
					require.NoError(t, err, "row %d", i)
					continue
				}
				var se *sink.Error
				require.ErrorAs(t, err, &se, "row %d", i)
				require.Equal(t, tc.wantKinds[i], se.Kind, "row %d", i)
				require.True(t, sink.IsPermanent(err), "row %d", i)
			}
			require.Equal(t, tc.wantOut, buf.String())
			require.NoError(t, w.Close())
		})
	}
}

func TestWriterCanceled(t *testing.T) {
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs := sink.NewWriter(&buf).Send(ctx, toRows([]string{`{"a":1}`}))
	require.Len(t, errs, 1)
	require.Error(t, errs[0])
	require.False(t, sink.IsPermanent(errs[0]))
	require.ErrorIs(t, errs[0], context.Canceled)
	require.Empty(t, buf.String())
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterWriteErrorIsNotPermanent(t *testing.T) {
	errs := sink.NewWriter(failingWriter{}).Send(context.Background(), toRows([]string{`{"a":1}`, `{"b":2}`}))
	for i, err := range errs {
		require.ErrorContains(t, err, "disk full", "row %d", i)
		require.False(t, sink.IsPermanent(err), "row %d", i)
	}
}

func TestOpenJSONLAppendsConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	w, err := sink.OpenJSONL(path)
	require.NoError(t, err)
	require.Nil(t, w.Send(context.Background(), toRows([]string{`{"first":true}`}))[0])
	require.NoError(t, w.Close())

	// Reopen: appends, and many goroutines never interleave lines.
	w, err = sink.OpenJSONL(path)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rows := make([]string, 50)
			for i := range rows {
				rows[i] = fmt.Sprintf(`{"g":%d,"i":%d,"pad":%q}`, g, i, strings.Repeat("x", 500))
			}
			for _, err := range w.Send(context.Background(), toRows(rows)) {
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, w.Close())

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	require.Len(t, lines, 1+8*50)
	require.Equal(t, `{"first":true}`, lines[0])
	for _, l := range lines {
		require.True(t, strings.HasPrefix(l, "{") && strings.HasSuffix(l, "}"), "line %q", l)
	}
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestErrorFormat(t *testing.T) {
	err := &sink.Error{Kind: sink.KindRejected, StatusCode: 400, Code: "InvalidPayload", Message: "bad column"}
	require.Equal(t, "sink: rejected (HTTP 400 InvalidPayload): bad column", err.Error())
	require.True(t, err.Permanent())
	require.False(t, sink.IsPermanent(nil))
	require.False(t, sink.IsPermanent(errors.New("plain")))
	require.True(t, sink.IsPermanent(fmt.Errorf("wrapped: %w", err)))
	for k := sink.KindInvalid; k <= sink.KindNotAttempted; k++ {
		require.NotContains(t, k.String(), "kind(", "Kind %d has no name", int(k))
	}
}

func toRows(ss []string) [][]byte {
	rows := make([][]byte, len(ss))
	for i, s := range ss {
		rows[i] = []byte(s)
	}
	return rows
}
