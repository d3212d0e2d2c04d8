// Command drswatch-dev is the developers' companion to drswatch: it
// generates realistic sign-in traffic and runs the benchmark table. It
// lives under internal/ because it is not part of what ships: `make
// package` builds ./cmd/drswatch only, and drswatch-dev links the test
// machinery (internal/testenv starts Azurite for the benchmark).
//
//	drswatch-dev gen [flags]     generate realistic sign-in traffic (NDJSON)
//	drswatch-dev bench [flags]   measure throughput, latency, storage calls and memory
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `drswatch-dev: developer tools for drswatch (not shipped)

Usage:
  drswatch-dev gen [flags]     write generated sign-in traffic (NDJSON) to stdout
  drswatch-dev bench [flags]   the benchmark table of BENCHMARKS.md (make bench)
  drswatch-dev help            this text

Run 'drswatch-dev COMMAND -h' for a command's flags.
`

// errUsage marks bad flags or arguments (exit status 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "drswatch-dev:", err)
		os.Exit(1)
	}
	if err != nil {
		os.Exit(2)
	}
}
