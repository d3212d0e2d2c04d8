package detect

import (
	"unicode/utf8"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// Keys the rule and the alert read: top level, and under properties. Values
// of other keys are validated and skipped, never built.
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

// keep says which parts of a value the decoder builds into nodes.
type keep uint8

const (
	keepNone  keep = iota // validate only
	keepAll               // the whole value
	keepRoot              // a record: the members named in rootKeys, properties by keepProps
	keepProps             // properties: the members named in propKeys
	// An audit record (DecodeDeviceAudit): the members auditMembers names
	// at each level; target resources and their modified properties are
	// arrays whose elements keep their level's members.
	keepAuditRoot
	keepAuditProps
	keepAuditTargets
	keepAuditModified
)

// auditMembers names, per level, the members an audit record is read for
// and what is kept of each.
var auditMembers = map[keep]map[string]keep{
	keepAuditRoot: {"category": keepAll, "operation_name": keepAll, "time": keepAll, "correlation_id": keepAll,
		"identity": keepAll, "caller_ip_address": keepAll, "properties": keepAuditProps},
	keepAuditProps: {"id": keepAll, "result": keepAll, "activity_display_name": keepAll, "correlation_id": keepAll,
		"user_agent": keepAll, "activity_date_time": keepAll, "initiated_by": keepAll,
		"target_resources": keepAuditTargets, "additional_details": keepAll},
	keepAuditTargets: {"id": keepAll, "display_name": keepAll, "type": keepAll, "user_principal_name": keepAll,
		"modified_properties": keepAuditModified},
	keepAuditModified: {"display_name": keepAll, "new_value": keepAll},
}

// member returns what to keep of the value of key (renamed) in an object
// kept by k. (A []byte key: the map lookups convert it without copying.)
func (k keep) member(key []byte) keep {
	switch k {
	case keepRoot:
		if string(key) == "properties" {
			return keepProps
		}
		if rootKeys[string(key)] {
			return keepAll
		}
		return keepNone
	case keepProps:
		if propKeys[string(key)] {
			return keepAll
		}
		return keepNone
	case keepAuditRoot, keepAuditProps, keepAuditTargets, keepAuditModified:
		return auditMembers[k][string(key)] // keepNone when not named
	}
	return k
}

// snakeASCII appends snakeKey's renaming of the ASCII key k to dst, without
// allocating for a short key; ok is false for a key holding a byte past ASCII,
// which snakeKey renames.
func snakeASCII(dst, k []byte) (out []byte, ok bool) {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 0x80 {
			return dst, false
		}
		dst = append(dst, lowerASCII(c))
		if c >= 'a' && c <= 'z' && i+1 < len(k) && isUpper(k[i+1]) {
			dst = append(dst, '_')
			for i+1 < len(k) && isUpper(k[i+1]) {
				i++
				dst = append(dst, lowerASCII(k[i]))
			}
		}
	}
	return dst, true
}

func lowerASCII(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}

// parseRecord parses one record (the whole of raw) as the pipeline reads
// it: the tree of the members the rule reads, keys renamed to snake case, a
// later key winning over an earlier one that renames the same. The whole
// record is validated, as encoding/json's decoder validates it, and in the
// same order: the first fault in the text decides between errTooDeep (a
// value nested deeper than jsonbytes.MaxDepth) and a syntax error. A root
// that is not an object is validated and returned without its content.
//
// It is the only record decoder: nothing is decoded twice, and no input
// takes another path. Its reference in the tests is encoding/json's
// decoder (parseNodeRef in ref_test.go).
func parseRecord(raw []byte) (node, error) {
	i := jsonbytes.Space(raw, 0)
	k := keepRoot
	if i < len(raw) && raw[i] != '{' {
		k = keepNone
	}
	return parseWhole(raw, i, k)
}

// parseNode parses one JSON value (the whole of raw) into a tree of all of
// it, validated as parseRecord validates a record.
func parseNode(raw []byte) (node, error) {
	return parseWhole(raw, 0, keepAll)
}

// errTooDeep is the error of a value nested deeper than jsonbytes.MaxDepth.
var errTooDeep = jsonbytes.ErrTooDeep

func parseWhole(raw []byte, i int, k keep) (node, error) {
	n, end, err := parseValue(raw, i, 0, k)
	if err != nil {
		return node{}, err
	}
	if jsonbytes.Space(raw, end) != len(raw) {
		return node{}, jsonbytes.ErrSyntax
	}
	return n, nil
}

// parseValue parses the value at b[i], at the given depth (the record is
// at 0), keeping what k says, and returns the index after it. Like
// encoding/json's decoder, it refuses a value past the depth limit before
// reading it.
func parseValue(b []byte, i, depth int, k keep) (node, int, error) {
	if depth > jsonbytes.MaxDepth {
		return node{}, 0, errTooDeep
	}
	i = jsonbytes.Space(b, i)
	if i >= len(b) {
		return node{}, 0, jsonbytes.ErrSyntax
	}
	switch c := b[i]; {
	case c == '{':
		return parseObject(b, i, depth, k)
	case c == '[':
		return parseArray(b, i, depth, k)
	case c == '"':
		end, escaped, err := jsonbytes.CheckString(b, i)
		if err != nil || k == keepNone {
			return node{}, end, err
		}
		return node{kind: kindString, str: stringValue(b[i:end], escaped)}, end, nil
	case c == '-' || c >= '0' && c <= '9':
		end, err := jsonbytes.NumberEnd(b, i)
		if err != nil || k == keepNone {
			return node{}, end, err
		}
		return node{kind: kindNumber, str: string(b[i:end])}, end, nil
	default:
		end, err := jsonbytes.LiteralEnd(b, i)
		if err != nil || k == keepNone {
			return node{}, end, err
		}
		switch c {
		case 't':
			return node{kind: kindBool, truth: true}, end, nil
		case 'f':
			return node{kind: kindBool}, end, nil
		}
		return node{kind: kindNull}, end, nil
	}
}

// stringValue returns the value of the checked JSON string s.
func stringValue(s []byte, escaped bool) string {
	if !escaped && utf8.Valid(s) {
		return string(s[1 : len(s)-1])
	}
	v, _ := jsonbytes.Unquote(nil, s)
	return string(v)
}

func parseObject(b []byte, i, depth int, k keep) (node, int, error) {
	var out node
	if k != keepNone {
		out = node{kind: kindObject, obj: map[string]node{}}
	}
	if depth+1 > jsonbytes.MaxDepth {
		end, err := tooDeepObject(b, i)
		return out, end, err
	}
	end, err := jsonbytes.WalkObject(b, i, func(rawKey []byte, b []byte, i int) (int, error) {
		kend, escaped, err := jsonbytes.CheckString(rawKey, 0)
		if err != nil || kend != len(rawKey) {
			return 0, jsonbytes.ErrSyntax
		}
		mk, key := keepNone, ""
		if k != keepNone {
			var buf [64]byte
			name, ok := buf[:0], false
			if !escaped {
				name, ok = snakeASCII(name, rawKey[1:len(rawKey)-1])
			}
			if !ok {
				name = []byte(snakeKey(stringValue(rawKey, escaped)))
			}
			if mk = k.member(name); mk != keepNone {
				key = string(name)
			}
		}
		v, end, err := parseValue(b, i, depth+1, mk)
		if err == nil && mk != keepNone {
			out.obj[key] = v
		}
		return end, err
	})
	return out, end, err
}

// tooDeepObject reads the object at b[i] whose members would be past the
// depth limit, as encoding/json's decoder does: it reads the first key,
// then refuses the value by its depth before looking for the colon. An
// empty object is fine (the index after it is returned), a first key that
// is not a valid string is a syntax error.
func tooDeepObject(b []byte, i int) (int, error) {
	i = jsonbytes.Space(b, i+1)
	switch {
	case i < len(b) && b[i] == '}':
		return i + 1, nil
	case i < len(b) && b[i] == '"':
		if _, _, err := jsonbytes.CheckString(b, i); err != nil {
			return 0, err
		}
		return 0, errTooDeep
	}
	return 0, jsonbytes.ErrSyntax
}

func parseArray(b []byte, i, depth int, k keep) (node, int, error) {
	var out node
	if k != keepNone {
		out = node{kind: kindArray}
		if k != keepAuditTargets && k != keepAuditModified {
			k = keepAll // the elements of a kept array (properties as an array too)
		}
	}
	end, err := jsonbytes.WalkArray(b, i, func(b []byte, i int) (int, error) {
		if b[i] == '}' { // encoding/json closes the array here, wrongly, before any depth check
			return 0, jsonbytes.ErrSyntax
		}
		v, end, err := parseValue(b, i, depth+1, k)
		if err == nil && k != keepNone {
			out.arr = append(out.arr, v)
		}
		return end, err
	})
	return out, end, err
}
