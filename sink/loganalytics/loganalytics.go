package loganalytics

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/ingestion/azlogs"

	"github.com/drswatch/drswatch/sink"
)

// Defaults for Options.
const (
	DefaultMaxCallBytes  = 1_000_000
	DefaultCallTimeout   = 30 * time.Second
	DefaultMaxRetries    = 3
	DefaultRetryDelay    = 800 * time.Millisecond
	DefaultMaxRetryDelay = 10 * time.Second
	DefaultMaxCalls      = 100
)

// maxMessage bounds the service message copied into an error.
const maxMessage = 512

// Options tunes a Sink. Zero fields take the defaults above.
type Options struct {
	// MaxCallBytes bounds the uncompressed JSON array sent in one call.
	MaxCallBytes int
	// CallTimeout bounds one call, retries and backoff included.
	CallTimeout time.Duration
	// MaxRetries is the number of retries of a call answered 408, 429 or
	// 5xx, or failed by the network. Negative means no retries.
	MaxRetries int
	// RetryDelay is the base of the exponential backoff when the service
	// gives no Retry-After.
	RetryDelay time.Duration
	// MaxRetryDelay caps each backoff; a Retry-After above it ends the call.
	MaxRetryDelay time.Duration
	// MaxCalls bounds the calls one Send makes, splits included.
	MaxCalls int
	// Validate, if set, checks each row before it is sent (for example
	// schema.ValidateRow); a row it rejects fails permanently.
	Validate func(row []byte) error
	// Transport replaces the HTTP client (tests).
	Transport policy.Transporter
	// Cloud selects a sovereign cloud; default Azure public.
	Cloud cloud.Configuration
}

// Sink sends rows to one DCR stream. It is safe for concurrent use.
type Sink struct {
	client *azlogs.Client
	ruleID string
	stream string
	opts   Options
}

// New returns a Sink that uploads to stream of the data collection rule
// whose immutable id is ruleID, through endpoint (the DCR's logs ingestion
// endpoint or a DCE, https). cred must not be nil: azcore would silently
// send unauthenticated requests.
func New(endpoint, ruleID, stream string, cred azcore.TokenCredential, opts *Options) (*Sink, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("loganalytics: endpoint must be an https URL with a host and no credentials, query or fragment")
	}
	if ruleID == "" || stream == "" {
		return nil, errors.New("loganalytics: rule id and stream are required")
	}
	if cred == nil {
		return nil, errors.New("loganalytics: a token credential is required")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxCallBytes <= 0 {
		o.MaxCallBytes = DefaultMaxCallBytes
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = -1 // azcore: negative means none
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if o.MaxCalls <= 0 {
		o.MaxCalls = DefaultMaxCalls
	}
	co := azcore.ClientOptions{
		Cloud:     o.Cloud,
		Transport: o.Transport,
		Retry: policy.RetryOptions{
			MaxRetries:    int32(o.MaxRetries),
			RetryDelay:    o.RetryDelay,
			MaxRetryDelay: o.MaxRetryDelay,
		},
		Telemetry: policy.TelemetryOptions{ApplicationID: "drswatch"},
	}
	client, err := azlogs.NewClient(strings.TrimRight(endpoint, "/"), cred, &azlogs.ClientOptions{ClientOptions: co})
	if err != nil {
		return nil, fmt.Errorf("loganalytics: %w", err)
	}
	return &Sink{client: client, ruleID: ruleID, stream: stream, opts: o}, nil
}

// send is the state of one Send.
type send struct {
	ctx   context.Context
	rows  [][]byte
	errs  []error
	calls int
	stop  *sink.Error // set once a call fails in a way that affects every row
}

// Send uploads rows and reports each row's fate; see the package
// documentation for the calls it makes and how failures are classified.
func (s *Sink) Send(ctx context.Context, rows [][]byte) []error {
	st := &send{ctx: ctx, rows: rows, errs: make([]error, len(rows))}
	var ok []int
	for i, row := range rows {
		if err := s.check(row); err != nil {
			st.errs[i] = err
			continue
		}
		ok = append(ok, i)
	}
	for _, chunk := range s.chunks(rows, ok) {
		s.deliver(st, chunk)
	}
	return st.errs
}

// check validates one row locally.
func (s *Sink) check(row []byte) *sink.Error {
	trimmed := bytes.TrimSpace(row)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return &sink.Error{Kind: sink.KindInvalid, Message: "row is not a JSON object"}
	}
	if n := len(row) + 2; n > s.opts.MaxCallBytes {
		return &sink.Error{Kind: sink.KindTooLarge, Message: fmt.Sprintf("row is %d bytes; one call carries at most %d", len(row), s.opts.MaxCallBytes)}
	}
	if s.opts.Validate != nil {
		if err := s.opts.Validate(row); err != nil {
			return &sink.Error{Kind: sink.KindInvalid, Message: strings.ReplaceAll(err.Error(), "\n", "; "), Err: err}
		}
	}
	return nil
}

// chunks packs row indexes, in order, into groups whose JSON array fits in
// MaxCallBytes. Every row fits on its own (check made sure).
func (s *Sink) chunks(rows [][]byte, idx []int) [][]int {
	var out [][]int
	var cur []int
	size := 0
	for _, i := range idx {
		n := len(rows[i]) + 1 // the row and a comma or "["
		if len(cur) > 0 && size+n+1 > s.opts.MaxCallBytes {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// deliver sends the rows idx in one call, splitting on 413 and bisecting on
// 400, and records each row's outcome in st.errs.
func (s *Sink) deliver(st *send, idx []int) {
	if st.stop == nil && st.ctx.Err() == nil && st.calls >= s.opts.MaxCalls {
		st.stop = &sink.Error{Kind: sink.KindNotAttempted, Message: fmt.Sprintf("call budget of %d per Send used up", s.opts.MaxCalls)}
	}
	if err := st.ctx.Err(); err != nil {
		st.fail(idx, &sink.Error{Kind: sink.KindCanceled, Message: "not sent: " + err.Error(), Err: err})
		return
	}
	if st.stop != nil {
		if st.stop.Kind == sink.KindNotAttempted {
			st.fail(idx, st.stop)
		} else {
			st.fail(idx, &sink.Error{Kind: sink.KindNotAttempted, Message: "not sent after an earlier call failed: " + st.stop.Error(), Err: st.stop})
		}
		return
	}
	st.calls++
	err := s.upload(st.ctx, encode(st.rows, idx))
	if err == nil {
		return
	}
	e := classify(st.ctx, err)
	switch {
	case e.StatusCode == http.StatusRequestEntityTooLarge && len(idx) > 1,
		e.StatusCode == http.StatusBadRequest && e.Kind == sink.KindRejected && len(idx) > 1:
		half := len(idx) / 2
		s.deliver(st, idx[:half])
		s.deliver(st, idx[half:])
		return
	case e.Permanent():
		st.fail(idx, e)
		return
	}
	st.fail(idx, e)
	st.stop = e
}

func (st *send) fail(idx []int, e *sink.Error) {
	for _, i := range idx {
		st.errs[i] = e
	}
}

// encode builds the JSON array of rows idx.
func encode(rows [][]byte, idx []int) []byte {
	n := 2
	for _, i := range idx {
		n += len(rows[i]) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for k, i := range idx {
		if k > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, rows[i]...)
	}
	return append(buf, ']')
}

// upload gzips body and sends it in one call under the call timeout.
func (s *Sink) upload(ctx context.Context, body []byte) error {
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	if _, err := zw.Write(body); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	encoding := "gzip"
	_, err := s.client.Upload(ctx, s.ruleID, s.stream, zbuf.Bytes(), &azlogs.UploadOptions{ContentEncoding: &encoding})
	return err
}

// classify turns an Upload error into a row error. parent is the caller's
// context, to tell cancellation from the call timeout.
func classify(parent context.Context, err error) *sink.Error {
	if perr := parent.Err(); perr != nil {
		return &sink.Error{Kind: sink.KindCanceled, Message: perr.Error(), Err: perr}
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return fromResponse(re)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &sink.Error{Kind: sink.KindTimeout, Message: "call timed out", Err: err}
	}
	// The bearer token policy marks every credential failure NonRetriable;
	// the only other such error it makes is for a non-https endpoint, which
	// New rules out.
	var nre interface{ NonRetriable() }
	if errors.As(err, &nre) {
		return &sink.Error{Kind: sink.KindUnauthorized, Message: "credential: " + clip(err.Error()), Err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// Drop the URL; keep what went wrong.
		return &sink.Error{Kind: sink.KindTransport, Message: clip(ue.Err.Error()), Err: err}
	}
	return &sink.Error{Kind: sink.KindTransport, Message: clip(err.Error()), Err: err}
}

// fromResponse classifies a service answer other than 204.
func fromResponse(re *azcore.ResponseError) *sink.Error {
	e := &sink.Error{StatusCode: re.StatusCode, Code: re.ErrorCode, Err: re}
	e.Message, e.Code = serviceMessage(re)
	if re.RawResponse != nil {
		e.RetryAfter = retryAfter(re.RawResponse.Header)
	}
	switch code := re.StatusCode; {
	case code == http.StatusBadRequest && e.Code == "InvalidStream":
		e.Kind = sink.KindConfig
	case code == http.StatusBadRequest:
		e.Kind = sink.KindRejected
	case code == http.StatusRequestEntityTooLarge:
		e.Kind = sink.KindTooLarge
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Kind = sink.KindUnauthorized
		e.Message += " (the identity needs the Monitoring Metrics Publisher role on the data collection rule; a new role assignment can take up to 30 minutes to apply)"
	case code == http.StatusTooManyRequests:
		e.Kind = sink.KindThrottled
	case code == http.StatusRequestTimeout || code >= 500:
		e.Kind = sink.KindUnavailable
	default:
		e.Kind = sink.KindConfig
	}
	return e
}

// serviceMessage returns the service's error message and code from the
// body {"error":{"code","message"}}, falling back to the status text and
// the x-ms-error-code header.
func serviceMessage(re *azcore.ResponseError) (msg, code string) {
	code = re.ErrorCode
	if re.RawResponse != nil {
		if body, err := runtime.Payload(re.RawResponse); err == nil && len(body) > 0 {
			var eb struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(body, &eb) == nil {
				msg = eb.Error.Message
				if code == "" {
					code = eb.Error.Code
				}
			}
		}
	}
	if msg == "" {
		msg = http.StatusText(re.StatusCode)
	}
	return clip(msg), code
}

// retryAfter reads the wait the service asked for, in the order azcore
// prefers.
func retryAfter(h http.Header) time.Duration {
	for _, k := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if v, err := strconv.Atoi(h.Get(k)); err == nil && v > 0 {
			return time.Duration(v) * time.Millisecond
		}
	}
	v := h.Get("Retry-After")
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t).Round(time.Second)
	}
	return 0
}

// clip keeps error text to one bounded line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		s = strings.ToValidUTF8(s[:maxMessage], "") + "..."
	}
	return s
}
