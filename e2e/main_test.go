// Package e2e holds drswatch's end-to-end suites: the real handler,
// pipeline and stores wired as `drswatch serve` wires them (the suite on
// both stores, the outbox, the attack chain, faults, hostile input,
// equivalence with replay, what the log holds), and the real binaries run
// as processes (serve as the Functions host runs it, started with its
// storage down, dead letters, two processes on one table, kills, SIGTERM,
// pseudonymized alerts, drswatch-dev gen | drswatch replay).
//
// One Azurite serves the whole package (TestMain); the tests that stop the
// table service start their own. The binaries are built once, on first
// use. `make soak` runs the soak tests long (-args -soak).
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store/memstore"
	"github.com/drswatch/drswatch/store/tablestore"
)

var soak = flag.Bool("soak", false, "run the long fault runs (make soak)")

// azurite is the one real Azurite table service of this package's tests.
var azurite testenv.SharedAzurite

func TestMain(m *testing.M) {
	flag.Parse()
	stop := azurite.Start()
	code := m.Run()
	stop()
	removeBinaries()
	os.Exit(code)
}

// storeKind opens a fresh, empty store for one test.
type storeKind struct {
	name string
	open func(t *testing.T) pipeline.Store
}

// stores lists the stores the suites run against: the embedded one and
// Table Storage on the package's Azurite.
var stores = []storeKind{
	{"memory", func(*testing.T) pipeline.Store { return memstore.New() }},
	{"table", openTable},
}

var tableSeq atomic.Int64

// tableName returns a table name no other test of this run uses.
func tableName(prefix string) string {
	return fmt.Sprintf("%s%d%d", prefix, time.Now().UnixNano()%1e9, tableSeq.Add(1))
}

// openTable returns a Table Storage store on a new table in Azurite.
func openTable(t *testing.T) pipeline.Store {
	t.Helper()
	conn := azurite.Get(t).ConnectionString()
	st, err := tablestore.NewFromConnectionString(conn, tableName("h"), nil)
	require.NoError(t, err)
	require.NoError(t, st.CreateTable(context.Background()))
	return st
}

// The binaries, built on first use.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binary returns the path of a command of this module built for the tests:
// "drswatch" (what ships) or "drswatch-dev" (the developer command).
func binary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "drswatch-e2e-bin-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{"./cmd/drswatch", "./internal/cmd/drswatch-dev"} {
			cmd := exec.Command("go", "build", "-o", buildDir+string(os.PathSeparator), pkg)
			cmd.Dir = ".."
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, name)
}

func removeBinaries() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}
