package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// The forms of sign-in records replay reads (each a test in
// input_test.go, fixtures in testdata/):
//
//   - NDJSON, one value per line: an Event Hub body ({"records":[...]}), a
//     bare record, or a JSON array of either. This is the fast path: a line
//     is handed on as it stands (an array's elements delimited in place),
//     and memory is bounded by the batch.
//   - One JSON document over many lines (pretty-printed): an array of
//     bodies or records, a body {"records":[...]}, or a Microsoft Graph page
//     {"value":[...]}; several documents may follow each other. A file is
//     read this way when its first line opens a document and leaves it open
//     (it ends after '[', '{', ',' or ':'). Elements are decoded one at a
//     time, so memory is bounded by the largest element, not the document.
//
// Wherever they come from, Graph signIn objects (the items of a Graph page)
// are turned into the diagnostic-settings records Entra writes to Event
// Hubs (detect.GraphRecord says how). What is not JSON is still counted as
// not_json: a line as it stands, a document from the point it breaks.

// emitLine hands on the bodies one NDJSON line holds: the elements of a
// JSON array (when the line is one), else the line.
func emitLine(t []byte, emit func([]byte) error) error {
	if t[0] == '[' {
		var spans [][2]int
		end, err := jsonbytes.WalkArray(t, 0, func(b []byte, i int) (int, error) {
			e, _, err := jsonbytes.ValueEnd(b, i)
			spans = append(spans, [2]int{i, e})
			return e, err
		})
		if err == nil && end == len(t) {
			for _, sp := range spans {
				if err := emitValue(t[sp[0]:sp[1]], emit); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return emitValue(t, emit)
}

// emitValue hands on one body or record, a Graph signIn object as its
// diagnostic-settings record.
func emitValue(v []byte, emit func([]byte) error) error {
	if detect.IsGraphSignIn(v) {
		if rec, ok := detect.GraphRecord(nil, v); ok {
			return emit(rec)
		}
	}
	return emit(v)
}

// opensDocument reports whether the input starts with a JSON document spread
// over lines: its first non-blank line begins with '[' or '{', is not a
// value on its own and ends where JSON goes on ('[', '{', ',' or ':').
func opensDocument(br *bufio.Reader) bool {
	b, _ := br.Peek(64 << 10)
	b = b[jsonbytes.Space(b, 0):]
	j := bytes.IndexByte(b, '\n')
	if j < 0 {
		return false // one line, or a first line longer than any document's
	}
	line := bytes.TrimSpace(b[:j])
	if len(line) == 0 || line[0] != '[' && line[0] != '{' {
		return false
	}
	if end, _, err := jsonbytes.ValueEnd(line, 0); err == nil && end == len(line) {
		return false
	}
	switch line[len(line)-1] {
	case '[', '{', ',', ':':
		return true
	}
	return false
}

// replayDocument reads the JSON documents of br (see above), handing each
// body or record to emit.
func replayDocument(name string, br *bufio.Reader, sum *summary, strict bool, emit func([]byte) error) error {
	cr := &lineCounter{r: br}
	dec := json.NewDecoder(cr)
	defer func() { sum.lines += cr.lines() }()
	n := 0
	value := func(raw []byte) error {
		n++
		return emitValue(raw, func(body []byte) error {
			if strict {
				if err := checkStrict(body); err != nil {
					return fmt.Errorf("%s: element %d: %w", name, n, err)
				}
			}
			return emit(body)
		})
	}
	for {
		err := document(dec, value)
		if errors.Is(err, io.EOF) {
			return nil
		}
		var emitErr emitError
		if errors.As(err, &emitErr) {
			return emitErr.err
		}
		if err != nil {
			// The rest of the input cannot be read as JSON: it counts as one
			// record that is not JSON.
			sum.records++
			sum.skipped[detect.SkipNotJSON.String()]++
			if strict {
				return fmt.Errorf("%s: byte %d: %s: %w", name, dec.InputOffset(), detect.SkipNotJSON, err)
			}
			return nil
		}
	}
}

// emitError carries an error of emit through document, to tell it from an
// error of the input.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }

// document reads one JSON document of dec and calls value with each of its
// bodies or records: the elements of a top-level array, the elements of the
// records and value arrays of a top-level object, or the object itself when
// it has neither. It returns io.EOF at the end of the input.
func document(dec *json.Decoder, value func([]byte) error) error {
	emit := func(raw []byte) error {
		if err := value(raw); err != nil {
			return emitError{err}
		}
		return nil
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		if err := elements(dec, emit); err != nil {
			return err
		}
		_, err := dec.Token()
		return err
	case json.Delim('{'):
	default: // a scalar: one record, which is not JSON an object
		raw, _ := json.Marshal(tok)
		return emit(raw)
	}
	kept := []byte{'{'} // the members, should the object be a record
	streamed := false
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := kt.(string)
		if key == "records" || key == "value" {
			if c, ok := nextByte(dec); ok && c == '[' {
				if _, err := dec.Token(); err != nil {
					return err
				}
				if err := elements(dec, emit); err != nil {
					return err
				}
				if _, err := dec.Token(); err != nil {
					return err
				}
				streamed = true
				continue
			}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if (key == "records" || key == "value") && raw[0] == '[' { // nextByte could not tell
			var elems []json.RawMessage
			if err := json.Unmarshal(raw, &elems); err != nil {
				return err
			}
			for _, e := range elems {
				if err := emit(e); err != nil {
					return err
				}
			}
			streamed = true
			continue
		}
		if len(kept) > 1 {
			kept = append(kept, ',')
		}
		k, _ := json.Marshal(key)
		kept = append(append(append(kept, k...), ':'), raw...)
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if streamed {
		return nil
	}
	return emit(append(kept, '}'))
}

// elements calls emit with each element of the array dec is in.
func elements(dec *json.Decoder, emit func([]byte) error) error {
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if err := emit(raw); err != nil {
			return err
		}
	}
	return nil
}

// nextByte returns the first byte of the value after the object key dec has
// just read, from the decoder's buffer; ok is false when the buffer ends
// before it.
func nextByte(dec *json.Decoder) (byte, bool) {
	var buf [64]byte
	n, _ := io.ReadFull(dec.Buffered(), buf[:])
	b := buf[:n]
	i := jsonbytes.Space(b, 0)
	if i < len(b) && b[i] == ':' {
		i = jsonbytes.Space(b, i+1)
	}
	if i >= len(b) {
		return 0, false
	}
	return b[i], true
}

// lineCounter counts the lines read through it.
type lineCounter struct {
	r     io.Reader
	n     int
	last  byte
	total int64
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += bytes.Count(p[:n], []byte{'\n'})
	if n > 0 {
		c.last = p[n-1]
		c.total += int64(n)
	}
	return n, err
}

func (c *lineCounter) lines() int {
	if c.total > 0 && c.last != '\n' {
		return c.n + 1
	}
	return c.n
}
