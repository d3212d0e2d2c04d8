package detect

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Keys the rule and the alert read: top level, and under properties. Values
// of other keys are skipped unread.
var (
	rootKeys = map[string]bool{
		"category": true, "time": true, "created_date_time": true,
		"identity": true, "location": true, "properties": true,
	}
	propKeys = map[string]bool{
		"id": true, "user_type": true, "user_principal_name": true, "ipaddress": true,
		"ip_address": true, "app_id": true, "resource_id": true, "session_id": true,
		"device_detail": true, "status": true, "user_display_name": true,
		"unique_token_identifier": true, "location": true, "authentication_protocol": true,
		"authentication_requirement": true, "is_interactive": true, "incoming_token_type": true,
		"token_protection_status_details": true, "app_display_name": true,
		"resource_display_name": true, "app_owner_tenant_id": true,
		"resource_owner_tenant_id": true, "conditional_access_status": true,
		"risk_state": true, "risk_level_aggregated": true, "user_agent": true,
	}
)

// DecodeRecordFast is DecodeRecord for the records the prefilter passes: it
// builds the node tree of only the members the rule reads (the same
// renaming, the same later-key-wins) and maps it with the same code, so the
// result is DecodeRecord's. Anything unusual (escaped keys, nesting past
// maxDepth) takes DecodeRecord itself.
func DecodeRecordFast(raw []byte) (Record, Skip) {
	if len(raw) == 0 || raw[0] != '{' || !json.Valid(raw) || !shallow(raw, maxDepth) {
		return DecodeRecord(raw)
	}
	root, ok := selectMembers(raw, rootKeys, func(key string, v []byte) (node, bool) {
		if key == "properties" && v[0] == '{' {
			return selectMembers(v, propKeys, func(_ string, pv []byte) (node, bool) { return valueNode(pv) })
		}
		return valueNode(v)
	})
	if !ok {
		return DecodeRecord(raw)
	}
	return recordFromNode(root, raw)
}

// selectMembers walks the members of the valid JSON object obj and returns
// an object node holding the wanted ones (by renamed key), each built by
// value. It reports false for a key with escapes or invalid UTF-8 (which
// the JSON decoder would rewrite).
func selectMembers(obj []byte, want map[string]bool, value func(key string, v []byte) (node, bool)) (node, bool) {
	out := node{kind: kindObject, obj: map[string]node{}}
	i := skipSpace(obj, 1)
	if obj[i] == '}' {
		return out, true
	}
	for {
		kend, esc, ok := skipString(obj, i)
		if !ok || esc || !utf8.Valid(obj[i+1:kend-1]) {
			return node{}, false
		}
		key := snakeKey(string(obj[i+1 : kend-1]))
		i = skipSpace(obj, skipSpace(obj, kend)+1) // past ':'
		vend, ok := skipValue(obj, i)
		if !ok {
			return node{}, false
		}
		if want[key] {
			n, ok := value(key, obj[i:vend])
			if !ok {
				return node{}, false
			}
			out.obj[key] = n
		}
		i = skipSpace(obj, vend)
		if obj[i] == '}' {
			return out, true
		}
		i = skipSpace(obj, i+1) // past ','
	}
}

// valueNode builds the node of one valid JSON value: scalars directly, the
// rare object or array through the full parser.
func valueNode(v []byte) (node, bool) {
	switch v[0] {
	case '"':
		if bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
			return node{kind: kindString, str: string(v[1 : len(v)-1])}, true
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return node{}, false
		}
		return node{kind: kindString, str: s}, true
	case 'n':
		return node{kind: kindNull}, true
	case 't':
		return node{kind: kindBool, truth: true}, true
	case 'f':
		return node{kind: kindBool}, true
	case '{', '[':
		n, err := parseNode(v)
		return n, err == nil
	default:
		return node{kind: kindNumber, str: string(v)}, true
	}
}

// shallow reports whether the valid JSON value b nests at most limit levels.
func shallow(b []byte, limit int) bool {
	if bytes.Count(b, []byte{'{'})+bytes.Count(b, []byte{'['}) <= limit {
		return true
	}
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			end, _, ok := skipString(b, i)
			if !ok {
				return false
			}
			i = end - 1
		case '{', '[':
			depth++
			if depth > limit {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}
