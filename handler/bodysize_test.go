package handler_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/testenv"
)

const mib = 1 << 20

// countingReader yields n bytes of an invocation whose events string never
// ends, counting what was read, without holding them.
type countingReader struct {
	n, read int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n-r.read)
	const head = `{"Data":{"events":"`
	for i := range p[:k] {
		if off := r.read + int64(i); off < int64(len(head)) {
			p[i] = head[off]
		} else {
			p[i] = 'a'
		}
	}
	r.read += k
	return int(k), nil
}

func TestHostileBodySize(t *testing.T) {
	tests := []struct {
		name          string
		contentLength int64 // -1: unknown (chunked)
		maxRead       int64
	}{
		// A client that declares the length: refused before reading a byte.
		{"100 MB with Content-Length", 100 * mib, 0},
		// Chunked, as the host sends it: read up to the cap, never past it.
		{"100 MB chunked", -1, 64*mib + 64<<10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &recordingProcessor{}
			logs := &testenv.LogBuffer{}
			h := handler.New(p, slog.New(slog.NewJSONHandler(logs, nil)), handler.Options{})
			body := &countingReader{n: 100 * mib}
			req := httptest.NewRequest(http.MethodPost, "/"+handler.FunctionSignIns, body)
			req.ContentLength = tc.contentLength
			rec := httptest.NewRecorder()
			alloc := totalAlloc()
			h.ServeHTTP(rec, req)
			allocated := totalAlloc() - alloc
			require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
			require.Contains(t, rec.Body.String(), "body over 67108864 bytes rejected")
			require.LessOrEqual(t, body.read, tc.maxRead, "bytes read")
			t.Logf("read %d MiB, allocated %d MiB", body.read/mib, allocated/mib)
			require.Less(t, allocated, uint64(max(3*testenv.AllocSlack*tc.maxRead, mib)), "memory bounded by the cap")
			lines := logs.Lines(t, "invocation body too large")
			require.Len(t, lines, 1)
			require.Equal(t, float64(64*mib), lines[0]["limit_bytes"])
			require.Empty(t, p.events, "nothing reached the pipeline")
		})
	}
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
