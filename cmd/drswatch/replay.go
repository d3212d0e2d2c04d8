package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/config"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/sink"
)

// maxLine bounds one line (one Event Hub body) of a replay file.
const maxLine = 64 << 20

// summary accumulates what a replay did.
type summary struct {
	lines, events, records, matched, alerts int
	groups                                  map[string]bool
	skipped                                 map[string]int
	truncated                               map[string]int // alert revisions by cut column
}

func (s *summary) add(r pipeline.Result) {
	s.records += r.Records
	s.matched += r.Matched
	s.alerts += len(r.Alerts)
	for _, a := range r.Alerts {
		for _, c := range a.TruncatedColumns {
			if s.truncated == nil {
				s.truncated = map[string]int{}
			}
			s.truncated[c]++
		}
	}
	for _, k := range detect.Skips() {
		if n := r.Skipped[k]; n > 0 {
			s.skipped[k.String()] += n
		}
	}
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "drswatch replay: %d lines, %d records read, %d matched, %d groups, %d alert revisions\n",
		s.lines, s.records, s.matched, len(s.groups), s.alerts)
	keys := make([]string, 0, len(s.skipped))
	for k := range s.skipped {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, s.skipped[k]))
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	fmt.Fprintf(w, "skipped: %s\n", strings.Join(parts, " "))
	if len(s.truncated) > 0 {
		cols := make([]string, 0, len(s.truncated))
		for c := range s.truncated {
			cols = append(cols, c)
		}
		slices.Sort(cols)
		parts = parts[:0]
		for _, c := range cols {
			parts = append(parts, fmt.Sprintf("%s=%d", c, s.truncated[c]))
		}
		fmt.Fprintf(w, "value lists cut (alert revisions by column): %s\n", strings.Join(parts, " "))
	}
}

func replay(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	batch := fs.Int("batch", 100, "events (lines) per batch")
	state := fs.String("state", "", "state store: memory (default) or table (settings from DRSWATCH_TABLE_*)")
	strict := fs.Bool("strict", false, "stop at the first bad input with its line number")
	quiet := fs.Bool("quiet", false, "do not print the summary")
	invocation := fs.Bool("invocation", false, "each FILE is one invocation as the Functions host sent it (a dead letter): replay its events")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: drswatch replay [flags] FILE... ('-' for stdin)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 || *batch < 1 {
		fs.Usage()
		return errUsage
	}
	stateFlag, err := config.ParseState(*state)
	if err != nil {
		fmt.Fprintf(stderr, "drswatch replay: --state %q: %v\n", *state, err)
		return errUsage
	}
	cfg, err := config.Load(getenv, func(c *config.Config) {
		switch {
		case stateFlag != config.StateUnset:
			c.State = stateFlag
		case c.State == config.StateUnset:
			c.State = config.StateMemory
		}
		c.Sink = config.SinkStdout // replay always prints alerts
		// Replayed records may be of any age and the clock is not theirs:
		// accept any age unless the lateness is set, and any time.
		if !c.IsSet(config.EnvLateness) {
			c.Lateness = 0
		}
		c.FutureSkew = 0
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errUsage
	}
	geo, closeGeo, err := openGeo(cfg)
	if err != nil {
		return err
	}
	defer closeGeo()
	st, closeStore, err := openStore(ctx, cfg, &azureCredential{})
	if err != nil {
		return err
	}
	defer closeStore()
	out := sink.NewWriter(stdout)
	proc := pipeline.New(st, out, options(cfg, geo))

	sum := &summary{groups: map[string]bool{}, skipped: map[string]int{}}
	var pending []pipeline.Event
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		res, err := proc.Process(ctx, pipeline.Batch{Events: pending})
		sum.add(res)
		for _, id := range res.GroupIDs {
			sum.groups[id] = true
		}
		pending = pending[:0]
		if err != nil {
			return err
		}
		for _, a := range res.Alerts {
			if a.Err != nil {
				return fmt.Errorf("write alerts: %w", a.Err)
			}
		}
		return nil
	}
	// The batch's bodies are copied into one arena, reused from batch to
	// batch: memory is bounded by the batch, and a line costs no allocation.
	if *invocation {
		for _, name := range fs.Args() {
			events, err := readInvocation(name, stdin)
			if err != nil {
				return err
			}
			sum.lines += len(events)
			pending = append(pending, events...)
			if err := flush(); err != nil {
				return err
			}
		}
		if !*quiet {
			sum.print(stderr)
		}
		return nil
	}
	var arena []byte
	for _, name := range fs.Args() {
		if err := replayFile(name, stdin, sum, *strict, func(body []byte) error {
			if len(pending) == 0 {
				arena = arena[:0]
			}
			if len(arena)+len(body) > cap(arena) {
				// Earlier events keep the old array; it is dropped with them.
				arena = make([]byte, 0, max(2*cap(arena), len(body), 1<<20))
			}
			off := len(arena)
			arena = append(arena, body...)
			pending = append(pending, pipeline.Event{Body: arena[off:len(arena):len(arena)]})
			if len(pending) >= *batch {
				return flush()
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if !*quiet {
		sum.print(stderr)
	}
	return nil
}

// readInvocation reads one invocation body as the host sent it (a dead
// letter) and returns its events.
func readInvocation(name string, stdin io.Reader) ([]pipeline.Event, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, err
	}
	events, err := handler.InvocationEvents(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return events, nil
}

// replayFile streams one file line by line; each non-blank line is an Event
// Hub body, a record or an array of them, unless the file is one JSON
// document over many lines (input.go).
func replayFile(name string, stdin io.Reader, sum *summary, strict bool, emit func([]byte) error) error {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 1<<20)
	if opensDocument(br) {
		return replayDocument(name, br, sum, strict, emit)
	}
	var scratch []byte
	line := 0
	for {
		b, err := readLine(br, &scratch)
		if len(b) > 0 || err == nil {
			line++
		}
		if errors.Is(err, errLineTooLong) {
			sum.lines++
			sum.records++
			sum.skipped["line_too_long"]++
			if strict {
				return fmt.Errorf("%s:%d: line longer than %d bytes", name, line, maxLine)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			sum.lines++
			if e := emitLine(t, func(body []byte) error { // t is only valid until the next read
				if strict {
					if err := checkStrict(body); err != nil {
						return fmt.Errorf("%s:%d: %w", name, line, err)
					}
				}
				return emit(body)
			}); e != nil {
				return e
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its newline; a line over maxLine is
// consumed and reported as errLineTooLong. The line is valid until the next
// call: it is the reader's buffer when the line fits in it, else *scratch.
func readLine(br *bufio.Reader, scratch *[]byte) ([]byte, error) {
	frag, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return bytes.TrimRight(frag, "\r\n"), err
	}
	buf := append((*scratch)[:0], frag...)
	for {
		frag, err = br.ReadSlice('\n')
		if len(buf)+len(frag) > maxLine {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, errLineTooLong
		}
		buf = append(buf, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		*scratch = buf
		return bytes.TrimRight(buf, "\r\n"), err
	}
}

// checkStrict reports the first record of a body that is bad input (as
// opposed to a record the rule simply does not select).
func checkStrict(body []byte) error {
	var bad error
	n := 0
	detect.ScanBody(body, detect.Prefilter{}, func(raw []byte) {
		n++
		if bad != nil {
			return
		}
		if _, skip := detect.DecodeRecord(raw); skip == detect.SkipNotJSON || skip == detect.SkipTooDeep ||
			skip == detect.SkipWrongType || skip == detect.SkipBadTime {
			bad = fmt.Errorf("record %d: %s", n, skip)
		}
	})
	return bad
}
