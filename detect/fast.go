package detect

import (
	"bytes"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// Prefilter rejects records that cannot be selected by a rule without
// decoding them: a record the rule selects holds the app id and the resource
// id as literal bytes, unless a \u escape spells them, so a record with
// neither both ids nor any \u escape can be skipped unread.
type Prefilter struct {
	app, resource []byte
	ids           *idTable // nil: scanFast takes every record as a candidate
}

// Prefilter returns the rule's prefilter.
func (r Rule) Prefilter() Prefilter {
	p := Prefilter{app: []byte(r.AppID), resource: []byte(r.ResourceID)}
	p.ids = newIDTable(p.app, p.resource)
	return p
}

var unicodeEscape = []byte(`\u`)

// hasUnicodeEscape reports whether raw holds a \u escape: a 'u' after a run
// of backslashes of odd length, the last of which escapes it. An escaped
// backslash before a 'u' (`\\u`) is no escape and spells nothing, which is
// how scanArray's escapedString reads it too; the filters' per-record
// tests and the single-pass scans must agree on it (FuzzScanBody).
func hasUnicodeEscape(raw []byte) bool {
	for i := 0; ; {
		j := bytes.Index(raw[i:], unicodeEscape)
		if j < 0 {
			return false
		}
		at := i + j // the backslash before the 'u'
		run := 1
		for at-run >= 0 && raw[at-run] == '\\' {
			run++
		}
		if run&1 == 1 {
			return true
		}
		i = at + len(unicodeEscape)
	}
}

// candidate reports whether raw may hold a selected record.
func (p Prefilter) candidate(raw []byte) bool {
	if len(p.app) == 0 || len(p.resource) == 0 {
		return true
	}
	if bytes.Contains(raw, p.app) && bytes.Contains(raw, p.resource) {
		return true
	}
	return hasUnicodeEscape(raw)
}

// ScanBody walks an Event Hub body's records and calls fn only for those
// the prefilter cannot rule out; the others are counted in rejected without
// being decoded. The records of a body are the elements of its top-level
// "records" member when that is an array (as Azure Monitor sends them; none
// when it is null, the value itself when it is anything else), or the body
// itself, a bare record. Records are delimited by a structural scan
// (jsonbytes), not validated: each record passed to fn is validated when it
// is decoded, so that one malformed record does not cost its neighbours. A
// body that is not an object whose members delimit is one record, and it,
// like a records member that is not an array, is passed to fn whatever the
// prefilter says, so that decoding counts it (not_json, mostly). The zero
// Prefilter rules out nothing.
//
// The common shape, {"records":[{...},...]}, takes scanFast: a word-at-a-time
// structural scan and one search per id over the whole body. Any other shape,
// and a body scanFast cannot delimit, takes scanBody, a byte-wise walk.
// Their reference in the tests is encoding/json for valid bodies and a
// naive scanner for invalid ones (ref_test.go).
func ScanBody(body []byte, p Prefilter, fn func(raw []byte)) (records, rejected int) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return 0, 0
	}
	if n, rej, ok := scanFast(body, p, fn, nil); ok {
		return n, rej
	}
	return scanBody(body, p, fn)
}

// scanBody is ScanBody for any shape of body (body is trimmed, not empty).
func scanBody(body []byte, p Prefilter, fn func(raw []byte)) (records, rejected int) {
	whole := p.candidate(body)
	pass := func(raw []byte) {
		records++
		if whole && p.candidate(raw) {
			fn(raw)
		} else {
			rejected++
		}
	}
	// What is not a bare record nor an array of them is passed on whatever
	// the prefilter says, so that decoding counts it (as not_json mostly).
	unusual := func(raw []byte) {
		records++
		fn(raw)
	}
	start, end, has, ok := findRecords(body)
	switch {
	case !ok:
		unusual(body)
	case !has:
		pass(body)
	case body[start] == '[':
		var spans [][2]int // fn runs only once the whole array has been delimited
		_, err := jsonbytes.WalkArray(body[:end], start, func(b []byte, i int) (int, error) {
			e, _, err := jsonbytes.ValueEnd(b, i)
			spans = append(spans, [2]int{i, e})
			return e, err
		})
		if err != nil {
			unusual(body)
			break
		}
		for _, sp := range spans {
			pass(body[sp[0]:sp[1]])
		}
	case string(body[start:end]) == "null":
	default:
		unusual(body[start:end])
	}
	return records, rejected
}

// findRecords locates the value of the last top-level member of b whose key
// is exactly "records" (after unescaping); has is false when there is none.
// ok is false when b is not an object whose members can be delimited.
func findRecords(b []byte) (start, end int, has, ok bool) {
	if b[0] != '{' {
		return 0, 0, false, false
	}
	last, err := jsonbytes.WalkObject(b, 0, func(key []byte, b []byte, i int) (int, error) {
		e, _, err := jsonbytes.ValueEnd(b, i)
		if err == nil && isRecordsKey(key) {
			start, end, has = i, e, true
		}
		return e, err
	})
	if err != nil || jsonbytes.Space(b, last) != len(b) {
		return 0, 0, false, false
	}
	return start, end, has, true
}

// isRecordsKey reports whether the JSON string key spells "records". A key
// that does not unescape spells nothing.
func isRecordsKey(key []byte) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key) == `"records"`
	}
	v, err := jsonbytes.Unquote(nil, key)
	return err == nil && string(v) == "records"
}
