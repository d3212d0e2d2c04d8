package detect

import (
	"bytes"
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

// candidate reports whether raw may hold a selected record.
func (p Prefilter) candidate(raw []byte) bool {
	if len(p.app) == 0 || len(p.resource) == 0 {
		return true
	}
	if bytes.Contains(raw, p.app) && bytes.Contains(raw, p.resource) {
		return true
	}
	return bytes.Contains(raw, unicodeEscape)
}

// ScanBody is the fast form of SplitBody: it walks an Event Hub body's
// records and calls fn only for those the prefilter cannot rule out;
// the others are counted in rejected without being decoded. Records are
// delimited by a structural scan, and each record passed to fn is validated
// when it is decoded; SplitBody delimits a malformed body with the same scan
// (splitLenient), so the records passed to fn are those the full decode
// would select from. An unusual body (escaped keys, records not an array)
// goes through SplitBody itself. Records that cannot match are only counted,
// not validated.
//
// The common shape, {"records":[{...},...]}, takes scanFast: a word-at-a-time
// structural scan and one search per id over the whole body. Anything else
// takes scanSlow, a byte-wise scanner with the same results.
func ScanBody(body []byte, p Prefilter, fn func(raw []byte)) (records, rejected int) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return 0, 0
	}
	if n, rej, ok := scanFast(body, p, fn); ok {
		return n, rej
	}
	return scanSlow(body, p, fn)
}

// scanSlow is ScanBody for any shape of body (body is trimmed, not empty).
func scanSlow(body []byte, p Prefilter, fn func(raw []byte)) (records, rejected int) {
	whole := p.candidate(body)
	start, end, hasRecords, ok := findRecords(body)
	if !ok {
		return SplitBody(body, fn), 0
	}
	if !hasRecords { // a bare record
		if whole {
			fn(body)
			return 1, 0
		}
		return 1, 1
	}
	n, ok := eachElement(body[start:end], func(raw []byte) {
		if whole && p.candidate(raw) {
			fn(raw)
		} else {
			rejected++
		}
	})
	if !ok {
		return SplitBody(body, fn), 0
	}
	return n, rejected
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] == '"'
// and whether it holds a backslash.
func skipString(b []byte, i int) (int, bool, bool) {
	i++
	escaped := false
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return 0, false, false
		}
		k := i + j
		n := 0
		for m := k - 1; m >= i && b[m] == '\\'; m-- {
			n++
		}
		if n > 0 {
			escaped = true
		}
		if n%2 == 0 {
			if !escaped && bytes.IndexByte(b[i:k], '\\') >= 0 {
				escaped = true
			}
			return k + 1, escaped, true
		}
		i = k + 1
	}
}

// skipValue returns the index after the JSON value starting at b[i]. It
// checks nesting, not full JSON grammar.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		end, _, ok := skipString(b, i)
		return end, ok
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, _, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
				if depth > maxScanDepth {
					return 0, false
				}
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
				if depth < 0 {
					return 0, false
				}
			}
			i++
		}
		return 0, false
	case '}', ']', ',', ':':
		return 0, false
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i, true
			case '"', '{', '[', ':':
				return 0, false
			}
			i++
		}
		return i, true
	}
}

// maxScanDepth bounds nesting in the scanner; deeper bodies take the full
// decode, which reports them.
const maxScanDepth = 512

// findRecords locates the value of the top-level "records" member. It
// reports ok == false for anything it does not handle itself.
func findRecords(b []byte) (start, end int, has, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, 0, false, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, 0, false, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, 0, false, false
		}
		kend, esc, okk := skipString(b, i)
		if !okk || esc {
			return 0, 0, false, false
		}
		key := b[i+1 : kend-1]
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return 0, 0, false, false
		}
		i = skipSpace(b, i+1)
		vend, okv := skipValue(b, i)
		if !okv {
			return 0, 0, false, false
		}
		if string(key) == "records" {
			if has || b[i] != '[' { // duplicate key or not an array
				return 0, 0, false, false
			}
			start, end, has = i, vend, true
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return 0, 0, false, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return start, end, has, skipSpace(b, i+1) == len(b)
		default:
			return 0, 0, false, false
		}
	}
}

// eachElement calls fn for each element of the JSON array arr, once the
// whole array has been delimited (nothing is called for a broken one).
func eachElement(arr []byte, fn func([]byte)) (int, bool) {
	var spans [][2]int // fn runs only once the whole array has been delimited
	i := skipSpace(arr, 1)
	if i < len(arr) && arr[i] == ']' {
		return 0, true
	}
	for {
		end, ok := skipValue(arr, i)
		if !ok {
			return 0, false
		}
		spans = append(spans, [2]int{i, end})
		i = skipSpace(arr, end)
		if i >= len(arr) {
			return 0, false
		}
		switch arr[i] {
		case ',':
			i = skipSpace(arr, i+1)
		case ']':
			for _, sp := range spans {
				fn(arr[sp[0]:sp[1]])
			}
			return len(spans), true
		default:
			return 0, false
		}
	}
}
