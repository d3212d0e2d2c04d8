package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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

// unwrap peels JSON-string layers: the host encodes arrays (and, on older
// hosts, everything) as a JSON string holding JSON text.
func unwrap(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	for i := 0; len(raw) > 0 && raw[0] == '"'; i++ {
		if i == 4 {
			return nil, errors.New("too many string layers")
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		raw = bytes.TrimSpace([]byte(s))
	}
	return raw, nil
}

// decodeEvents returns the event bodies of the trigger binding. With
// dataType string each element is a JSON string holding the body; without
// dataType each element is the parsed body itself.
func decodeEvents(raw json.RawMessage) ([][]byte, error) {
	inner, err := unwrap(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: events: %v", errEnvelope, err)
	}
	if len(inner) == 0 || inner[0] != '[' {
		if len(inner) > 0 && inner[0] == '{' { // cardinality one
			return [][]byte{inner}, nil
		}
		return nil, fmt.Errorf("%w: events is not an array", errEnvelope)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(inner, &elems); err != nil {
		return nil, fmt.Errorf("%w: events: %v", errEnvelope, err)
	}
	bodies := make([][]byte, 0, len(elems))
	for _, e := range elems {
		e = bytes.TrimSpace(e)
		if len(e) > 0 && e[0] == '"' {
			var s string
			if err := json.Unmarshal(e, &s); err != nil {
				return nil, fmt.Errorf("%w: event body: %v", errEnvelope, err)
			}
			bodies = append(bodies, []byte(s))
			continue
		}
		bodies = append(bodies, e)
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
