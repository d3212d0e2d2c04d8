package detect

// The references the fast paths are tested against, kept apart from them:
// encoding/json's decoder for records, and encoding/json (valid bodies) or
// a naive byte-at-a-time scanner written from ScanBody's documented rules
// (invalid bodies) for splitting bodies. Nothing here is shared with
// parseRecord, scanFast, scanBody or jsonbytes; the mapping from the tree
// to a Record (recordFromNode) is the one both use, and is tested on its
// own against Elastic's fixtures (conformance_test.go).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// decodeRecordRef is DecodeRecord built on encoding/json's decoder.
func decodeRecordRef(raw []byte) (Record, Skip) {
	root, err := parseNodeRef(raw)
	if err != nil {
		if errors.Is(err, jsonbytes.ErrTooDeep) {
			return Record{}, SkipTooDeep
		}
		return Record{}, SkipNotJSON
	}
	return recordFromNode(root, raw)
}

// parseNodeRef parses one JSON value (the whole input) into a node tree.
func parseNodeRef(data []byte) (node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readNodeRef(dec, 0)
	if err != nil {
		return node{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return node{}, errors.New("trailing data after json value")
	}
	return n, nil
}

func readNodeRef(dec *json.Decoder, depth int) (node, error) {
	if depth > jsonbytes.MaxDepth {
		return node{}, jsonbytes.ErrTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return node{}, err
	}
	switch t := tok.(type) {
	case nil:
		return node{kind: kindNull}, nil
	case string:
		return node{kind: kindString, str: t}, nil
	case json.Number:
		return node{kind: kindNumber, str: string(t)}, nil
	case bool:
		return node{kind: kindBool, truth: t}, nil
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]node{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return node{}, err
				}
				k, ok := kt.(string)
				if !ok {
					return node{}, fmt.Errorf("object key is %T", kt)
				}
				v, err := readNodeRef(dec, depth+1)
				if err != nil {
					return node{}, err
				}
				obj[snakeKey(k)] = v
			}
			if _, err := dec.Token(); err != nil {
				return node{}, err
			}
			return node{kind: kindObject, obj: obj}, nil
		case '[':
			var arr []node
			for dec.More() {
				v, err := readNodeRef(dec, depth+1)
				if err != nil {
					return node{}, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return node{}, err
			}
			return node{kind: kindArray, arr: arr}, nil
		}
	}
	return node{}, fmt.Errorf("unexpected json token %v", tok)
}

// splitBodyRef returns the records of an event body as ScanBody's doc
// comment defines them.
func splitBodyRef(body []byte) [][]byte {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if !json.Valid(body) {
		return splitInvalidRef(body)
	}
	if body[0] != '{' {
		return [][]byte{body}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		panic(err)
	}
	var recs json.RawMessage
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			panic(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			panic(err)
		}
		if k == "records" {
			recs = v
		}
	}
	switch {
	case recs == nil:
		return [][]byte{body}
	case recs[0] == 'n':
		return nil
	case recs[0] == '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(recs, &elems); err != nil {
			panic(err)
		}
		out := make([][]byte, len(elems))
		for i, e := range elems {
			out[i] = e
		}
		return out
	}
	return [][]byte{recs}
}

// splitInvalidRef splits a body that is not valid JSON: Azure Monitor's
// shape delimited by braces alone, else any shape delimited by strings and
// brackets; a body neither delimits is one record.
func splitInvalidRef(b []byte) [][]byte {
	if recs, ok := braceShapeRef(b); ok {
		return recs
	}
	if b[0] != '{' {
		return [][]byte{b}
	}
	var recs []byte
	i := spaceRef(b, 1)
	if i == len(b)-1 && b[i] == '}' {
		return [][]byte{b} // {}
	}
	for {
		ke, ok := stringEndRef(b, i)
		if !ok {
			return [][]byte{b}
		}
		key := b[i:ke]
		i = spaceRef(b, ke)
		if i >= len(b) || b[i] != ':' {
			return [][]byte{b}
		}
		i = spaceRef(b, i+1)
		ve, ok := valueEndRef(b, i)
		if !ok {
			return [][]byte{b}
		}
		var k string
		if json.Unmarshal(key, &k) == nil && k == "records" {
			recs = b[i:ve]
		}
		i = spaceRef(b, ve)
		if i < len(b) && b[i] == ',' {
			i = spaceRef(b, i+1)
			continue
		}
		if i != len(b)-1 || b[i] != '}' {
			return [][]byte{b}
		}
		break
	}
	switch {
	case recs == nil:
		return [][]byte{b}
	case string(recs) == "null":
		return nil
	case recs[0] != '[':
		return [][]byte{recs}
	}
	var out [][]byte
	i = spaceRef(recs, 1)
	if i < len(recs) && recs[i] == ']' {
		return nil
	}
	for {
		ve, ok := valueEndRef(recs, i)
		if !ok {
			return [][]byte{b}
		}
		out = append(out, recs[i:ve])
		i = spaceRef(recs, ve)
		switch {
		case i < len(recs) && recs[i] == ',':
			i = spaceRef(recs, i+1)
		case i < len(recs) && recs[i] == ']':
			return out
		default:
			return [][]byte{b}
		}
	}
}

// braceShapeRef splits {"records":[{...},...]} (JSON space anywhere
// between the tokens) by braces outside strings, square brackets ignored;
// ok is false for any other shape.
func braceShapeRef(b []byte) (recs [][]byte, ok bool) {
	i := spaceRef(b, 1)
	if b[0] != '{' || !bytes.HasPrefix(b[i:], []byte(`"records"`)) {
		return nil, false
	}
	i = spaceRef(b, i+len(`"records"`))
	if i >= len(b) || b[i] != ':' {
		return nil, false
	}
	i = spaceRef(b, i+1)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i = spaceRef(b, i+1)
	if i < len(b) && b[i] == ']' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '{' {
				return nil, false
			}
			start, depth, inStr := i, 0, false
			for ; i < len(b); i++ {
				c := b[i]
				if inStr {
					switch c {
					case '\\':
						i++
					case '"':
						inStr = false
					}
					continue
				}
				if c == '\\' {
					return nil, false
				}
				if c == '"' {
					inStr = true
				} else if c == '{' {
					depth++
				} else if c == '}' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if i >= len(b) {
				return nil, false
			}
			recs = append(recs, b[start:i+1])
			i = spaceRef(b, i+1)
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			if i >= len(b) || b[i] != ',' {
				return nil, false
			}
			i = spaceRef(b, i+1)
		}
	}
	i = spaceRef(b, i)
	if i != len(b)-1 || b[i] != '}' {
		return nil, false
	}
	return recs, true
}

func spaceRef(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEndRef returns the index after the string at b[i] == '"'.
func stringEndRef(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// valueEndRef returns the index after the value at b[i]: a string, brackets
// of either kind nesting (strings skipped), or a run of other bytes up to a
// delimiter or space.
func valueEndRef(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return stringEndRef(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				e, ok := stringEndRef(b, i)
				if !ok {
					return 0, false
				}
				i = e
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j, j > i
		case '"', '{', '[', ':':
			return 0, false
		}
	}
	return len(b), true
}

// describe renders records for failure messages.
func describe(recs [][]byte) string {
	return fmt.Sprintf("%d records: %q", len(recs), recs)
}
