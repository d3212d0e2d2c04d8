package handler

import (
	"unicode/utf16"
	"unicode/utf8"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// With dataType string the events binding is a JSON string whose text is a
// JSON array of JSON strings, each the text of one event body: every body
// is escaped twice. Unescaping the binding and then each element (as
// jsonbytes.AppendString and decodeEvents do) reads and writes the whole batch twice.
// splitEvents does it in one pass: it unescapes the binding and feeds the
// characters that produces to a small state machine for the inner array,
// which writes the body bytes straight to the output.
//
// What makes it cheap: in the binding's text an inner '"' or '\\' can only
// come from an escape (\" and \\, or \u0022 and \u005c), so inside a body a
// run of plain bytes is body bytes and is copied at once, and \\\" (the
// commonest sequence, a quote in a body) becomes '"' at once. Only the
// characters other escapes produce go through the state machine.
//
// splitEvents accepts only that common form: leading space, '[', strings
// separated by ',' with space around, ']', trailing space, where space is
// the four JSON space characters. Anything else (a binding that is not an
// array, elements that are not strings, more string layers, Unicode space,
// a malformed escape) makes it give up, and the caller decodes the binding
// in two passes, which decide what the input means. Whenever it succeeds
// its bodies are exactly those of the two passes.

// splitState is where the inner array's state machine is.
type splitState uint8

const (
	beforeArray             splitState = iota // space, then '['
	arrayStart                                // after '[': space, then '"' or ']'
	beforeElem                                // after ',': space, then '"'
	afterElem                                 // after a body: space, then ',' or ']'
	afterArray                                // after ']': space only
	inBody                                    // in an element string
	bodyEscape                                // after '\\' in a body
	bodyHex                                   // in the four hex digits of \uXXXX
	afterSurrogate                            // after \uXXXX giving a surrogate: is \uXXXX next?
	afterSurrogateBackslash                   // and a '\\' followed it: is 'u' next?
)

// splitter is the state of one splitEvents.
type splitter struct {
	dst    []byte // the output, sliced to its capacity; dst[:n] is written
	n      int
	state  splitState
	digits int   // hex digits of the \uXXXX seen
	r      rune  // their value
	high   rune  // a surrogate waiting for the next \uXXXX, or 0
	spans  []int // start and end in dst of each body
}

// splitEvents decodes the JSON string starting at b[i] == '"' when its
// text is a JSON array of JSON strings: it appends every body to dst and
// returns the bodies (slices of out) and the index after the string's
// closing quote. ok is false when the string is not in the form
// splitEvents accepts (see above); dst is then to be used from scratch.
func splitEvents(dst, b []byte, i int) (out []byte, bodies [][]byte, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, nil, 0, false
	}
	i++
	// As in jsonbytes.AppendString, the room left in dst is kept at least the input left,
	// so bytes are stored without append: one character of the binding's
	// text never makes more than one byte of a body, except invalid UTF-8.
	s := splitter{dst: jsonbytes.Reserve(dst, len(b)-i)}
	s.n = len(s.dst)
	s.dst = s.dst[:cap(s.dst)]
	for i < len(b) {
		c := b[i]
		if s.state == inBody {
			if jsonbytes.Plain[c] {
				j := i + 1
				for j < len(b) && jsonbytes.Plain[b[j]] {
					j++
				}
				s.n += copy(s.dst[s.n:], b[i:j])
				i = j
				continue
			}
			if c == '\\' && i+3 < len(b) && b[i+1] == '\\' && b[i+2] == '\\' && b[i+3] == '"' {
				s.dst[s.n] = '"'
				s.n++
				i += 4
				continue
			}
		}
		switch {
		case jsonbytes.Plain[c]:
			if !s.feed(c) {
				return nil, nil, 0, false
			}
			i++
		case c == '"':
			if s.state != afterArray {
				return nil, nil, 0, false
			}
			out, bodies := s.bodies()
			return out, bodies, i + 1, true
		case c >= 0x80:
			// Only a body may hold non-ASCII text. Invalid UTF-8 becomes
			// U+FFFD, which the second pass would have copied as it is.
			j := i + 1
			for j < len(b) && b[j] >= 0x80 {
				j++
			}
			if s.state == afterSurrogate {
				s.loneSurrogate()
			}
			if s.state != inBody {
				return nil, nil, 0, false
			}
			s.dst = jsonbytes.AppendUTF8(s.dst[:s.n], b[i:j])
			s.n = len(s.dst)
			s.dst = jsonbytes.Reserve(s.dst, len(b)-j)
			s.dst = s.dst[:cap(s.dst)]
			i = j
		default: // an escape
			r, next, ok := jsonbytes.EscapeAt(b, i)
			if !ok {
				return nil, nil, 0, false
			}
			var enc [utf8.UTFMax]byte
			for _, c := range enc[:utf8.EncodeRune(enc[:], r)] {
				if !s.feed(c) {
					return nil, nil, 0, false
				}
			}
			i = next
		}
	}
	return nil, nil, 0, false
}

// feed moves the state machine on by one character of the inner array's
// text, writing what it produces; it reports false when splitEvents is to
// give up.
func (s *splitter) feed(c byte) bool {
	switch s.state {
	case beforeArray, arrayStart, beforeElem, afterElem, afterArray:
		return s.between(c)
	case inBody:
		switch c {
		case '\\':
			s.state = bodyEscape
		case '"':
			s.spans = append(s.spans, s.n)
			s.state = afterElem
		default:
			s.put(c)
		}
	case bodyEscape:
		switch c {
		case '"', '\\', '/':
			s.put(c)
		case 'b':
			s.put('\b')
		case 'f':
			s.put('\f')
		case 'n':
			s.put('\n')
		case 'r':
			s.put('\r')
		case 't':
			s.put('\t')
		case 'u':
			s.state, s.digits, s.r = bodyHex, 0, 0
			return true
		default:
			return false
		}
		s.state = inBody
	case bodyHex:
		d, ok := jsonbytes.Unhex(c)
		if !ok {
			return false
		}
		s.r = s.r<<4 | d
		if s.digits++; s.digits == 4 {
			s.escaped(s.r)
		}
	case afterSurrogate:
		if c == '\\' {
			s.state = afterSurrogateBackslash
			return true
		}
		s.loneSurrogate()
		return s.feed(c)
	case afterSurrogateBackslash:
		if c == 'u' {
			s.state, s.digits, s.r = bodyHex, 0, 0
			return true
		}
		s.loneSurrogate()
		s.state = bodyEscape
		return s.feed(c)
	}
	return true
}

// between handles a character outside the bodies.
func (s *splitter) between(c byte) bool {
	if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
		return true
	}
	switch {
	case s.state == beforeArray && c == '[':
		s.state = arrayStart
	case (s.state == arrayStart || s.state == beforeElem) && c == '"':
		s.spans = append(s.spans, s.n)
		s.state = inBody
	case (s.state == arrayStart || s.state == afterElem) && c == ']':
		s.state = afterArray
	case s.state == afterElem && c == ',':
		s.state = beforeElem
	default:
		return false
	}
	return true
}

// escaped takes the value of a body's \uXXXX as jsonbytes.AppendString does: a
// surrogate pairs with the \uXXXX right after it when they decode together,
// and is otherwise U+FFFD, the escape after it then read on its own.
func (s *splitter) escaped(r rune) {
	s.state = inBody
	if s.high != 0 {
		dec := utf16.DecodeRune(s.high, r)
		s.high = 0
		if dec != utf8.RuneError {
			s.n += utf8.EncodeRune(s.dst[s.n:], dec)
			return
		}
		s.n += utf8.EncodeRune(s.dst[s.n:], utf8.RuneError)
	}
	if utf16.IsSurrogate(r) {
		s.high = r
		s.state = afterSurrogate
		return
	}
	s.n += utf8.EncodeRune(s.dst[s.n:], r)
}

// loneSurrogate writes U+FFFD for the surrogate waiting for a pair that
// does not follow, and goes back into the body.
func (s *splitter) loneSurrogate() {
	s.high = 0
	s.n += utf8.EncodeRune(s.dst[s.n:], utf8.RuneError)
	s.state = inBody
}

func (s *splitter) put(c byte) {
	s.dst[s.n] = c
	s.n++
}

// bodies returns the bodies the spans delimit.
func (s *splitter) bodies() ([]byte, [][]byte) {
	out := s.dst[:s.n]
	bodies := make([][]byte, 0, len(s.spans)/2)
	for k := 0; k+1 < len(s.spans); k += 2 {
		bodies = append(bodies, out[s.spans[k]:s.spans[k+1]:s.spans[k+1]])
	}
	return out, bodies
}
