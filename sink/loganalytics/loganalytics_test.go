package loganalytics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/schema"
	"github.com/drswatch/drswatch/sink"
	"github.com/drswatch/drswatch/sink/loganalytics"
)

// The pipeline declares this interface; the sinks must satisfy it.
var (
	_ interface {
		Send(context.Context, [][]byte) []error
	} = (*loganalytics.Sink)(nil)
	_ interface {
		Send(context.Context, [][]byte) []error
	} = (*sink.Writer)(nil)
)

// fastOptions keeps retries short so the whole package runs in seconds.
func fastOptions() *loganalytics.Options {
	return &loganalytics.Options{
		MaxRetries:    3,
		RetryDelay:    5 * time.Millisecond,
		MaxRetryDelay: 2 * time.Second,
		CallTimeout:   5 * time.Second,
	}
}

func newSink(t *testing.T, srv *testenv.Ingest, opts *loganalytics.Options, cred azcore.TokenCredential) *loganalytics.Sink {
	t.Helper()
	if opts == nil {
		opts = fastOptions()
	}
	if cred == nil {
		cred = &azfake.TokenCredential{}
	}
	opts.Transport = srv.Client()
	s, err := loganalytics.New(srv.URL, srv.RuleID(), srv.Stream(), cred, opts)
	require.NoError(t, err)
	return s
}

// row encodes a valid alert row numbered i, padded with about pad bytes.
func row(i, pad int) []byte {
	r := map[string]any{
		"TimeGenerated":     "2026-11-27T10:00:00.5Z",
		"AlertId":           fmt.Sprintf("alert-%05d", i),
		"Revision":          1,
		"RuleId":            "rule",
		"RiskScore":         73,
		"WindowStart":       "2026-11-27T09:30:00Z",
		"UserPrincipalName": "user@example.com",
		"UserAgents":        []string{strings.Repeat("a", pad)},
		"EventCount":        i,
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return b
}

func rows(n, pad int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = row(i, pad)
	}
	return out
}

// alertIDs returns the AlertId of each row.
func alertIDs(t *testing.T, rs [][]byte) []string {
	t.Helper()
	ids := make([]string, len(rs))
	for i, r := range rs {
		var v struct{ AlertId string }
		require.NoError(t, json.Unmarshal(r, &v))
		ids[i] = v.AlertId
	}
	return ids
}

func requireAllNil(t *testing.T, errs []error, n int) {
	t.Helper()
	require.Len(t, errs, n)
	for i, err := range errs {
		require.NoError(t, err, "row %d", i)
	}
}

func requireKind(t *testing.T, err error, kind sink.Kind) *sink.Error {
	t.Helper()
	var se *sink.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, kind, se.Kind, "error: %v", err)
	require.Equal(t, kind.Permanent(), sink.IsPermanent(err))
	return se
}

func TestNewRejectsBadArguments(t *testing.T) {
	cred := &azfake.TokenCredential{}
	tests := []struct {
		name     string
		endpoint string
		rule     string
		stream   string
		cred     azcore.TokenCredential
	}{
		{name: "http endpoint", endpoint: "http://example.com", rule: "dcr-1", stream: "s", cred: cred},
		{name: "no host", endpoint: "https://", rule: "dcr-1", stream: "s", cred: cred},
		{name: "query", endpoint: "https://x.example.com/?sig=secret", rule: "dcr-1", stream: "s", cred: cred},
		{name: "no rule", endpoint: "https://x.example.com", stream: "s", cred: cred},
		{name: "no stream", endpoint: "https://x.example.com", rule: "dcr-1", cred: cred},
		{name: "nil credential", endpoint: "https://x.example.com", rule: "dcr-1", stream: "s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loganalytics.New(tc.endpoint, tc.rule, tc.stream, tc.cred, nil)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestSendHappyPath(t *testing.T) {
	srv := testenv.NewIngest(t, nil)
	s := newSink(t, srv, nil, nil)
	in := rows(50, 100)
	// A row with insignificant whitespace is sent as is and still valid.
	in[3] = append([]byte("  "), append(bytes.ReplaceAll(in[3], []byte(","), []byte(",\n ")), ' ')...)

	requireAllNil(t, s.Send(context.Background(), in), len(in))
	require.Equal(t, alertIDs(t, in), alertIDs(t, srv.Rows()))
	calls := srv.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, http.StatusNoContent, calls[0].Status)
	require.True(t, calls[0].Gzip, "body must be gzipped")
	require.Less(t, calls[0].WireBytes, calls[0].Bytes)
	require.Equal(t, "fake_token", calls[0].Token)
	for _, r := range srv.Rows() {
		require.NoError(t, schema.ValidateRow(r))
	}

	require.Empty(t, s.Send(context.Background(), nil))
	require.Len(t, srv.Calls(), 1, "no rows, no call")
}

func TestSendTransientFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(srv *testenv.Ingest)
		opts      func(o *loganalytics.Options)
		wantKind  sink.Kind // 0: every row delivered
		wantCalls int
		minTime   time.Duration
		maxTime   time.Duration
	}{
		{
			name:      "503 twice then back",
			setup:     func(srv *testenv.Ingest) { srv.FailCalls(1, 2, testenv.Fault{Status: 503}) },
			wantCalls: 3,
			maxTime:   2 * time.Second,
		},
		{
			name: "500 502 504 then back",
			setup: func(srv *testenv.Ingest) {
				srv.FailCall(1, testenv.Fault{Status: 500})
				srv.FailCall(2, testenv.Fault{Status: 502})
				srv.FailCall(3, testenv.Fault{Status: 504})
			},
			wantCalls: 4,
			maxTime:   2 * time.Second,
		},
		{
			name:      "429 with Retry-After honoured",
			setup:     func(srv *testenv.Ingest) { srv.FailCall(1, testenv.Fault{Status: 429, RetryAfter: time.Second}) },
			wantCalls: 2,
			minTime:   900 * time.Millisecond,
			maxTime:   3 * time.Second,
		},
		{
			name:      "503 until retries run out",
			setup:     func(srv *testenv.Ingest) { srv.Down(testenv.Fault{Status: 503}) },
			opts:      func(o *loganalytics.Options) { o.MaxRetries = 2 },
			wantKind:  sink.KindUnavailable,
			wantCalls: 3,
			maxTime:   2 * time.Second,
		},
		{
			name:      "429 asking longer than MaxRetryDelay is not waited for",
			setup:     func(srv *testenv.Ingest) { srv.Down(testenv.Fault{Status: 429, RetryAfter: 30 * time.Second}) },
			wantKind:  sink.KindThrottled,
			wantCalls: 1,
			maxTime:   time.Second,
		},
		{
			name:      "403 is reported, not permanent",
			setup:     func(srv *testenv.Ingest) { srv.Down(testenv.Fault{Status: 403}) },
			wantKind:  sink.KindUnauthorized,
			wantCalls: 1,
			maxTime:   time.Second,
		},
		{
			name:      "call timeout",
			setup:     func(srv *testenv.Ingest) { srv.Down(testenv.Fault{Status: 503, Delay: 10 * time.Second}) },
			opts:      func(o *loganalytics.Options) { o.CallTimeout = 300 * time.Millisecond },
			wantKind:  sink.KindTimeout,
			wantCalls: 1,
			minTime:   250 * time.Millisecond,
			maxTime:   3 * time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.NewIngest(t, nil)
			tc.setup(srv)
			o := fastOptions()
			if tc.opts != nil {
				tc.opts(o)
			}
			s := newSink(t, srv, o, nil)
			in := rows(10, 10)

			start := time.Now()
			errs := s.Send(context.Background(), in)
			elapsed := time.Since(start)

			require.Len(t, errs, len(in))
			if tc.wantKind == 0 {
				requireAllNil(t, errs, len(in))
				require.Equal(t, alertIDs(t, in), alertIDs(t, srv.Rows()))
			} else {
				for i, err := range errs {
					requireKind(t, err, tc.wantKind)
					require.False(t, sink.IsPermanent(err), "row %d", i)
				}
				require.Empty(t, srv.Rows())
			}
			// The timeout case: the server may or may not have logged the
			// abandoned call by now.
			if tc.wantKind != sink.KindTimeout {
				require.Len(t, srv.Calls(), tc.wantCalls)
			}
			require.GreaterOrEqual(t, elapsed, tc.minTime)
			require.Less(t, elapsed, tc.maxTime)
		})
	}
}

func TestSendErrorsCarryReasons(t *testing.T) {
	srv := testenv.NewIngest(t, nil)
	srv.Down(testenv.Fault{Status: 429, RetryAfter: 30 * time.Second})
	errs := newSink(t, srv, nil, nil).Send(context.Background(), rows(1, 0))
	se := requireKind(t, errs[0], sink.KindThrottled)
	require.Equal(t, 429, se.StatusCode)
	require.Equal(t, "TooManyRequests", se.Code)
	require.Equal(t, 30*time.Second, se.RetryAfter)

	srv.Down(testenv.Fault{Status: 403})
	errs = newSink(t, srv, nil, nil).Send(context.Background(), rows(1, 0))
	se = requireKind(t, errs[0], sink.KindUnauthorized)
	require.Contains(t, se.Error(), "Monitoring Metrics Publisher")
	for _, secret := range []string{"fake_token", srv.URL, srv.RuleID()} {
		require.NotContains(t, se.Error(), secret)
	}
}

func TestSendStopsAfterTransientFailure(t *testing.T) {
	srv := testenv.NewIngest(t, nil)
	srv.Down(testenv.Fault{Status: 503})
	o := fastOptions()
	o.MaxRetries = -1
	o.MaxCallBytes = 2_000
	s := newSink(t, srv, o, nil)
	in := rows(20, 500) // several calls' worth

	errs := s.Send(context.Background(), in)
	require.Len(t, srv.Calls(), 1, "no calls after the service failed")
	requireKind(t, errs[0], sink.KindUnavailable)
	requireKind(t, errs[len(errs)-1], sink.KindNotAttempted)

	srv.Up()
	requireAllNil(t, s.Send(context.Background(), in), len(in))
	require.Equal(t, alertIDs(t, in), alertIDs(t, srv.Rows()))
}

func TestSendSplitsAtLimit(t *testing.T) {
	srv := testenv.NewIngest(t, nil)
	s := newSink(t, srv, nil, nil)
	in := rows(1200, 3000) // about 3.8 MB

	requireAllNil(t, s.Send(context.Background(), in), len(in))

	calls := srv.Calls()
	require.GreaterOrEqual(t, len(calls), 4)
	total := 0
	for i, c := range calls {
		require.Equal(t, http.StatusNoContent, c.Status)
		require.LessOrEqual(t, c.Bytes, loganalytics.DefaultMaxCallBytes, "call %d", c.N)
		if i < len(calls)-1 { // the last call takes the remainder
			require.Greater(t, c.Bytes, loganalytics.DefaultMaxCallBytes-4_000, "call %d is not full", c.N)
		}
		total += c.Rows
	}
	require.Equal(t, len(in), total)
	require.Equal(t, alertIDs(t, in), alertIDs(t, srv.Rows()), "every row once, in order")
}

func TestSendSplitsOn413(t *testing.T) {
	tests := []struct {
		name  string
		setup func(srv *testenv.Ingest)
		fake  *testenv.IngestOptions
	}{
		{name: "service limit lower than ours", fake: &testenv.IngestOptions{MaxBytes: 300_000}},
		{name: "injected 413", setup: func(srv *testenv.Ingest) { srv.FailCall(1, testenv.Fault{Status: 413}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.NewIngest(t, tc.fake)
			if tc.setup != nil {
				tc.setup(srv)
			}
			in := rows(100, 5_000) // about 520 KB
			requireAllNil(t, newSink(t, srv, nil, nil).Send(context.Background(), in), len(in))
			calls := srv.Calls()
			require.Equal(t, http.StatusRequestEntityTooLarge, calls[0].Status)
			require.Len(t, calls, 3, "one 413, then two halves")
			require.Equal(t, alertIDs(t, in), alertIDs(t, srv.Rows()))
		})
	}
}

func TestSendIsolatesRejectedRows(t *testing.T) {
	tests := []struct {
		name     string
		bad      []int
		corrupt  bool // make the rows fail schema validation in the fake
		wantCode string
		wantMsg  string
	}{
		{name: "one row with a wrong type", bad: []int{17}, corrupt: true, wantCode: "InvalidPayload", wantMsg: "Revision"},
		{name: "first and last rows", bad: []int{0, 39}, corrupt: true, wantCode: "InvalidPayload", wantMsg: "Revision"},
		{name: "rejected by predicate", bad: []int{5, 6, 30}, wantCode: "RowRejected", wantMsg: "rejected for the test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.NewIngest(t, nil)
			in := rows(40, 50)
			bad := map[string]bool{}
			for _, i := range tc.bad {
				if tc.corrupt {
					in[i] = bytes.Replace(in[i], []byte(`"Revision":1`), []byte(`"Revision":"one"`), 1)
				}
				bad[fmt.Sprintf("alert-%05d", i)] = true
			}
			if !tc.corrupt {
				srv.FailRows(func(r []byte) bool {
					return bad[alertIDs(t, [][]byte{r})[0]]
				}, testenv.Fault{Status: 400, Code: "RowRejected", Message: "rejected for the test"})
			}

			errs := newSink(t, srv, nil, nil).Send(context.Background(), in)
			require.Len(t, errs, len(in))
			var want []string
			for i, err := range errs {
				id := fmt.Sprintf("alert-%05d", i)
				if !bad[id] {
					require.NoError(t, err, "row %d", i)
					want = append(want, id)
					continue
				}
				se := requireKind(t, err, sink.KindRejected)
				require.True(t, se.Permanent())
				require.Equal(t, 400, se.StatusCode)
				require.Equal(t, tc.wantCode, se.Code)
				require.Contains(t, se.Message, tc.wantMsg)
			}
			require.Equal(t, want, alertIDs(t, srv.Rows()), "good rows delivered once")
			require.LessOrEqual(t, len(srv.Calls()), 1+2*6*len(tc.bad), "bisection is logarithmic")
		})
	}
}

func TestSendLocalChecks(t *testing.T) {
	huge := row(1, loganalytics.DefaultMaxCallBytes)
	tests := []struct {
		name     string
		row      []byte
		validate bool
		wantKind sink.Kind
	}{
		{name: "single row over the limit", row: huge, wantKind: sink.KindTooLarge},
		{name: "not JSON", row: []byte(`{"TimeGenerated":`), wantKind: sink.KindInvalid},
		{name: "JSON array", row: []byte(`[1,2]`), wantKind: sink.KindInvalid},
		{name: "empty", row: nil, wantKind: sink.KindInvalid},
		{name: "fails Validate", row: []byte(`{"TimeGenerated":"yesterday"}`), validate: true, wantKind: sink.KindInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.NewIngest(t, nil)
			o := fastOptions()
			if tc.validate {
				o.Validate = schema.ValidateRow
			}
			in := [][]byte{row(0, 10), tc.row, row(2, 10)}
			errs := newSink(t, srv, o, nil).Send(context.Background(), in)
			require.NoError(t, errs[0])
			require.NoError(t, errs[2])
			requireKind(t, errs[1], tc.wantKind)
			require.True(t, sink.IsPermanent(errs[1]))
			require.Equal(t, []string{"alert-00000", "alert-00002"}, alertIDs(t, srv.Rows()))
			require.Len(t, srv.Calls(), 1)
		})
	}
}

func TestSendServiceSaysRowTooLarge(t *testing.T) {
	srv := testenv.NewIngest(t, &testenv.IngestOptions{MaxBytes: 5_000})
	in := [][]byte{row(0, 10), row(1, 8_000), row(2, 10)}
	errs := newSink(t, srv, nil, nil).Send(context.Background(), in)
	require.NoError(t, errs[0])
	require.NoError(t, errs[2])
	se := requireKind(t, errs[1], sink.KindTooLarge)
	require.Equal(t, "ContentLengthLimitExceeded", se.Code)
	require.Equal(t, []string{"alert-00000", "alert-00002"}, alertIDs(t, srv.Rows()))
}

func TestSendConfigErrorsAreNotPermanent(t *testing.T) {
	srv := testenv.NewIngest(t, nil)
	o := fastOptions()
	o.Transport = srv.Client()
	s, err := loganalytics.New(srv.URL, srv.RuleID(), "Custom-Wrong", &azfake.TokenCredential{}, o)
	require.NoError(t, err)
	errs := s.Send(context.Background(), rows(8, 10))
	for _, err := range errs {
		se := requireKind(t, err, sink.KindConfig)
		require.Equal(t, "InvalidStream", se.Code)
	}
	require.Len(t, srv.Calls(), 1, "a wrong stream is not bisected")
}

func TestSendCredentialFailure(t *testing.T) {
	srv := testenv.NewIngest(t, nil)
	cred := &azfake.TokenCredential{}
	cred.SetError(fmt.Errorf("no identity here"))
	errs := newSink(t, srv, nil, cred).Send(context.Background(), rows(2, 0))
	for _, err := range errs {
		requireKind(t, err, sink.KindUnauthorized)
	}
	require.Empty(t, srv.Calls())
}

func TestSendCanceled(t *testing.T) {
	t.Run("before Send", func(t *testing.T) {
		srv := testenv.NewIngest(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		errs := newSink(t, srv, nil, nil).Send(ctx, rows(5, 0))
		for _, err := range errs {
			requireKind(t, err, sink.KindCanceled)
			require.ErrorIs(t, err, context.Canceled)
		}
		require.Empty(t, srv.Calls())
	})
	t.Run("while waiting to retry", func(t *testing.T) {
		srv := testenv.NewIngest(t, nil)
		srv.Down(testenv.Fault{Status: 503, RetryAfter: time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		errs := newSink(t, srv, nil, nil).Send(ctx, rows(5, 0))
		require.Less(t, time.Since(start), 900*time.Millisecond, "Send must not wait for Retry-After once ctx ends")
		for _, err := range errs {
			requireKind(t, err, sink.KindCanceled)
		}
	})
}

// TestManagedIdentity uploads through the real azidentity managed identity
// path (App Service source) against the fake identity endpoint; the fake
// ingestion endpoint accepts only the token that endpoint issued.
func TestManagedIdentity(t *testing.T) {
	tests := []struct {
		name string
		cred func(t *testing.T, clientID string) azcore.TokenCredential
	}{
		{
			name: "ManagedIdentityCredential",
			cred: func(t *testing.T, clientID string) azcore.TokenCredential {
				c, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(clientID)})
				require.NoError(t, err)
				return c
			},
		},
		{
			name: "DefaultAzureCredential",
			cred: func(t *testing.T, clientID string) azcore.TokenCredential {
				t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
				t.Setenv("AZURE_CLIENT_ID", clientID)
				c, err := azidentity.NewDefaultAzureCredential(nil)
				require.NoError(t, err)
				return c
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mi := testenv.NewManagedIdentity(t)
			mi.Setenv(t)
			clientID := testenv.NewClientID()
			srv := testenv.NewIngest(t, &testenv.IngestOptions{Token: mi.Token})
			s := newSink(t, srv, nil, tc.cred(t, clientID))

			in := rows(3, 10)
			requireAllNil(t, s.Send(context.Background(), in), len(in))
			requireAllNil(t, s.Send(context.Background(), in), len(in))
			require.Len(t, srv.Rows(), 6)
			for _, c := range srv.Calls() {
				require.Equal(t, mi.Token, c.Token)
			}
			reqs := mi.Requests()
			require.Len(t, reqs, 1, "the token is cached between calls")
			require.Equal(t, testenv.TokenRequest{Resource: testenv.MonitorResource, ClientID: clientID, Status: http.StatusOK}, reqs[0])
		})
	}
}

// TestManagedIdentityRefused: the identity endpoint refuses (wrong secret);
// rows fail as unauthorized, not permanent, and nothing reaches ingestion.
func TestManagedIdentityRefused(t *testing.T) {
	mi := testenv.NewManagedIdentity(t)
	mi.Setenv(t)
	t.Setenv("IDENTITY_HEADER", "not-the-secret")
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(testenv.NewClientID())})
	require.NoError(t, err)
	srv := testenv.NewIngest(t, &testenv.IngestOptions{Token: mi.Token})

	errs := newSink(t, srv, nil, cred).Send(context.Background(), rows(2, 0))
	for _, err := range errs {
		requireKind(t, err, sink.KindUnauthorized)
		require.NotContains(t, err.Error(), mi.Header)
		require.NotContains(t, err.Error(), "not-the-secret")
	}
	require.Empty(t, srv.Calls())
	require.NotEmpty(t, mi.Requests())
}
