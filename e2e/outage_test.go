package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/store/tablestore"
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

	binary(t, "drswatch") // built before the clock starts
	start := time.Now()
	s := startServeNoWait(t, env, freePort(t))
	answered := time.Since(start)
	require.Less(t, answered, time.Second, "answers HTTP within a second")

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

	t.Logf("answered HTTP %v after start; first not-ready warning %v after start", answered, time.Since(start))
	require.NoError(t, srv.Restart())
	back := time.Now()
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
	t.Logf("every batch stored %v after Azurite came back", time.Since(back))
	require.True(t, strings.Contains(s.log.String(), `"msg":"dependency ready"`), s.log.String())
	resp, err = http.Get(s.url("/"))
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.JSONEq(t, `{"status":"ready"}`, string(b))
	s.kill()
	require.Equal(t, cleanRun(t, batches), argMax(t, readRows(t, out)))
}

// TestHostileEnvelopesAreDeadLettered: invocations no retry can fix answer
// 2xx (a 5xx would be retried without end) and land whole in the dead-letter
// container, read back through the blob API; one that was only too large is
// replayed from its dead letter with `drswatch replay --invocation` and
// alerts as it would have.
func TestHostileEnvelopesAreDeadLettered(t *testing.T) {
	blob := testenv.StartAzurite(t, testenv.Blob())
	const container = "drswatch-deadletter"
	testenv.CreateContainer(t, blob.ConnectionString(), container)
	out := filepath.Join(t.TempDir(), "alerts.jsonl")
	env := tableEnv(azurite.Get(t).ConnectionString(), out)
	env["DRSWATCH_BLOB_CONNECTION"] = blob.ConnectionString()
	env["DRSWATCH_MAX_BODY_BYTES"] = "4096"
	s := startServe(t, env, freePort(t))

	phish := [][]byte{fixture.Body(fixture.Phish("dead.letter@contoso.example", "s-dead", recentWindow())...)}
	tooLarge := envelopeRetry(append(phish, bytes.Repeat([]byte(" "), 5000)), 0)
	hostile := map[string][]byte{
		"not json":          []byte("this is not json"),
		"no Data":           []byte(`{"Metadata":{}}`),
		"unknown binding":   []byte(`{"Data":{"messages":"[]"},"Metadata":{}}`),
		"events not a list": []byte(`{"Data":{"events":42},"Metadata":{}}`),
		"over the body cap": tooLarge,
	}
	for name, body := range hostile {
		code, err := s.post("SignInLogs", body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, "%s:\n%s", name, s.log.String())
	}
	blobs := testenv.Blobs(t, blob.ConnectionString(), container)
	require.Len(t, blobs, len(hostile), "one dead letter each")
	var large string
	for name, body := range hostile {
		found := ""
		for k, v := range blobs {
			if bytes.Equal(v, body) {
				found = k
			}
		}
		require.NotEmpty(t, found, "%s: no dead letter holds its raw body", name)
		if name == "over the body cap" {
			large = found
			require.Contains(t, found, "-p-too_large-", "the partition is in the Metadata, after the body cap")
		}
	}
	require.Equal(t, 5, strings.Count(s.stderr.String(), `"msg":"dead-lettered"`))
	require.Empty(t, readRows(t, out), "nothing of it alerted yet")

	// The README's recovery: fetch the dead letter, replay it.
	file := filepath.Join(t.TempDir(), "dead.json")
	require.NoError(t, os.WriteFile(file, blobs[large], 0o600))
	replay := exec.Command(binary(t, "drswatch"), "replay", "--invocation", file)
	replay.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var stdout, summary bytes.Buffer
	replay.Stdout, replay.Stderr = &stdout, &summary
	require.NoError(t, replay.Run(), summary.String())
	var rows [][]byte
	for _, l := range bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n")) {
		rows = append(rows, l)
	}
	alerts := argMax(t, rows)
	require.Len(t, alerts, 1, summary.String())
	for _, a := range alerts {
		require.Contains(t, a, `"UserPrincipalName":"dead.letter@contoso.example"`)
	}
}

// TestServeCreatesNoTableUnlessTold: without DRSWATCH_CREATE_TABLE, serve
// does not create its table (in Azure the template does, and the app's role
// cannot): until the table exists it answers 503 and says why; once it
// exists, serve goes on by itself.
func TestServeCreatesNoTableUnlessTold(t *testing.T) {
	env := tableEnv(azurite.Get(t).ConnectionString(), filepath.Join(t.TempDir(), "a.jsonl"))
	delete(env, "DRSWATCH_CREATE_TABLE")
	s := startServeNoWait(t, env, freePort(t))
	require.Eventually(t, func() bool { return strings.Contains(s.stderr.String(), "TableNotFound") }, 30*time.Second, 50*time.Millisecond)
	code, err := s.post("SignInLogs", envelope(traffic(41, 1)[0]))
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, code)

	st, err := tablestore.NewFromConnectionString(env["DRSWATCH_TABLE_CONNECTION"], env["DRSWATCH_TABLE_NAME"], nil)
	require.NoError(t, err)
	require.NoError(t, st.CreateTable(t.Context())) // what the template does
	require.Eventually(t, func() bool {
		code, err := s.post("SignInLogs", envelope(traffic(41, 1)[0]))
		return err == nil && code == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond)
}
