package e2e

// Process-level tests: the real `drswatch serve` binary, built once, run as
// the Functions host runs it, against Azurite.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/tablestore"
)

// server is one running `drswatch serve`.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	port   int
	log    *testenv.LogBuffer // stdout and stderr, as they came
	stderr *testenv.LogBuffer
	done   chan struct{}
	err    error
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServe starts the binary with env (and the port) and waits until it
// reports its dependencies open.
func startServe(t *testing.T, env map[string]string, port int) *server {
	t.Helper()
	s := startServeNoWait(t, env, port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.url("/"))
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		if strings.Contains(string(b), `"status":"ready"`) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready: %s\n%s", b, s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startServeNoWait starts the binary and waits only until it answers HTTP,
// as the host does.
func startServeNoWait(t *testing.T, env map[string]string, port int) *server {
	t.Helper()
	cmd := exec.Command(binary(t, "drswatch"), "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port)}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	s := &server{t: t, cmd: cmd, port: port, log: &testenv.LogBuffer{}, stderr: &testenv.LogBuffer{}, done: make(chan struct{})}
	cmd.Stdout = s.log
	cmd.Stderr = io.MultiWriter(s.log, s.stderr)
	require.NoError(t, cmd.Start())
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.kill(); s.requireNoInfoOnStderr() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.url("/"))
		if err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("serve exited: %v\n%s", s.err, s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready:\n%s", s.log.String())
		}
	}
}

// requireNoInfoOnStderr checks that every stderr line is a warning or an
// error: the host logs each stderr line at Error unless it contains "warn"
// (functions-host-contract.md, "Logs").
func (s *server) requireNoInfoOnStderr() {
	s.t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		if line == "" {
			continue
		}
		var v struct{ Level string }
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			continue // not a log line (a panic would be, and fail elsewhere)
		}
		require.Contains(s.t, []string{"warn", "error"}, v.Level, "stderr line %s", line)
	}
}

func (s *server) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", s.port, path) }

func (s *server) kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
}

// envelope is the host's invocation for an Event Hubs batch (dataType string)
// on its first attempt.
func envelope(bodies [][]byte) []byte { return envelopeRetry(bodies, 0) }

// envelopeRetry is the invocation of the retry-th attempt, with the metadata
// the host sends (functions-host-contract.md, "The request").
func envelopeRetry(bodies [][]byte, retry int) []byte {
	ss := make([]string, len(bodies))
	for i, b := range bodies {
		ss[i] = string(b)
	}
	arr, _ := json.Marshal(ss)
	pc := map[string]any{"EventHubName": "entra-signins", "ConsumerGroup": "drswatch", "PartitionId": "1"}
	out, _ := json.Marshal(map[string]any{"Data": map[string]any{"events": string(arr)}, "Metadata": map[string]any{
		"PartitionContext": pc, "TriggerPartitionContext": pc,
		"OffsetStringArray": `["0"]`,
		"RetryContext":      map[string]any{"RetryCount": retry, "MaxRetryCount": -1, "Exception": nil},
	}})
	return out
}

var client = &http.Client{Timeout: 60 * time.Second}

// post sends an invocation as the host does: chunked, without
// Content-Length. An error means no answer (the process died).
func (s *server) post(function string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, s.url("/"+function), struct{ io.Reader }{bytes.NewReader(body)})
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", fmt.Sprintf("%08x-0000-4000-8000-000000000000", rand.Uint32()))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct{ Outputs map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

func (s *server) mustPost(bodies [][]byte) {
	s.t.Helper()
	code, err := s.post("SignInLogs", envelope(bodies))
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, code, "log:\n%s", s.log.String())
}

func (s *server) sweep() {
	s.t.Helper()
	code, err := s.post("Sweep", []byte(`{"Data":{"timer":{"IsPastDue":false}},"Metadata":{}}`))
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, code, "log:\n%s", s.log.String())
}

// recentWindow is a minute into the last window that has ended: a
// phishing session starting there (its legs minutes apart) stays in one
// window, whatever the time of day the test runs.
func recentWindow() time.Time {
	return time.Now().UTC().Add(-30 * time.Minute).Truncate(30 * time.Minute).Add(time.Minute)
}

// traffic returns batches of recent sign-ins (serve uses the real clock):
// phishing sessions split over batches, look-alikes and noise.
func traffic(seed int64, sessions int) [][][]byte {
	r := rand.New(rand.NewSource(seed))
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(30 * time.Minute)
	var signIns []fixture.SignIn
	for i := 0; i < sessions; i++ {
		at := base.Add(time.Duration(r.Intn(150)) * time.Minute)
		upn, sess := fmt.Sprintf("user%d@contoso.example", i), fmt.Sprintf("session-%d", i)
		signIns = append(signIns, fixture.Phish(upn, sess, at)...)
		if i%3 == 0 { // a later leg from another address: a second revision
			signIns = append(signIns, fixture.SignIn{UPN: upn, Session: sess, IP: fmt.Sprintf("192.0.2.%d", i%250), Browser: "-",
				ID: fmt.Sprintf("third-%d", i), Time: at.Add(time.Minute)})
		}
		if i%4 == 0 { // look-alike: one address only
			signIns = append(signIns, fixture.SignIn{UPN: "solo" + upn, Session: sess, ID: fmt.Sprintf("solo-%d", i), Time: at})
		}
	}
	r.Shuffle(len(signIns), func(i, j int) { signIns[i], signIns[j] = signIns[j], signIns[i] })
	var batches [][][]byte
	for len(signIns) > 0 {
		n := min(1+r.Intn(5), len(signIns))
		var bodies [][]byte
		for _, s := range signIns[:n] {
			bodies = append(bodies, fixture.Body(s))
		}
		bodies = append(bodies, []byte(`{"records":[{"category":"AuditLogs","time":"2026-11-03T09:00:00Z"}]}`))
		batches = append(batches, bodies)
		signIns = signIns[n:]
	}
	return batches
}

func readRows(t *testing.T, paths ...string) [][]byte {
	t.Helper()
	var rows [][]byte
	for _, p := range paths {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			rows = append(rows, append([]byte(nil), sc.Bytes()...))
		}
		require.NoError(t, sc.Err())
		f.Close()
	}
	return rows
}

// cleanRun is the reference: one process, memory state, batches in order.
func cleanRun(t *testing.T, batches [][][]byte) map[string]string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "clean.jsonl")
	s := startServe(t, map[string]string{"DRSWATCH_STATE": "memory", "DRSWATCH_SINK": "jsonl:" + out}, freePort(t))
	for _, bs := range batches {
		s.mustPost(bs)
	}
	s.kill()
	return argMax(t, readRows(t, out))
}

func tableEnv(conn, sinkPath string) map[string]string {
	return map[string]string{"DRSWATCH_STATE": "table", "DRSWATCH_TABLE_CONNECTION": conn,
		"DRSWATCH_TABLE_NAME": tableName("p"), "DRSWATCH_SINK": "jsonl:" + sinkPath,
		"DRSWATCH_CREATE_TABLE": "true"}
}

func TestServeListensOnLoopbackOnly(t *testing.T) {
	port := freePort(t)
	s := startServe(t, map[string]string{"DRSWATCH_STATE": "memory", "DRSWATCH_SINK": "jsonl:" + filepath.Join(t.TempDir(), "a.jsonl")}, port)
	require.Contains(t, s.log.String(), fmt.Sprintf(`"addr":"127.0.0.1:%d"`, port))
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	tried := 0
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.To4() == nil {
			continue
		}
		tried++
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("serve answers on %s", ipn.IP)
		}
	}
	t.Logf("refused on %d non-loopback addresses", tried)
}

func TestSIGTERMFinishesInFlightBatch(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "alerts.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	// The sink blocks once the pipe is full: fill it from a second writer,
	// then the in-flight batch's alert write waits until the test reads.
	opened := make(chan *os.File, 1)
	go func() {
		r, err := os.OpenFile(fifo, os.O_RDONLY, 0)
		if err == nil {
			opened <- r
		}
	}()
	port := freePort(t)
	s := startServe(t, map[string]string{"DRSWATCH_STATE": "memory", "DRSWATCH_SINK": "jsonl:" + fifo}, port)
	reader := <-opened
	defer reader.Close()
	// Raw non-blocking writes: os.File would wait in the poller instead.
	filler, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	chunk := bytes.Repeat([]byte("x"), 4096)
	for {
		if _, err := syscall.Write(filler, chunk); err != nil {
			break // EAGAIN: the pipe is full
		}
	}
	require.NoError(t, syscall.Close(filler))

	at := recentWindow()
	codes := make(chan int, 1)
	go func() {
		code, err := s.post("SignInLogs", envelope([][]byte{fixture.Body(fixture.Phish("term@contoso.example", "s-term", at)...)}))
		if err != nil {
			code = -1
		}
		codes <- code
	}()
	time.Sleep(500 * time.Millisecond) // the batch is now blocked writing its alert
	require.Empty(t, codes, "the batch is still in flight")
	start := time.Now()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return strings.Contains(s.log.String(), "shutting down") }, 5*time.Second, 10*time.Millisecond)
	shutdownGrace := loggedGrace(t, s.log)
	_, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	require.Error(t, err, "new connections are refused once shutdown starts")
	select {
	case <-s.done:
		t.Fatal("exited with a batch in flight")
	case <-time.After(300 * time.Millisecond):
	}
	go func() { _, _ = bufio.NewReader(reader).WriteTo(io.Discard) }() // drain: the write completes
	require.Equal(t, http.StatusOK, <-codes, "the in-flight batch completes")
	select {
	case <-s.done:
	case <-time.After(shutdownGrace):
		t.Fatal("not stopped within the grace period")
	}
	require.NoError(t, s.err, "exit status 0; log:\n%s", s.log.String())
	require.Less(t, time.Since(start), shutdownGrace)
	require.Contains(t, s.log.String(), `"msg":"stopped"`)
}

// loggedGrace is the shutdown grace period serve announces when it starts
// shutting down (its "grace_s" log field): how long in-flight batches may
// run after SIGTERM.
func loggedGrace(t *testing.T, log *testenv.LogBuffer) time.Duration {
	t.Helper()
	for _, line := range strings.Split(log.String(), "\n") {
		var m struct {
			Grace *float64 `json:"grace_s"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Grace != nil {
			require.Positive(t, *m.Grace)
			return time.Duration(*m.Grace * float64(time.Second))
		}
	}
	t.Fatalf("no grace_s in the log:\n%s", log.String())
	return 0
}

func TestSoakTwoProcesses(t *testing.T) {
	conn := azurite.Get(t).ConnectionString()
	dir := t.TempDir()
	env := tableEnv(conn, "")
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	envA, envB := map[string]string{}, map[string]string{}
	for k, v := range env {
		envA[k], envB[k] = v, v
	}
	envA["DRSWATCH_SINK"], envB["DRSWATCH_SINK"] = "jsonl:"+a, "jsonl:"+b
	pa, pb := startServe(t, envA, freePort(t)), startServe(t, envB, freePort(t))

	n := 8
	if *soak {
		n = 300
	}
	batches := traffic(11, n)
	var wg sync.WaitGroup
	for _, bs := range batches { // every batch to both, concurrently
		wg.Add(2)
		go func() { defer wg.Done(); pa.mustPost(bs) }()
		go func() { defer wg.Done(); pb.mustPost(bs) }()
	}
	wg.Wait()
	pa.kill()
	pb.kill()

	rows := readRows(t, a, b)
	seen := map[string]int{}
	for _, r := range rows {
		var v struct {
			AlertId  string
			Revision int
		}
		require.NoError(t, json.Unmarshal(r, &v))
		seen[fmt.Sprintf("%s/%d", v.AlertId, v.Revision)]++
	}
	for k, c := range seen {
		require.Equal(t, 1, c, "revision %s delivered %d times across the two processes", k, c)
	}
	want := cleanRun(t, batches)
	require.Equal(t, want, argMax(t, rows), "final alerts (and so counts: no lost update)")
	t.Logf("%d batches to two processes: %d alerts, %d revisions", len(batches), len(want), len(rows))
}

func TestSoakKill(t *testing.T) {
	conn := azurite.Get(t).ConnectionString()
	n, kills := 12, 3
	if *soak {
		n, kills = 600, 150
	}
	batches := traffic(21, n)
	r := rand.New(rand.NewSource(42))
	dir := t.TempDir()
	out := filepath.Join(dir, "alerts.jsonl")
	env := tableEnv(conn, out)
	port := freePort(t)
	s := startServe(t, env, port)
	killed := 0
	for i := 0; i < len(batches); {
		if killed < kills && r.Intn(len(batches)) < 2*kills {
			// SIGKILL while batch i is in flight, at a random point.
			codes := make(chan int, 1)
			go func() { c, _ := s.post("SignInLogs", envelope(batches[i])); codes <- c }()
			time.Sleep(time.Duration(r.Intn(30)) * time.Millisecond)
			s.kill()
			<-codes
			killed++
			s = startServe(t, env, port)
			// Event Hubs resends from the last checkpoint: the in-flight batch,
			// and sometimes a few before it.
			i = max(0, i-r.Intn(3))
			continue
		}
		s.mustPost(batches[i])
		i++
	}
	s.sweep()
	rows := readRows(t, out)
	ts, err := tablestore.NewFromConnectionString(env["DRSWATCH_TABLE_CONNECTION"], env["DRSWATCH_TABLE_NAME"], nil)
	require.NoError(t, err)
	outbox := func() []store.Pending {
		pending, err := ts.ListPending(context.Background(), time.Now().Add(time.Hour), 1000)
		require.NoError(t, err)
		return pending
	}
	if pending := outbox(); len(pending) > 0 {
		// A revision written but not delivered before a kill waits in the
		// outbox for ResendAfter (1 minute, real clock) before Sweep resends
		// it. make soak waits and sweeps again; make test counts the
		// outbox's rows, which Sweep will deliver, as the delivered ones.
		if *soak {
			time.Sleep(62 * time.Second)
			s.sweep()
			rows = readRows(t, out)
			require.Empty(t, outbox(), "nothing left in the outbox")
		} else {
			for _, p := range pending {
				rows = append(rows, p.Row)
			}
			t.Logf("%d revisions wait in the outbox for Sweep", len(pending))
		}
	}
	want := cleanRun(t, batches)
	require.Equal(t, want, argMax(t, rows))
	t.Logf("%d batches, %d kills: %d alerts, %d rows", len(batches), killed, len(want), len(rows))
}
