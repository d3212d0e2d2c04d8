package handler

import (
	"bytes"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// The host's invocation for a batch is large (100 events of tens of
// records, every quote escaped twice over), so it is not decoded with
// encoding/json, which would validate and copy it several times. The
// functions here walk it once to find the members the handler reads and
// unescape each event body once (both of its layers of escapes at once, in
// split.go, when the events binding has the usual form). Event bodies are validated record by
// record when they are decoded.

var errSyntax = errors.New("invalid JSON")

// maxEnvelopeDepth bounds nesting in an invocation.
const maxEnvelopeDepth = 64

func space(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the JSON string starting at b[i] == '"'.
func stringEnd(b []byte, i int) (int, error) {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return 0, errSyntax
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

// valueEnd returns the index after the JSON value starting at b[i]. It
// checks strings and nesting, not the whole grammar.
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, err := stringEnd(b, i)
				if err != nil {
					return 0, err
				}
				i = end
				continue
			case '{', '[':
				if depth++; depth > maxEnvelopeDepth {
					return 0, errors.New("nested too deeply")
				}
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errSyntax
	default:
		start := i
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t' {
			if b[i] == '"' || b[i] == '{' || b[i] == '[' || b[i] == ':' {
				return 0, errSyntax
			}
			i++
		}
		if i == start {
			return 0, errSyntax
		}
		return i, nil
	}
}

// members calls fn with each member of the JSON object obj (keys
// unescaped, values raw). It fails if obj is not one object.
func members(obj []byte, fn func(key string, value []byte)) error {
	i := space(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errors.New("not a JSON object")
	}
	i = space(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		if space(obj, i+1) != len(obj) {
			return errSyntax
		}
		return nil
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return errSyntax
		}
		kend, err := stringEnd(obj, i)
		if err != nil {
			return err
		}
		key, err := unquote(nil, obj[i:kend])
		if err != nil {
			return err
		}
		i = space(obj, kend)
		if i >= len(obj) || obj[i] != ':' {
			return errSyntax
		}
		i = space(obj, i+1)
		vend, err := valueEnd(obj, i)
		if err != nil {
			return err
		}
		fn(string(key), obj[i:vend])
		i = space(obj, vend)
		if i >= len(obj) {
			return errSyntax
		}
		switch obj[i] {
		case ',':
			i = space(obj, i+1)
		case '}':
			if space(obj, i+1) != len(obj) {
				return errSyntax
			}
			return nil
		default:
			return errSyntax
		}
	}
}

// walkObject walks the object starting at b[i] == '{': for each member it
// calls fn with the unescaped key and the index of the value, and fn
// returns the index after the value. It returns the index after the object
// and requires nothing but space after it when the object starts at 0.
func walkObject(b []byte, i int, fn func(key string, b []byte, i int) (int, error)) (int, error) {
	top := i == 0
	i = space(b, i)
	if i >= len(b) || b[i] != '{' {
		return 0, errors.New("not a JSON object")
	}
	i = space(b, i+1)
	if i < len(b) && b[i] == '}' {
		return closeAt(b, i, top)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errSyntax
		}
		key, kend, err := keyAt(b, i)
		if err != nil {
			return 0, err
		}
		i = space(b, kend)
		if i >= len(b) || b[i] != ':' {
			return 0, errSyntax
		}
		i = space(b, i+1)
		if i >= len(b) {
			return 0, errSyntax
		}
		if i, err = fn(key, b, i); err != nil {
			return 0, err
		}
		i = space(b, i)
		if i >= len(b) {
			return 0, errSyntax
		}
		switch b[i] {
		case ',':
			i = space(b, i+1)
		case '}':
			return closeAt(b, i, top)
		default:
			return 0, errSyntax
		}
	}
}

// keyAt returns the unescaped key starting at b[i] == '"' and the index
// after it. It finds the key's end first so that unquote reserves room for
// the key, not for the rest of the envelope as unquoteAt(nil, b, i) would.
func keyAt(b []byte, i int) (string, int, error) {
	end, err := stringEnd(b, i)
	if err != nil {
		return "", 0, err
	}
	key, err := unquote(nil, b[i:end])
	return string(key), end, err
}

// walkArray walks the array that is the whole of b, calling fn with the
// index of each element; fn returns the index after it.
func walkArray(b []byte, fn func(b []byte, i int) (int, error)) error {
	i := space(b, 0)
	if i >= len(b) || b[i] != '[' {
		return errors.New("not a JSON array")
	}
	i = space(b, i+1)
	if i < len(b) && b[i] == ']' {
		_, err := closeAt(b, i, true)
		return err
	}
	for {
		if i >= len(b) {
			return errSyntax
		}
		var err error
		if i, err = fn(b, i); err != nil {
			return err
		}
		i = space(b, i)
		if i >= len(b) {
			return errSyntax
		}
		switch b[i] {
		case ',':
			i = space(b, i+1)
		case ']':
			_, err := closeAt(b, i, true)
			return err
		default:
			return errSyntax
		}
	}
}

// closeAt returns the index after the closing bracket at b[i]; with whole,
// only space may follow it.
func closeAt(b []byte, i int, whole bool) (int, error) {
	if whole && space(b, i+1) != len(b) {
		return 0, errSyntax
	}
	return i + 1, nil
}

// unquote appends the value of the JSON string s (with its quotes, and
// nothing after them) to dst.
func unquote(dst, s []byte) ([]byte, error) {
	out, end, err := unquoteAt(dst, s, 0)
	if err == nil && end != len(s) {
		err = errSyntax
	}
	return out, err
}

// unquoteAt appends the value of the JSON string starting at b[i] == '"'
// to dst, as encoding/json decodes it (escapes resolved, invalid UTF-8 and
// lone surrogates replaced by U+FFFD), and returns the index after the
// closing quote. One pass: the string is never scanned for its end first.
func unquoteAt(dst, b []byte, i int) ([]byte, int, error) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, errSyntax
	}
	i++
	// Invariant: the room left in dst is at least the input left, so bytes
	// are stored without append. An escape writes fewer bytes than it reads;
	// only invalid UTF-8 grows (one byte becomes U+FFFD), handled by append.
	dst = reserve(dst, len(b)-i)
	n := len(dst)
	dst = dst[:cap(dst)]
	for i < len(b) {
		c := b[i]
		if plain[c] {
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
			dst = appendUTF8(dst[:n], b[i:j])
			n = len(dst)
			dst = reserve(dst, len(b)-j)
			dst = dst[:cap(dst)]
			i = j
			continue
		}
		if i+1 >= len(b) {
			return nil, 0, errSyntax
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			dst[n] = e
		case 'b':
			dst[n] = '\b'
		case 'f':
			dst[n] = '\f'
		case 'n':
			dst[n] = '\n'
		case 'r':
			dst[n] = '\r'
		case 't':
			dst[n] = '\t'
		case 'u':
			r, next, ok := escapeAt(b, i)
			if !ok {
				return nil, 0, errSyntax
			}
			n += utf8.EncodeRune(dst[n:], r)
			i = next
			continue
		default:
			return nil, 0, errSyntax
		}
		n++
		i += 2
	}
	return nil, 0, errSyntax
}

// reserve returns dst with room for at least n more bytes.
func reserve(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]byte, len(dst), len(dst)+n)
	copy(grown, dst)
	return grown
}

// plain marks the bytes unquoteAt copies without a second look: ASCII other
// than the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendUTF8 appends run, each invalid UTF-8 byte replaced by U+FFFD.
func appendUTF8(dst, run []byte) []byte {
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

// escapeAt decodes the escape starting at b[i] == '\\' as unquoteAt does
// and returns its value and the index after it.
func escapeAt(b []byte, i int) (rune, int, bool) {
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
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | d
	}
	return r, true
}

// unhex returns the value of the hex digit c.
func unhex(c byte) (rune, bool) {
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
