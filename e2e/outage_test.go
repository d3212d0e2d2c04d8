package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/testenv"
)

// TestServeStartsWithAzuriteDown is a fresh deployment whose storage does
// not answer yet: serve must answer HTTP at once (the host restarts a
// handler that does not answer within 30 s and shuts itself down after 3
// restarts) and stay up; batches answer 5xx (the host retries them) until
// the store answers, then 2xx; after the host's redelivery the alerts are
// a clean run's.
func TestServeStartsWithAzuriteDown(t *testing.T) {
	srv := testenv.StartAzurite(t, testenv.Persistent())
	if srv.External() {
		t.Skip("cannot stop an external table service")
	}
	require.NoError(t, srv.Stop()) // its port is known and nothing listens there
	out := filepath.Join(t.TempDir(), "alerts.jsonl")
	env := tableEnv(srv.ConnectionString(), out)
	env["DRSWATCH_CREATE_TABLE"] = "true"

	start := time.Now()
	s := startServeNoWait(t, env, freePort(t))
	require.Less(t, time.Since(start), time.Second, "answers HTTP within a second")

	batches := traffic(31, 6)
	for i, bs := range batches[:3] {
		code, err := s.post("SignInLogs", envelopeRetry(bs, 0))
		require.NoError(t, err)
		require.GreaterOrEqual(t, code, 500, "batch %d while the store is down", i)
	}
	// The first attempt to open the store ends (with the SDK's own retries)
	// in a warning saying why; the process stays up.
	require.Eventually(t, func() bool { return strings.Contains(s.stderr.String(), "dependency not ready") },
		30*time.Second, 50*time.Millisecond)
	require.Contains(t, s.stderr.String(), `"level":"warn"`)
	select {
	case <-s.done:
		t.Fatalf("serve exited with the store down: %v\n%s", s.err, s.log.String())
	default:
	}
	code, err := s.post("SignInLogs", envelopeRetry(batches[0], 1))
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, code)
	resp, err := http.Get(s.url("/"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(b), `"status":"starting"`)

	require.NoError(t, srv.Restart())
	// The host retries the failed batch (RetryCount counting up) until it
	// succeeds, then goes on with the partition.
	for i, bs := range batches {
		deadline := time.Now().Add(60 * time.Second)
		for retry := 0; ; retry++ {
			code, err := s.post("SignInLogs", envelopeRetry(bs, retry))
			require.NoError(t, err)
			if code == http.StatusOK {
				break
			}
			require.GreaterOrEqual(t, code, 500)
			require.True(t, time.Now().Before(deadline), "batch %d still %d after Azurite is back:\n%s", i, code, s.log.String())
			time.Sleep(200 * time.Millisecond)
		}
	}
	require.True(t, strings.Contains(s.log.String(), `"msg":"dependency ready"`), s.log.String())
	resp, err = http.Get(s.url("/"))
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.JSONEq(t, `{"status":"ready"}`, string(b))
	s.kill()
	require.Equal(t, cleanRun(t, batches), argMax(t, readRows(t, out)))
}
