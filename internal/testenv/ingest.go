// Ingest: a stand-in for the Azure Monitor Logs Ingestion API.
//
// Ingest is an httptest TLS server: give its Client() to the azlogs client
// as ClientOptions.Transport and its URL as the endpoint, so requests go
// through azcore's real pipeline (bearer token policy, which insists on
// HTTPS, and retry policy). It checks what the service checks, as far as it
// is documented: bearer token, route and api-version, Content-Type, gzip,
// the 1 MiB body limit (413 ContentLengthLimitExceeded) and each row against
// schema.ValidateRow (400). Faults can be injected per call, per row or
// until further notice. Error codes other than InvalidStream,
// ContentLengthLimitExceeded and OperationFailed are made up: the service's
// exact codes for those cases are not documented.

package testenv

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drswatch/drswatch/schema"
)

// IngestMaxBodyBytes is the service's documented per-call limit, as quoted in its
// 413 message ("Maximum allowed content length: 1048576 bytes (1 MB)").
const IngestMaxBodyBytes = 1 << 20

// IngestAPIVersion is the Logs Ingestion API version azlogs v1.1.0 sends.
const IngestAPIVersion = "2023-01-01"

// Fault is a response the server gives instead of processing a call.
type Fault struct {
	// Status is the HTTP status to answer (e.g. 503, 429, 413, 400).
	Status int
	// RetryAfter, if positive, is sent as Retry-After (whole seconds) or,
	// when not a whole number of seconds, as retry-after-ms.
	RetryAfter time.Duration
	// Code and Message fill the error body; defaults depend on Status.
	Code    string
	Message string
	// Delay, if positive, holds the answer back (or until the client gives
	// up), to exercise timeouts.
	Delay time.Duration
}

// IngestCall records one request the server received.
type IngestCall struct {
	// N is the 1-based number of the request, retries included.
	N int
	// Status is what the server answered.
	Status int
	// Token is the bearer token presented.
	Token string
	// Gzip is true when the body was sent with Content-Encoding: gzip.
	Gzip bool
	// WireBytes is the body size as sent; Bytes the size after gunzip.
	WireBytes, Bytes int
	// Rows is the number of rows in the body, if it parsed.
	Rows int
}

// IngestOptions configures an Ingest. The zero value accepts any non-empty bearer
// token for rule "dcr-test" and stream schema.Stream.
type IngestOptions struct {
	RuleID string // default "dcr-test"
	Stream string // default schema.Stream
	// Token, if set, is the only bearer token accepted (403 otherwise).
	Token string
	// MaxBytes is the uncompressed body limit; default IngestMaxBodyBytes.
	MaxBytes int
	// Validate checks each row; default schema.ValidateRow.
	Validate func(row []byte) error
}

// Ingest is a fake Logs Ingestion endpoint.
type Ingest struct {
	// URL is the endpoint to give azlogs.NewClient.
	URL  string
	srv  *httptest.Server
	opts IngestOptions

	mu       sync.Mutex
	n        int
	calls    []IngestCall
	accepted [][]byte
	onCall   map[int]Fault
	onRow    []rowFault
	down     *Fault
}

type rowFault struct {
	match func(row []byte) bool
	fault Fault
}

// NewIngest starts an Ingest and stops it when the test ends.
func NewIngest(tb testing.TB, opts *IngestOptions) *Ingest {
	tb.Helper()
	s := &Ingest{onCall: map[int]Fault{}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.RuleID == "" {
		s.opts.RuleID = "dcr-test"
	}
	if s.opts.Stream == "" {
		s.opts.Stream = schema.Stream
	}
	if s.opts.MaxBytes == 0 {
		s.opts.MaxBytes = IngestMaxBodyBytes
	}
	if s.opts.Validate == nil {
		s.opts.Validate = schema.ValidateRow
	}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// Client returns an *http.Client that trusts the server's certificate; use
// it as azcore.ClientOptions.Transport.
func (s *Ingest) Client() *http.Client { return s.srv.Client() }

// RuleID and Stream return the route the server accepts.
func (s *Ingest) RuleID() string { return s.opts.RuleID }

// Stream returns the stream name the server accepts.
func (s *Ingest) Stream() string { return s.opts.Stream }

// FailCall makes the server answer f to request number n (1-based, counting
// every request including retries).
func (s *Ingest) FailCall(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onCall[n] = f
}

// FailCalls makes the server answer f to requests first..last inclusive.
func (s *Ingest) FailCalls(first, last int, f Fault) {
	for n := first; n <= last; n++ {
		s.FailCall(n, f)
	}
}

// FailRows makes the server answer f to every call whose body contains a
// row for which match returns true. The check runs after the body is
// parsed and validated, like a rejection by the service.
func (s *Ingest) FailRows(match func(row []byte) bool, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRow = append(s.onRow, rowFault{match: match, fault: f})
}

// Down makes the server answer f to every call until Up is called.
func (s *Ingest) Down(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = &f
}

// Up ends Down.
func (s *Ingest) Up() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = nil
}

// Calls returns a copy of every request received so far.
func (s *Ingest) Calls() []IngestCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]IngestCall(nil), s.calls...)
}

// Rows returns a copy of every row accepted so far, in arrival order, each
// as its own compact JSON object.
func (s *Ingest) Rows() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.accepted))
	for i, r := range s.accepted {
		out[i] = bytes.Clone(r)
	}
	return out
}

func (s *Ingest) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	call := IngestCall{N: s.n, Gzip: r.Header.Get("Content-Encoding") == "gzip"}
	fault, injected := s.onCall[call.N]
	if s.down != nil {
		fault, injected = *s.down, true
	}
	s.mu.Unlock()

	status, rows := s.handle(w, r, &call, fault, injected)
	call.Status = status

	s.mu.Lock()
	defer s.mu.Unlock()
	if status == http.StatusNoContent {
		s.accepted = append(s.accepted, rows...)
	}
	s.calls = append(s.calls, call)
}

// handle answers one request and returns the status and, on success, the
// rows to record.
func (s *Ingest) handle(w http.ResponseWriter, r *http.Request, call *IngestCall, fault Fault, injected bool) (int, [][]byte) {
	// Read the body first, whatever the answer, so the client never sees a
	// reset connection.
	wire, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxBytes)*4+1))
	_, _ = io.Copy(io.Discard, r.Body)
	if err != nil {
		return writeError(w, Fault{Status: http.StatusBadRequest, Code: "InvalidPayload", Message: "could not read the body"}), nil
	}
	call.WireBytes = len(wire)

	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	call.Token = tok
	if !ok || tok == "" {
		return writeError(w, Fault{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Message: "a bearer token is required"}), nil
	}
	if injected {
		if fault.Delay > 0 {
			select {
			case <-time.After(fault.Delay):
			case <-r.Context().Done():
			}
		}
		return writeError(w, fault), nil
	}
	if s.opts.Token != "" && tok != s.opts.Token {
		return writeError(w, Fault{Status: http.StatusForbidden, Code: "OperationFailed",
			Message: "The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '" + s.opts.RuleID + "'."}), nil
	}
	if r.Method != http.MethodPost {
		return writeError(w, Fault{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Message: r.Method + " is not allowed"}), nil
	}
	wantPath := "/dataCollectionRules/" + s.opts.RuleID + "/streams/" + s.opts.Stream
	if r.URL.Path != wantPath {
		if strings.HasPrefix(r.URL.Path, "/dataCollectionRules/"+s.opts.RuleID+"/streams/") {
			return writeError(w, Fault{Status: http.StatusBadRequest, Code: "InvalidStream", Message: "Invalid stream name."}), nil
		}
		return writeError(w, Fault{Status: http.StatusNotFound, Code: "NotFound", Message: "Data collection rule not found."}), nil
	}
	if v := r.URL.Query().Get("api-version"); v != IngestAPIVersion {
		return writeError(w, Fault{Status: http.StatusBadRequest, Code: "InvalidApiVersion", Message: fmt.Sprintf("api-version %q is not supported", v)}), nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return writeError(w, Fault{Status: http.StatusUnsupportedMediaType, Code: "UnsupportedMediaType", Message: fmt.Sprintf("Content-Type %q is not supported", ct)}), nil
	}
	body := wire
	switch ce := r.Header.Get("Content-Encoding"); ce {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(wire))
		if err != nil {
			return writeError(w, Fault{Status: http.StatusBadRequest, Code: "InvalidContentEncoding", Message: "body is not gzip"}), nil
		}
		body, err = io.ReadAll(io.LimitReader(zr, int64(s.opts.MaxBytes)+1))
		if err != nil {
			return writeError(w, Fault{Status: http.StatusBadRequest, Code: "InvalidContentEncoding", Message: "body is not gzip"}), nil
		}
		if len(body) > s.opts.MaxBytes {
			// The rest is not read: the limit is already exceeded.
			call.Bytes = len(body)
			return writeError(w, tooLarge(len(body), s.opts.MaxBytes)), nil
		}
	default:
		return writeError(w, Fault{Status: http.StatusBadRequest, Code: "InvalidContentEncoding", Message: fmt.Sprintf("Content-Encoding %q is not supported", ce)}), nil
	}
	call.Bytes = len(body)
	if len(body) > s.opts.MaxBytes || len(wire) > s.opts.MaxBytes {
		return writeError(w, tooLarge(max(len(body), len(wire)), s.opts.MaxBytes)), nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return writeError(w, Fault{Status: http.StatusBadRequest, Code: "InvalidPayload", Message: "The body must be a JSON array of objects."}), nil
	}
	call.Rows = len(raw)
	rows := make([][]byte, len(raw))
	for i, row := range raw {
		var buf bytes.Buffer
		if err := json.Compact(&buf, row); err != nil {
			return writeError(w, Fault{Status: http.StatusBadRequest, Code: "InvalidPayload", Message: fmt.Sprintf("record %d: %v", i, err)}), nil
		}
		rows[i] = buf.Bytes()
		if err := s.opts.Validate(rows[i]); err != nil {
			return writeError(w, Fault{Status: http.StatusBadRequest, Code: "InvalidPayload",
				Message: fmt.Sprintf("record %d does not match stream %s: %s", i, s.opts.Stream, strings.ReplaceAll(err.Error(), "\n", "; "))}), nil
		}
	}
	s.mu.Lock()
	onRow := append([]rowFault(nil), s.onRow...)
	s.mu.Unlock()
	for _, rf := range onRow {
		for _, row := range rows {
			if rf.match(row) {
				return writeError(w, rf.fault), nil
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent, rows
}

func tooLarge(got, limit int) Fault {
	return Fault{Status: http.StatusRequestEntityTooLarge, Code: "ContentLengthLimitExceeded",
		Message: fmt.Sprintf("Maximum allowed content length: %d bytes. Provided content length: %d bytes.", limit, got)}
}

// writeError answers f with the service's error shape: an x-ms-error-code
// header and {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, f Fault) int {
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.Code == "" {
		f.Code = defaultCode(f.Status)
	}
	if f.Message == "" {
		f.Message = http.StatusText(f.Status)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-ms-error-code", f.Code)
	if f.RetryAfter > 0 {
		if f.RetryAfter%time.Second == 0 {
			h.Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
		} else {
			h.Set("retry-after-ms", strconv.FormatInt(f.RetryAfter.Milliseconds(), 10))
		}
	}
	w.WriteHeader(f.Status)
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": f.Code, "message": f.Message}})
	_, _ = w.Write(body)
	return f.Status
}

func defaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "InvalidPayload"
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken"
	case http.StatusForbidden:
		return "OperationFailed"
	case http.StatusRequestEntityTooLarge:
		return "ContentLengthLimitExceeded"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	default:
		return "InternalServerError"
	}
}
