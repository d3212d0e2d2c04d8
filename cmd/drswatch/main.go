// Command drswatch detects OAuth phishing of the Microsoft Authentication
// Broker to the Device Registration Service in Entra ID sign-in logs.
//
//	drswatch replay [flags] FILE...   run the detector over files of Event Hub bodies
//	drswatch serve                    the Azure Functions custom handler
//
// The traffic generator and the benchmark are developer tools, in
// internal/cmd/drswatch-dev; they are not part of this binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `drswatch: OAuth phishing detector for Microsoft Entra ID (MAB -> DRS)

Usage:
  drswatch replay [flags] FILE...   replay Event Hub bodies (NDJSON, '-' for stdin); alerts on stdout
  drswatch serve                    Azure Functions custom handler on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT
  drswatch help                     this text

Run 'drswatch COMMAND -h' for a command's flags. Settings are environment
variables; see README.md.
`

// errUsage marks bad flags or arguments (exit status 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "drswatch:", err)
		os.Exit(1)
	}
}

// run is the whole program, testable: arguments, environment and streams in,
// an error out.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "replay":
		return replay(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "drswatch: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}
