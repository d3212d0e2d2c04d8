package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// Writer writes each row as one line of JSON (JSON Lines) to an io.Writer.
// It is safe for concurrent use: each row is written with a single Write
// call under a lock, so lines from concurrent Sends never interleave.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
	buf    bytes.Buffer
}

// NewWriter returns a Writer that writes to w (for example os.Stdout). The
// Writer does not close w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// OpenJSONL opens path for appending, creating it (mode 0600: alerts name
// users) if needed, and returns a Writer that owns the file. Call Close when
// done.
func OpenJSONL(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sink: open jsonl: %w", err)
	}
	return &Writer{w: f, closer: f}, nil
}

// Close closes the file opened by OpenJSONL. It does nothing for a Writer
// made by NewWriter.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closer == nil {
		return nil
	}
	err := w.closer.Close()
	w.closer = nil
	return err
}

// Send writes rows in order, one line each, following the package contract.
// A row that is not a JSON object fails with a permanent KindInvalid error
// and is not written; a row spread over several lines is compacted onto one.
// A write error fails that row (KindTransport, not permanent) and the rest
// of the rows are still tried. Once ctx is done the remaining rows fail with
// KindCanceled.
func (w *Writer) Send(ctx context.Context, rows [][]byte) []error {
	errs := make([]error, len(rows))
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, row := range rows {
		if err := ctx.Err(); err != nil {
			errs[i] = &Error{Kind: KindCanceled, Message: err.Error(), Err: err}
			continue
		}
		w.buf.Reset()
		if err := json.Compact(&w.buf, row); err != nil {
			errs[i] = &Error{Kind: KindInvalid, Message: "row is not valid JSON: " + err.Error(), Err: err}
			continue
		}
		if w.buf.Len() == 0 || w.buf.Bytes()[0] != '{' {
			errs[i] = &Error{Kind: KindInvalid, Message: "row is not a JSON object"}
			continue
		}
		w.buf.WriteByte('\n')
		if _, err := w.w.Write(w.buf.Bytes()); err != nil {
			errs[i] = &Error{Kind: KindTransport, Message: "write: " + err.Error(), Err: err}
		}
	}
	return errs
}
