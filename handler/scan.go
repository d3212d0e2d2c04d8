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
// unescape each event body once. Event bodies are validated record by
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

// elements calls fn with each element of the JSON array arr (raw).
func elements(arr []byte, fn func(value []byte) error) error {
	i := space(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return errors.New("not a JSON array")
	}
	i = space(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		if space(arr, i+1) != len(arr) {
			return errSyntax
		}
		return nil
	}
	for {
		vend, err := valueEnd(arr, i)
		if err != nil {
			return err
		}
		if err := fn(arr[i:vend]); err != nil {
			return err
		}
		i = space(arr, vend)
		if i >= len(arr) {
			return errSyntax
		}
		switch arr[i] {
		case ',':
			i = space(arr, i+1)
		case ']':
			if space(arr, i+1) != len(arr) {
				return errSyntax
			}
			return nil
		default:
			return errSyntax
		}
	}
}

// unquote appends the value of the JSON string s (with its quotes) to dst,
// as encoding/json decodes it: escapes resolved, invalid UTF-8 and lone
// surrogates replaced by U+FFFD.
func unquote(dst, s []byte) ([]byte, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return nil, errSyntax
	}
	s = s[1 : len(s)-1]
	for len(s) > 0 {
		j := bytes.IndexByte(s, '\\')
		run := s
		if j >= 0 {
			run = s[:j]
		}
		if utf8.Valid(run) {
			dst = append(dst, run...)
		} else {
			for len(run) > 0 { // each invalid byte becomes one U+FFFD
				r, size := utf8.DecodeRune(run)
				dst = utf8.AppendRune(dst, r)
				run = run[size:]
			}
		}
		if j < 0 {
			return dst, nil
		}
		s = s[j:]
		if len(s) < 2 {
			return nil, errSyntax
		}
		switch c := s[1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s[2:])
			if !ok {
				return nil, errSyntax
			}
			s = s[6:]
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s[min(2, len(s)):]); ok && len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						s = s[6:]
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return nil, errSyntax
		}
		s = s[2:]
	}
	return dst, nil
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
