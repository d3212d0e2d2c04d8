package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// invocation is the body the Functions host POSTs to a custom handler for a
// non-HTTP trigger: input bindings under Data, trigger metadata under
// Metadata.
type invocation struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
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

// parseInvocation finds the envelope's Data and Metadata members without
// decoding the rest: the values stay raw slices of body.
func parseInvocation(body []byte) (invocation, error) {
	var inv invocation
	var dataRaw, metaRaw []byte
	if err := members(body, func(key string, v []byte) {
		switch { // case-insensitive, later wins, as encoding/json matches struct fields
		case strings.EqualFold(key, "Data"):
			dataRaw = v
		case strings.EqualFold(key, "Metadata"):
			metaRaw = v
		}
	}); err != nil {
		return inv, err
	}
	if dataRaw != nil && !bytes.Equal(dataRaw, []byte("null")) {
		inv.Data = map[string]json.RawMessage{}
		if err := members(dataRaw, func(key string, v []byte) { inv.Data[key] = v }); err != nil {
			return inv, fmt.Errorf("Data: %w", err)
		}
	}
	if metaRaw != nil && metaRaw[0] == '{' {
		inv.Metadata = map[string]json.RawMessage{}
		if err := members(metaRaw, func(key string, v []byte) { inv.Metadata[key] = v }); err != nil {
			inv.Metadata = nil // metadata never fails a batch
		}
	}
	return inv, nil
}

// unwrap peels JSON-string layers: the host encodes arrays (and, on older
// hosts, everything) as a JSON string holding JSON text.
func unwrap(raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	for i := 0; len(raw) > 0 && raw[0] == '"'; i++ {
		if i == 4 {
			return nil, errors.New("too many string layers")
		}
		s, err := unquote(nil, raw)
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
func decodeEvents(raw []byte) ([][]byte, error) {
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
	err = elements(inner, func(e []byte) error {
		if e[0] != '"' {
			bodies = append(bodies, e)
			return nil
		}
		b, err := unquote(make([]byte, 0, len(e)), e)
		if err != nil {
			return err
		}
		bodies = append(bodies, b)
		return nil
	})
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
