package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// invocation is the body the Functions host POSTs to a custom handler for a
// non-HTTP trigger: input bindings under Data, trigger metadata under
// Metadata.
type invocation struct {
	Data     map[string]binding
	Metadata map[string]json.RawMessage
}

// binding is one input binding's value: a JSON string already unescaped
// (decoded), or any other JSON value raw. A JSON string holding a JSON
// array of JSON strings (the events binding with dataType string) is split
// into its elements' values instead (split, bodies), in one pass, and not
// kept decoded.
type binding struct {
	raw     []byte
	decoded []byte
	str     bool
	split   bool
	bodies  [][]byte
}

// batchMeta is what drswatch uses of an Event Hubs batch's metadata.
type batchMeta struct {
	Partition    string
	Hub          string
	SeqFirst     int64
	SeqLast      int64
	HasSeq       bool
	Enqueued     []time.Time
	RetryCount   int
	HasRetry     bool
	InvocationID string
}

var errEnvelope = errors.New("malformed invocation")

// The host's invocation for a batch is large (100 events of tens of
// records, every quote escaped twice over), so it is not decoded with
// encoding/json, which would validate and copy it several times. It is
// walked once with jsonbytes to find the members the handler reads, and
// each event body is unescaped once (both of its layers of escapes at once,
// in split.go, when the events binding has the usual form). Event bodies are
// validated record by record when they are decoded (detect).

// valueEnd returns the index after the envelope's value at b[i]; a value
// nested deeper than jsonbytes.MaxDepth makes the invocation malformed.
func valueEnd(b []byte, i int) (int, error) {
	end, depth, err := jsonbytes.ValueEnd(b, i)
	if err == nil && depth > jsonbytes.MaxDepth {
		err = jsonbytes.ErrTooDeep
	}
	return end, err
}

// walkObject walks the object at b[i] with jsonbytes.WalkObject, calling fn
// with each unescaped key. When the object starts at 0 it is the whole
// envelope: only space may follow it.
func walkObject(b []byte, i int, fn func(key string, b []byte, i int) (int, error)) (int, error) {
	top := i == 0
	end, err := jsonbytes.WalkObject(b, i, func(k []byte, b []byte, i int) (int, error) {
		key, err := jsonbytes.Unquote(nil, k)
		if err != nil {
			return 0, err
		}
		return fn(string(key), b, i)
	})
	if err == nil && top && jsonbytes.Space(b, end) != len(b) {
		err = jsonbytes.ErrSyntax
	}
	return end, err
}

// members calls fn with each member of the JSON object obj (keys
// unescaped, values raw). It fails if obj is not one object.
func members(obj []byte, fn func(key string, value []byte)) error {
	_, err := walkObject(obj, 0, func(key string, b []byte, i int) (int, error) {
		end, err := valueEnd(b, i)
		if err == nil {
			fn(key, b[i:end])
		}
		return end, err
	})
	return err
}

// parseInvocation walks the envelope once: Data's members are kept (string
// values unescaped on the way, never scanned twice; a string holding an
// array of strings is split into their values, see splitEvents), Metadata
// raw, the rest skipped. Keys match case-insensitively and a repeated Data
// merges into the first, as encoding/json would decode them.
func parseInvocation(body []byte, bufs *buffers) (invocation, error) {
	var inv invocation
	var metaRaw []byte
	_, err := walkObject(body, 0, func(key string, b []byte, i int) (int, error) {
		switch {
		case strings.EqualFold(key, "Data") && b[i] == '{':
			if inv.Data == nil {
				inv.Data = map[string]binding{}
			}
			return walkObject(b, i, func(k string, b []byte, i int) (int, error) {
				if b[i] == '"' {
					bd, end, err := stringBinding(b, i, bufs)
					inv.Data[k] = bd
					return end, err
				}
				end, err := valueEnd(b, i)
				if err == nil {
					inv.Data[k] = binding{raw: b[i:end]}
				}
				return end, err
			})
		case strings.EqualFold(key, "Data") && bytes.HasPrefix(b[i:], []byte("null")):
			return valueEnd(b, i)
		case strings.EqualFold(key, "Data"):
			return 0, errors.New("Data is not an object")
		default:
			end, err := valueEnd(b, i)
			if err == nil && strings.EqualFold(key, "Metadata") {
				metaRaw = b[i:end]
			}
			return end, err
		}
	})
	if err != nil {
		return invocation{}, err
	}
	if len(metaRaw) > 0 && metaRaw[0] == '{' {
		inv.Metadata = map[string]json.RawMessage{}
		if err := members(metaRaw, func(key string, v []byte) { inv.Metadata[key] = v }); err != nil {
			inv.Metadata = nil // metadata never fails a batch
		}
	}
	return inv, nil
}

// stringBinding decodes the binding whose value is the JSON string at
// b[i] == '"', and returns the index after it. The events string is most of
// the envelope: its buffer is sized once instead of grown.
func stringBinding(b []byte, i int, bufs *buffers) (binding, int, error) {
	buf := bufs.get(len(b) - i)
	if _, bodies, end, ok := splitEvents(buf, b, i); ok {
		return binding{raw: b[i:end], str: true, split: true, bodies: bodies}, end, nil
	}
	dec, end, err := jsonbytes.AppendString(buf, b, i)
	return binding{raw: b[i:max(end, i)], decoded: dec, str: true}, end, err
}

// unwrap peels JSON-string layers: the host encodes arrays (and, on older
// hosts, everything) as a JSON string holding JSON text.
func unwrap(raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	for i := 0; len(raw) > 0 && raw[0] == '"'; i++ {
		if i == 4 {
			return nil, errors.New("too many string layers")
		}
		s, err := jsonbytes.Unquote(nil, raw)
		if err != nil {
			return nil, err
		}
		raw = bytes.TrimSpace(s)
	}
	return raw, nil
}

// decodeEvents returns the event bodies of the trigger binding. With
// dataType string each element is a JSON string holding the body; without
// dataType each element is the parsed body itself.
func decodeEvents(bd binding, bufs *buffers) ([][]byte, error) {
	if bd.split {
		return bd.bodies, nil
	}
	raw := bd.raw
	if bd.str {
		raw = bd.decoded
	}
	inner, err := unwrap(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: events: %v", errEnvelope, err)
	}
	if len(inner) > 0 && inner[0] == '{' { // cardinality one
		return [][]byte{inner}, nil
	}
	if len(inner) == 0 || inner[0] != '[' {
		return nil, fmt.Errorf("%w: events is not an array", errEnvelope)
	}
	var bodies [][]byte
	buf := bufs.get(len(inner)) // every unescaped body, back to back
	end, err := jsonbytes.WalkArray(inner, 0, func(b []byte, i int) (int, error) {
		if b[i] != '"' {
			end, err := valueEnd(b, i)
			if err == nil {
				bodies = append(bodies, b[i:end])
			}
			return end, err
		}
		start := len(buf)
		var end int
		buf, end, err = jsonbytes.AppendString(buf, b, i)
		if err == nil {
			bodies = append(bodies, buf[start:len(buf):len(buf)])
		}
		return end, err
	})
	if err == nil && jsonbytes.Space(inner, end) != len(inner) {
		err = jsonbytes.ErrSyntax
	}
	if err != nil {
		return nil, fmt.Errorf("%w: events: %v", errEnvelope, err)
	}
	return bodies, nil
}

// decodeMeta reads the metadata drswatch logs; anything missing or malformed
// is simply left out: metadata never fails a batch.
func decodeMeta(md map[string]json.RawMessage) batchMeta {
	var m batchMeta
	get := func(name string, v any) bool {
		raw, ok := md[name]
		if !ok {
			return false
		}
		inner, err := unwrap(raw)
		if err != nil {
			return false
		}
		return json.Unmarshal(inner, v) == nil
	}
	var pc struct {
		PartitionID  string `json:"PartitionId"`
		EventHubName string `json:"EventHubName"`
	}
	if get("PartitionContext", &pc) {
		m.Partition, m.Hub = pc.PartitionID, pc.EventHubName
	}
	var seqs []json.Number
	if get("SequenceNumberArray", &seqs) && len(seqs) > 0 {
		first, err1 := strconv.ParseInt(string(seqs[0]), 10, 64)
		last, err2 := strconv.ParseInt(string(seqs[len(seqs)-1]), 10, 64)
		if err1 == nil && err2 == nil {
			m.SeqFirst, m.SeqLast, m.HasSeq = first, last, true
		}
	}
	var times []string
	if get("EnqueuedTimeUtcArray", &times) {
		for _, s := range times {
			m.Enqueued = append(m.Enqueued, parseHostTime(s))
		}
	}
	var rc struct {
		RetryCount int `json:"RetryCount"`
	}
	if get("RetryContext", &rc) {
		m.RetryCount, m.HasRetry = rc.RetryCount, true
	}
	return m
}

// parseHostTime parses the host's DateTime rendering, which has no zone
// suffix for UTC values; the zero time when it cannot.
func parseHostTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
