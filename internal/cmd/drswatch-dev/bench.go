package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/drswatch/drswatch/internal/bench"
)

// benchCmd measures drswatch on generated data and prints one table (see
// BENCHMARKS.md). It fails when a target is not met.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.Defaults
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "generator seed")
	decode := fs.String("decode-size", "64MB", "bodies for decode-and-filter")
	replaySize := fs.String("replay-size", "256MB", "file replayed by drswatch replay and by the naive handler")
	rss := fs.String("rss-size", "1GB", "traffic streamed through replay for peak RSS")
	fs.IntVar(&cfg.Batches, "batches", cfg.Batches, "handler batches per store")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds of each timed comparison (median reported)")
	fs.StringVar(&cfg.Binary, "bin", "", "drswatch binary run for replay (default: drswatch beside this executable)")
	fs.StringVar(&cfg.Azurite, "azurite", "", `"" starts Azurite from node_modules, "off" skips it, else a table connection string`)
	fs.StringVar(&cfg.TempDir, "tmp", "", "directory for the replay file")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	for _, s := range []struct {
		flag string
		in   *string
		out  *int64
	}{{"-decode-size", decode, &cfg.DecodeBytes}, {"-replay-size", replaySize, &cfg.ReplayBytes}, {"-rss-size", rss, &cfg.RSSBytes}} {
		n, err := parseSize(*s.in)
		if err != nil {
			fmt.Fprintf(stderr, "drswatch-dev bench: %s: %v\n", s.flag, err)
			return errUsage
		}
		*s.out = n
	}
	if !*quiet {
		cfg.Log = stderr
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if !rep.OK() {
		return errors.New("bench: a target was not met")
	}
	return nil
}
