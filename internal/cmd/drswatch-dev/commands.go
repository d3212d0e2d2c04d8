package main

import (
	"context"
	"fmt"
	"io"
)

// command is one tool: its arguments and streams in, an error out.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

var commands = map[string]command{
	"gen": func(_ context.Context, args []string, stdout, stderr io.Writer) error {
		return gen(args, stdout, stderr)
	},
	"bench": benchCmd,
}

// run is the whole program, testable.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	if cmd, ok := commands[args[0]]; ok {
		return cmd(ctx, args[1:], stdout, stderr)
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "drswatch-dev: unknown command %q\n\n%s", args[0], usage)
	return errUsage
}
