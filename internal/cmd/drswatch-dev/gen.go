package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	gengen "github.com/drswatch/drswatch/gen"
)

// gen writes generated Event Hub bodies (NDJSON) to stdout and a one-line
// summary to stderr.
func gen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg gengen.Config
	fs.Int64Var(&cfg.Seed, "seed", 1, "random seed; the same flags give the same bytes")
	fs.IntVar(&cfg.Bodies, "bodies", gengen.DefaultBodies, "Event Hub events to generate (ignored with -size)")
	fs.IntVar(&cfg.RecordsPerBody, "records", gengen.DefaultRecordsPerBody, "mean records per event")
	fs.Float64Var(&cfg.MatchShare, "match-share", gengen.DefaultMatchShare, "share of records that are MAB -> DRS sign-ins (negative: none)")
	fs.IntVar(&cfg.Attacks, "attacks", gengen.DefaultAttacks, "phishing sessions to plant (negative: none)")
	fs.IntVar(&cfg.Users, "users", gengen.DefaultUsers, "users in the tenant")
	fs.Float64Var(&cfg.Redeliver, "redeliver", gengen.DefaultRedeliver, "share of events delivered twice (negative: none)")
	fs.BoolVar(&cfg.Shuffle, "shuffle", false, "emit events out of time order")
	start := fs.String("start", gengen.DefaultStart.Format(time.RFC3339), "time of the first record (RFC 3339)")
	fs.DurationVar(&cfg.Span, "span", gengen.DefaultSpan, "time the traffic covers")
	size := fs.String("size", "", "generate about this much output instead of -bodies (e.g. 100MB, 1GB)")
	expected := fs.String("expected", "", "write the alert groups the rule must find to this file (JSON lines)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: drswatch-dev gen [flags] > traffic.ndjson")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	bad := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "drswatch-dev gen: "+format+"\n", a...)
		return errUsage
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	t, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return bad("-start: %v", err)
	}
	cfg.Start = t
	if cfg.Bodies <= 0 || cfg.RecordsPerBody <= 0 || cfg.Users <= 0 || cfg.Span <= 0 {
		return bad("-bodies, -records, -users and -span must be positive")
	}
	if err := cfg.Validate(); err != nil {
		return bad("%v", err)
	}
	if *size != "" {
		n, err := parseSize(*size)
		if err != nil {
			return bad("-size: %v", err)
		}
		cfg.Bodies = gengen.EstimateBodies(cfg, n)
	}

	g := gengen.New(cfg)
	began := time.Now()
	w := bufio.NewWriterSize(stdout, 1<<20)
	st, err := g.WriteNDJSON(w)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return err
	}
	if *expected != "" {
		if err := writeExpected(*expected, st.ExpectedAlerts); err != nil {
			return err
		}
	}
	took := time.Since(began)
	fmt.Fprintf(stderr, "drswatch-dev gen: %d bodies (%d redelivered), %d records, %.1f MB, %d MAB->DRS records, %d attacks, %d expected alert groups, %.1f MB/s\n",
		st.Bodies, st.Redelivered, st.Records, float64(st.Bytes)/1e6, st.Matching, st.Attacks, len(st.ExpectedAlerts),
		float64(st.Bytes)/1e6/max(took.Seconds(), 1e-9))
	return nil
}

func writeExpected(name string, exp []gengen.Expected) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, e := range exp {
		if err := enc.Encode(e); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return f.Close()
}

// parseSize reads a byte count with an optional KB, MB or GB suffix (powers
// of 1000; KiB, MiB, GiB for powers of 1024).
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, m := range []struct {
		suffix string
		n      int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(u, m.suffix) {
			u, mult = strings.TrimSpace(strings.TrimSuffix(u, m.suffix)), m.n
			break
		}
	}
	f, err := strconv.ParseFloat(u, 64)
	if err != nil || f <= 0 || f*float64(mult) > 1e13 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * float64(mult)), nil
}
