package detect

import (
	"bytes"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// DeviceKind is what DeviceFilter makes of a record from its bytes: a set
// of the decoders it may need.
type DeviceKind uint8

// The kinds of record the chain reads.
const (
	DeviceNone     DeviceKind = 0      // neither: not decoded for the chain
	DeviceAuditOp  DeviceKind = 1 << 0 // may be an audit record of a device operation
	DeviceSignInOp DeviceKind = 1 << 1 // may be a sign-in naming a watched device
	deviceEither              = DeviceAuditOp | DeviceSignInOp
)

// DeviceFilter tells, without decoding, which records the attack chain
// needs: audit records of the device operations, and sign-ins whose
// deviceDetail.deviceId is one of the watched devices (those registered
// within the horizon). Every other record, including the primary refresh
// token sign-ins of the tenant's own devices (a large share of its
// non-interactive sign-ins), is ruled out by a few byte searches.
//
// A record the filter passes may still not be one: the decoders decide. A
// record it rules out cannot be one, unless a \u escape spells the bytes it
// looks for; any record holding a \u escape is passed.
type DeviceFilter struct {
	watched map[string]struct{}
}

// NewDeviceFilter returns a filter watching the given deviceIds (GUIDs; case
// does not matter; anything else is ignored).
func NewDeviceFilter(deviceIDs []string) DeviceFilter {
	f := DeviceFilter{}
	for _, id := range deviceIDs {
		if g := lowerGUID(id); g != "" {
			if f.watched == nil {
				f.watched = map[string]struct{}{}
			}
			f.watched[g] = struct{}{}
		}
	}
	return f
}

// Watching returns how many devices the filter watches.
func (f DeviceFilter) Watching() int { return len(f.watched) }

var (
	// The searches start with a byte that is rare in JSON (not a quote),
	// which is what makes bytes.Index fast; the quotes are checked after.
	auditCategory = []byte(`AuditLogs"`)
	deviceIDKey   = []byte(`deviceId"`)
	// The quoted operation names; each ends in " device" or "to device".
	deviceOpNeedle = []byte(`device"`)
	deviceOpQuoted = func() [][]byte {
		var out [][]byte
		for o := OpRegisterDevice; o < numDeviceOps; o++ {
			out = append(out, []byte(`"`+o.String()+`"`))
		}
		return out
	}()
)

// Classify says which decoders, if any, raw needs. A record with a \u
// escape may need either.
func (f DeviceFilter) Classify(raw []byte) DeviceKind {
	if isAuditCategory(raw) && hasDeviceOp(raw) {
		return DeviceAuditOp
	}
	if len(f.watched) > 0 && f.namesWatched(raw) {
		return DeviceSignInOp
	}
	if bytes.Contains(raw, unicodeEscape) {
		return deviceEither
	}
	return DeviceNone
}

// isAuditCategory reports whether raw holds the string "AuditLogs".
func isAuditCategory(raw []byte) bool {
	for i := 0; ; {
		j := bytes.Index(raw[i:], auditCategory)
		if j < 0 {
			return false
		}
		if i+j > 0 && raw[i+j-1] == '"' {
			return true
		}
		i += j + len(auditCategory)
	}
}

// hasDeviceOp reports whether raw holds one of the quoted operation names.
func hasDeviceOp(raw []byte) bool {
	for i := 0; ; {
		j := bytes.Index(raw[i:], deviceOpNeedle)
		if j < 0 {
			return false
		}
		end := i + j + len(deviceOpNeedle)
		for _, q := range deviceOpQuoted {
			if end >= len(q) && bytes.Equal(raw[end-len(q):end], q) {
				return true
			}
		}
		i = end
	}
}

// namesWatched reports whether a "deviceId" member of raw holds a watched
// id. Only the bytes after each key are read: `"deviceId" : "<guid>"`.
func (f DeviceFilter) namesWatched(raw []byte) bool {
	var buf [36]byte
	for i := 0; ; {
		j := bytes.Index(raw[i:], deviceIDKey)
		if j < 0 {
			return false
		}
		quoted := i+j > 0 && raw[i+j-1] == '"'
		k := jsonbytes.Space(raw, i+j+len(deviceIDKey))
		i = i + j + len(deviceIDKey)
		if !quoted || k >= len(raw) || raw[k] != ':' {
			continue
		}
		k = jsonbytes.Space(raw, k+1)
		if k+38 > len(raw) || raw[k] != '"' || raw[k+37] != '"' {
			continue
		}
		for n := 0; n < 36; n++ {
			c := raw[k+1+n]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[n] = c
		}
		if _, ok := f.watched[string(buf[:])]; ok {
			return true
		}
	}
}

// ScanBody calls fn for each record of an Event Hub body that the filter
// passes, with what it may be, and returns how many it passed. A body that
// holds none of the bytes the filter looks for (no "AuditLogs", no watched
// deviceId, no \u escape) is ruled out by those few searches over the whole
// body, without delimiting its records: the common case, whatever share of
// its sign-ins carries a primary refresh token. Other bodies are split as
// ScanBody splits them (with the zero Prefilter) and each record is
// classified.
func (f DeviceFilter) ScanBody(body []byte, fn func(raw []byte, k DeviceKind)) int {
	if !f.mayHold(body) {
		return 0
	}
	n := 0
	ScanBody(body, Prefilter{}, func(raw []byte) {
		if k := f.Classify(raw); k != DeviceNone {
			n++
			fn(raw, k)
		}
	})
	return n
}

// mayHold reports whether any record of body could pass Classify.
func (f DeviceFilter) mayHold(body []byte) bool {
	if isAuditCategory(body) && hasDeviceOp(body) {
		return true
	}
	if len(f.watched) > 0 && f.namesWatched(body) {
		return true
	}
	return bytes.Contains(body, unicodeEscape)
}

// Watches reports whether the filter watches deviceID (a lower-case GUID).
func (f DeviceFilter) Watches(deviceID string) bool {
	_, ok := f.watched[deviceID]
	return ok
}
