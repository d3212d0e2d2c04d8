// Azurite: a real Azurite table service on a free loopback port.
//
// Per test:
//
//	srv := testenv.StartAzurite(t)
//	conn := srv.ConnectionString()
//
// Per package, from TestMain:
//
//	var azurite testenv.SharedAzurite
//
//	func TestMain(m *testing.M) {
//		stop := azurite.Start()
//		code := m.Run()
//		stop()
//		os.Exit(code)
//	}
//
//	func TestX(t *testing.T) { conn := azurite.Get(t).ConnectionString() }
//
// With the Blob option it is Azurite's blob service instead:
//
//	blob := testenv.StartAzurite(t, testenv.Blob())
//	testenv.CreateContainer(t, blob.ConnectionString(), "drswatch-deadletter")
//
// If DRSWATCH_TEST_TABLE_CONNECTION (DRSWATCH_TEST_BLOB_CONNECTION for blob)
// is set, its value is used and nothing is started. If the azurite-table binary is missing the test is skipped, or
// fails when CI=true.

package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// EnvTableConnection names the variable that points tests at an existing table
// service (Azurite or a real account) instead of starting one.
const EnvTableConnection = "DRSWATCH_TEST_TABLE_CONNECTION"

// EnvBlobConnection is the same for the blob service.
const EnvBlobConnection = "DRSWATCH_TEST_BLOB_CONNECTION"

// Well-known Azurite development account.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// ErrNoAzurite means Azurite could not be found; the test should be skipped
// (or fail under CI).
var ErrNoAzurite = errors.New("testenv: azurite-table not found (run `make test` or `npm ci`)")

// ErrExternal is returned by Stop and Restart on a server this package did
// not start.
var ErrExternal = errors.New("testenv: the table service comes from " + EnvTableConnection + " and cannot be stopped")

const startTimeout = 30 * time.Second

// AzuriteOption configures StartAzurite and SharedAzurite.Start.
type AzuriteOption func(*azuriteConfig)

type azuriteConfig struct {
	persistent bool
	blob       bool
	dir        string
}

// Blob starts Azurite's blob service instead of its table service.
func Blob() AzuriteOption { return func(c *azuriteConfig) { c.blob = true } }

// Persistent keeps data on disk in a temporary directory, so it survives
// Restart. Without it Azurite keeps everything in memory.
func Persistent() AzuriteOption { return func(c *azuriteConfig) { c.persistent = true } }

// Azurite is a running Azurite table service (or an external one).
type Azurite struct {
	conn     string // external connection string, or ""
	service  string // "table" or "blob"
	bin      string
	root     string
	location string // data directory when persistent

	mu      sync.Mutex
	port    int
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	waitErr error
	output  *LogBuffer
}

// ConnectionString returns a connection string aztables accepts.
func (s *Azurite) ConnectionString() string {
	if s.conn != "" {
		return s.conn
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	endpoint := "TableEndpoint"
	if s.service == "blob" {
		endpoint = "BlobEndpoint"
	}
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;%s=http://127.0.0.1:%d/%s;",
		AzuriteAccount, AzuriteKey, endpoint, s.port, AzuriteAccount)
}

// External reports whether the server comes from EnvTableConnection.
func (s *Azurite) External() bool { return s.conn != "" }

// StartAzurite starts Azurite for the test and stops it in tb.Cleanup.
func StartAzurite(tb testing.TB, opts ...AzuriteOption) *Azurite {
	tb.Helper()
	var c azuriteConfig
	for _, o := range opts {
		o(&c)
	}
	if c.persistent {
		c.dir = tb.TempDir()
	}
	s, err := start(c)
	if err != nil {
		fail(tb, err)
	}
	tb.Cleanup(func() { _ = s.Stop() })
	return s
}

func fail(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNoAzurite) && os.Getenv("CI") != "true" {
		tb.Skip(err.Error())
	}
	tb.Fatal(err)
}

// SharedAzurite is one Azurite for a whole test package, started from TestMain.
type SharedAzurite struct {
	srv *Azurite
	err error
}

// Start starts the shared server and returns the function that stops it.
// An error is kept and reported by Get, in each test that asks.
func (sh *SharedAzurite) Start(opts ...AzuriteOption) (stop func()) {
	var c azuriteConfig
	for _, o := range opts {
		o(&c)
	}
	var cleanup func()
	if c.persistent {
		dir, err := os.MkdirTemp("", "testenv-azurite-")
		if err != nil {
			sh.err = err
			return func() {}
		}
		c.dir = dir
		cleanup = func() { os.RemoveAll(dir) }
	}
	sh.srv, sh.err = start(c)
	return func() {
		if sh.srv != nil {
			_ = sh.srv.Stop()
		}
		if cleanup != nil {
			cleanup()
		}
	}
}

// Get returns the shared server, or skips or fails tb if it did not start.
func (sh *SharedAzurite) Get(tb testing.TB) *Azurite {
	tb.Helper()
	if sh.err != nil {
		fail(tb, sh.err)
	}
	if sh.srv == nil {
		tb.Fatal("testenv: SharedAzurite.Get before SharedAzurite.Start (call it from TestMain)")
	}
	return sh.srv
}

func start(c azuriteConfig) (*Azurite, error) {
	service, env := "table", EnvTableConnection
	if c.blob {
		service, env = "blob", EnvBlobConnection
	}
	if conn := os.Getenv(env); conn != "" {
		return &Azurite{conn: conn, service: service}, nil
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "node_modules", ".bin", "azurite-"+service)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoAzurite, bin)
	}
	s := &Azurite{bin: bin, root: root, location: c.dir, service: service}
	var lastErr error
	for range 3 { // the free port can be taken between probe and bind
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.port = port
		if lastErr = s.launch(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts the process on s.port and waits until it answers.
func (s *Azurite) launch() error {
	args := []string{
		"--" + s.service + "Host", "127.0.0.1",
		"--" + s.service + "Port", strconv.Itoa(s.port),
		"--disableTelemetry",
		"--silent",
		"--skipApiVersionCheck",
	}
	if s.location != "" {
		args = append(args, "--location", s.location)
	} else {
		args = append(args, "--inMemoryPersistence")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.root
	out := &LogBuffer{Max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testenv: start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done, s.output, s.waitErr = cmd, done, out, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(done)
	}()
	if err := waitReady(s.port, done); err != nil {
		s.kill()
		return fmt.Errorf("testenv: azurite-%s on port %d: %w; output: %s", s.service, s.port, err, out.String())
	}
	return nil
}

func waitReady(port int, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/%s/Tables", port, AzuriteAccount)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		// Any HTTP answer (it will be 403 without auth) means it is serving.
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-done:
			return errors.New("exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s", startTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill stops the process group and waits for the process to exit.
func (s *Azurite) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	terminate(cmd, false)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		terminate(cmd, true)
		<-done
	}
	// Children that outlived their parent (there should be none).
	terminate(cmd, true)
}

// Stop stops Azurite. Stopping a stopped server does nothing.
func (s *Azurite) Stop() error {
	if s.conn != "" {
		return ErrExternal
	}
	s.kill()
	return nil
}

// Restart stops Azurite and starts it again on the same port. In-memory data
// is lost; with Persistent it survives.
func (s *Azurite) Restart() error {
	if s.conn != "" {
		return ErrExternal
	}
	s.kill()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err = s.launch(); err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond) // the port may not be free yet
	}
}

// StartAzuriteServer starts Azurite outside a test (for `drswatch-dev bench`); the
// caller stops it. The error wraps ErrNoAzurite when Azurite is missing.
func StartAzuriteServer(opts ...AzuriteOption) (*Azurite, error) {
	var c azuriteConfig
	for _, o := range opts {
		o(&c)
	}
	return start(c)
}
