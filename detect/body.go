package detect

import (
	"bytes"
	"encoding/json"
)

// SplitBody calls fn for each raw record of an Event Hub event body: the
// elements of {"records":[...]} (as Azure Monitor sends them) or the body
// itself when it is a bare record. A body that is not a JSON object, or whose
// records member is not an array, is passed to fn whole so that decoding it
// counts as one skipped record. It returns the number of records passed.
func SplitBody(body []byte, fn func(raw []byte)) int {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return 0
	}
	if body[0] != '{' {
		fn(body)
		return 1
	}
	var env struct {
		Records json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		if n, ok := splitLenient(body, fn); ok {
			return n
		}
		fn(body)
		return 1
	}
	if env.Records == nil || !hasRecordsKey(body) {
		fn(body)
		return 1
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(env.Records, &recs); err != nil {
		fn(env.Records)
		return 1
	}
	for _, r := range recs {
		fn(r)
	}
	return len(recs)
}

// hasRecordsKey reports whether the top-level object has the exact key
// "records" (encoding/json matches keys case-insensitively; a bare record
// with a "Records" property must not be taken for an envelope).
func hasRecordsKey(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		if k, _ := t.(string); k == "records" {
			return true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// splitLenient delimits the records of a body that is not valid JSON with
// the structural scan ScanBody uses, so that one malformed record does not
// cost the valid records around it, and both paths agree on which records a
// body holds. Each record is validated when it is decoded. It reports false
// when even the structure is broken.
func splitLenient(body []byte, fn func(raw []byte)) (int, bool) {
	if n, _, ok := scanFast(body, Prefilter{}, fn); ok {
		return n, true
	}
	start, end, has, ok := findRecords(body)
	if !ok {
		return 0, false
	}
	if !has {
		fn(body)
		return 1, true
	}
	return eachElement(body[start:end], fn)
}
