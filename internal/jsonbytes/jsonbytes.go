// Package jsonbytes reads JSON text in place: where a string or a value
// ends, a string's value (unescaped as encoding/json unescapes it), the
// members of an object and the elements of an array, and whether a value
// follows the grammar. It is the one JSON scanner drswatch has: handler
// walks the Functions host's envelope with it and detect delimits event
// bodies and decodes records with it.
//
// Two kinds of reading, named apart:
//   - Structural (StringEnd, ValueEnd, WalkObject, WalkArray): strings and
//     bracket nesting are followed, nothing else is checked (escapes,
//     numbers, literals, which bracket closes which). It is what delimits a
//     record or a body so that one malformed record does not cost its
//     neighbours; whatever it delimits is validated when it is decoded.
//   - Validating (CheckString, NumberEnd, LiteralEnd): the grammar as
//     encoding/json's scanner applies it (invalid UTF-8 is accepted, as
//     encoding/json accepts it and replaces it on decoding).
//
// Nothing here recurses, so no input exhausts the stack. Nesting is still
// bounded where a value is decoded, by MaxDepth.
package jsonbytes

import (
	"bytes"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is how deeply a value drswatch decodes may nest: a record
// (detect counts a deeper one as too_deep) and any value of the host's
// envelope (handler rejects a deeper invocation). Entra's sign-in records
// nest five levels at most and the envelope four, so 64 is far from real
// input, and it bounds the recursion of detect's tree decoder to 64 frames.
// Structural scans that only delimit (ValueEnd) do not stop at it: they
// report the depth they saw and the caller decides, so a record nested too
// deeply costs only itself.
const MaxDepth = 64

// Errors the functions return.
var (
	ErrSyntax  = errors.New("invalid JSON")
	ErrTooDeep = errors.New("JSON nested too deeply")
)

// IsSpace reports whether c is one of JSON's four space characters.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Space returns the index of the first byte at or after i that is not JSON
// space (len(b) when none is).
func Space(b []byte, i int) int {
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	return i
}

// StringEnd returns the index after the string starting at b[i] == '"': the
// first quote not escaped by an odd run of backslashes. Structural: escapes
// and control characters are not checked.
func StringEnd(b []byte, i int) (int, error) {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return 0, ErrSyntax
		}
		k := i + j
		n := 0
		for m := k - 1; m >= i && b[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			return k + 1, nil
		}
		i = k + 1
	}
}

// ValueEnd returns the index after the JSON value starting at b[i] and how
// deeply it nests (0 for a scalar, 1 for an array or object of scalars).
// Structural: strings and bracket nesting are followed (either kind of
// bracket closes either), a scalar runs to the next delimiter or space and
// must not hold a quote, a bracket or a colon. The depth is not bounded:
// callers that decode compare it with MaxDepth.
func ValueEnd(b []byte, i int) (end, depth int, err error) {
	if i >= len(b) {
		return 0, 0, ErrSyntax
	}
	switch b[i] {
	case '"':
		end, err := StringEnd(b, i)
		return end, 0, err
	case '{', '[':
		d := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, err := StringEnd(b, i)
				if err != nil {
					return 0, 0, err
				}
				i = end
				continue
			case '{', '[':
				if d++; d > depth {
					depth = d
				}
			case '}', ']':
				if d--; d == 0 {
					return i + 1, depth, nil
				}
			}
			i++
		}
		return 0, 0, ErrSyntax
	default:
		start := i
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if i == start {
					return 0, 0, ErrSyntax
				}
				return i, 0, nil
			case '"', '{', '[', ':':
				return 0, 0, ErrSyntax
			}
		}
		return i, 0, nil
	}
}

// WalkObject walks the object starting at b[i] == '{' (after space):
// for each member it calls fn with the key as it stands (quotes included,
// escapes not resolved: see Unquote) and the index of the value, and fn
// returns the index after the value. WalkObject returns the index after the
// closing brace; what follows is the caller's to check.
func WalkObject(b []byte, i int, fn func(key []byte, b []byte, i int) (int, error)) (int, error) {
	i, empty, ok := open(b, i, '{', '}')
	if !ok {
		return 0, errors.New("not a JSON object")
	}
	if empty {
		return i, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, ErrSyntax
		}
		kend, err := StringEnd(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i:kend]
		i = Space(b, kend)
		if i >= len(b) || b[i] != ':' {
			return 0, ErrSyntax
		}
		i = Space(b, i+1)
		if i >= len(b) {
			return 0, ErrSyntax
		}
		if i, err = fn(key, b, i); err != nil {
			return 0, err
		}
		var closed bool
		if i, closed, err = after(b, i, '}'); err != nil || closed {
			return i, err
		}
	}
}

// WalkArray walks the array starting at b[i] == '[' (after space),
// calling fn with the index of each element; fn returns the index after it.
// WalkArray returns the index after the closing bracket.
func WalkArray(b []byte, i int, fn func(b []byte, i int) (int, error)) (int, error) {
	i, empty, ok := open(b, i, '[', ']')
	if !ok {
		return 0, errors.New("not a JSON array")
	}
	if empty {
		return i, nil
	}
	for {
		if i >= len(b) {
			return 0, ErrSyntax
		}
		var err error
		if i, err = fn(b, i); err != nil {
			return 0, err
		}
		var closed bool
		if i, closed, err = after(b, i, ']'); err != nil || closed {
			return i, err
		}
	}
}

// open reads the opening byte o of a container at b[i] (after space) and
// the space after it, returning the index of what follows; ok is false if
// b[i] is not o, and empty reports that the closing byte c follows at once
// (the index is then after it).
func open(b []byte, i int, o, c byte) (next int, empty, ok bool) {
	i = Space(b, i)
	if i >= len(b) || b[i] != o {
		return 0, false, false
	}
	i = Space(b, i+1)
	if i < len(b) && b[i] == c {
		return i + 1, true, true
	}
	return i, false, true
}

// after reads what follows a member or element at b[i] (after space): a
// comma and the space after it, or the closing byte c, which closed reports
// (the index is then after it).
func after(b []byte, i int, c byte) (next int, closed bool, err error) {
	i = Space(b, i)
	if i >= len(b) {
		return 0, false, ErrSyntax
	}
	switch b[i] {
	case ',':
		return Space(b, i+1), false, nil
	case c:
		return i + 1, true, nil
	}
	return 0, false, ErrSyntax
}

// Unquote appends the value of the JSON string s (with its quotes, and
// nothing after them) to dst.
func Unquote(dst, s []byte) ([]byte, error) {
	out, end, err := AppendString(dst, s, 0)
	if err == nil && end != len(s) {
		err = ErrSyntax
	}
	return out, err
}

// AppendString appends the value of the JSON string starting at b[i] == '"'
// to dst, as encoding/json decodes it (escapes resolved, invalid UTF-8 and
// lone surrogates replaced by U+FFFD), and returns the index after the
// closing quote. One pass: the string is never scanned for its end first.
// Control characters are copied, not refused (CheckString refuses them).
func AppendString(dst, b []byte, i int) ([]byte, int, error) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, ErrSyntax
	}
	i++
	// Invariant: the room left in dst is at least the input left, so bytes
	// are stored without append. An escape writes fewer bytes than it reads;
	// only invalid UTF-8 grows (one byte becomes U+FFFD), handled by append.
	dst = Reserve(dst, len(b)-i)
	n := len(dst)
	dst = dst[:cap(dst)]
	for i < len(b) {
		c := b[i]
		if Plain[c] {
			dst[n] = c
			n++
			i++
			continue
		}
		if c == '"' {
			return dst[:n], i + 1, nil
		}
		if c >= 0x80 {
			j := i + 1
			for j < len(b) && b[j] >= 0x80 {
				j++
			}
			dst = AppendUTF8(dst[:n], b[i:j])
			n = len(dst)
			dst = Reserve(dst, len(b)-j)
			dst = dst[:cap(dst)]
			i = j
			continue
		}
		r, next, ok := EscapeAt(b, i)
		if !ok {
			return nil, 0, ErrSyntax
		}
		if r < utf8.RuneSelf {
			dst[n] = byte(r)
			n++
		} else {
			n += utf8.EncodeRune(dst[n:], r)
		}
		i = next
	}
	return nil, 0, ErrSyntax
}

// Reserve returns dst with room for at least n more bytes.
func Reserve(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]byte, len(dst), len(dst)+n)
	copy(grown, dst)
	return grown
}

// Plain marks the bytes a string's value holds as they stand: ASCII other
// than the quote and the backslash (control characters included).
var Plain = func() (t [256]bool) {
	for c := 0; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendUTF8 appends run, each invalid UTF-8 byte replaced by U+FFFD.
func AppendUTF8(dst, run []byte) []byte {
	if utf8.Valid(run) {
		return append(dst, run...)
	}
	for len(run) > 0 {
		r, size := utf8.DecodeRune(run)
		dst = utf8.AppendRune(dst, r)
		run = run[size:]
	}
	return dst
}

// EscapeAt decodes the escape starting at b[i] == '\\' as encoding/json
// does and returns its value and the index after it: a \uXXXX surrogate
// pairs with the \uXXXX right after it when they decode together, and is
// otherwise U+FFFD, the escape after it then read on its own.
func EscapeAt(b []byte, i int) (rune, int, bool) {
	if i+1 >= len(b) {
		return 0, 0, false
	}
	switch e := b[i+1]; e {
	case '"', '\\', '/':
		return rune(e), i + 2, true
	case 'b':
		return '\b', i + 2, true
	case 'f':
		return '\f', i + 2, true
	case 'n':
		return '\n', i + 2, true
	case 'r':
		return '\r', i + 2, true
	case 't':
		return '\t', i + 2, true
	case 'u':
		r, ok := hex4(b[i+2:])
		if !ok {
			return 0, 0, false
		}
		i += 6
		if utf16.IsSurrogate(r) {
			r2, ok := rune(0), false
			if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
				r2, ok = hex4(b[i+2:])
			}
			if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
				return dec, i + 6, true
			}
			return utf8.RuneError, i, true
		}
		return r, i, true
	}
	return 0, 0, false
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		d, ok := Unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | d
	}
	return r, true
}

// Unhex returns the value of the hex digit c.
func Unhex(c byte) (rune, bool) {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0'), true
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10), true
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}

// strByte marks the bytes CheckString passes over without a second look:
// everything but the quote, the backslash and control characters.
var strByte = func() (t [256]bool) {
	for c := 0x20; c < 0x100; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// CheckString validates the string starting at b[i] == '"' as encoding/json's
// scanner does (no control characters, only JSON's escapes, four hex
// digits after \u; any bytes of 0x80 and above) and returns the index after
// it and whether it holds an escape.
func CheckString(b []byte, i int) (end int, escaped bool, err error) {
	i++
	for {
		for i < len(b) && strByte[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, false, ErrSyntax
		}
		switch b[i] {
		case '"':
			return i + 1, escaped, nil
		case '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, ErrSyntax
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b[i+2:]); !ok {
					return 0, false, ErrSyntax
				}
				i += 6
			default:
				return 0, false, ErrSyntax
			}
		default: // a control character
			return 0, false, ErrSyntax
		}
	}
}

// NumberEnd validates the number starting at b[i] as JSON's grammar has it
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?) and returns the index
// after it. What follows is the caller's to check.
func NumberEnd(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return 0, ErrSyntax
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, ErrSyntax
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, ErrSyntax
		}
		i = j
	}
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// LiteralEnd returns the index after the literal true, false or null
// starting at b[i].
func LiteralEnd(b []byte, i int) (int, error) {
	lit := ""
	switch {
	case i >= len(b):
	case b[i] == 't':
		lit = "true"
	case b[i] == 'f':
		lit = "false"
	case b[i] == 'n':
		lit = "null"
	}
	if lit == "" || len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, ErrSyntax
	}
	return i + len(lit), nil
}
