package handler_test

import (
	"context"
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

// streamDeadLetters counts and checks what it is given without holding it.
type streamDeadLetters struct {
	names []string
	n     int64
	head  []byte
}

func (d *streamDeadLetters) Put(_ context.Context, name string, body io.Reader) error {
	d.names = append(d.names, name)
	buf := make([]byte, 32<<10)
	for {
		k, err := body.Read(buf)
		if len(d.head) < 64 {
			d.head = append(d.head, buf[:min(k, 64-len(d.head))]...)
		}
		d.n += int64(k)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// TestHostileBodySize: a body over the cap is no retry's to fix: it answers
// 200 and is dead-lettered whole, streamed, with memory bounded by the cap.
func TestHostileBodySize(t *testing.T) {
	tests := []struct {
		name          string
		contentLength int64 // -1: unknown (chunked)
		maxBuffered   int64
	}{
		// A client that declares the length: streamed to the dead letter at
		// once, nothing buffered.
		{"100 MB with Content-Length", 100 * mib, 0},
		// Chunked, as the host sends it: buffered up to the cap, the rest
		// streamed.
		{"100 MB chunked", -1, 64*mib + 64<<10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dl := &streamDeadLetters{}
			p := &recordingProcessor{}
			logs := &testenv.LogBuffer{}
			h := handler.New(p, slog.New(slog.NewJSONHandler(logs, nil)), handler.Options{DeadLetters: dl})
			body := &countingReader{n: 100 * mib}
			req := httptest.NewRequest(http.MethodPost, "/"+handler.FunctionSignIns, body)
			req.ContentLength = tc.contentLength
			rec := httptest.NewRecorder()
			alloc := totalAlloc()
			h.ServeHTTP(rec, req)
			allocated := totalAlloc() - alloc
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), "invocation body too large; dead-lettered as ")
			require.Len(t, dl.names, 1)
			require.Equal(t, int64(100*mib), dl.n, "every byte dead-lettered")
			require.Equal(t, `{"Data":{"events":"`, string(dl.head[:19]))
			t.Logf("read %d MiB, allocated %d MiB", body.read/mib, allocated/mib)
			require.Less(t, allocated, uint64(max(3*testenv.AllocSlack*tc.maxBuffered, 2*mib)), "memory bounded by the cap")
			lines := logs.Lines(t, "dead-lettered")
			require.Len(t, lines, 1)
			require.Equal(t, "invocation body too large", lines[0]["problem"])
			require.Equal(t, float64(64*mib), lines[0]["limit_bytes"])
			require.Equal(t, handler.ReasonTooLarge, lines[0]["reason"])
			require.Empty(t, p.events, "nothing reached the pipeline")
		})
	}
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
