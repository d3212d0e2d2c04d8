package detect

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"

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
	guids   *guidTable // the watched ids' words, for ScanBodyWith; nil when none
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
	if len(f.watched) > 0 {
		f.guids = newGUIDTable(f.watched)
	}
	return f
}

// Watching returns how many devices the filter watches.
func (f DeviceFilter) Watching() int { return len(f.watched) }

var (
	// The searches start with a byte that is rare in JSON (not a quote),
	// which is what makes bytes.Index fast; the quotes are checked after.
	auditCategory = []byte(`AuditLogs"`)
	deviceIDKey   = []byte(`Id"`) // then "device before it: 'I' is rare in JSON, 'd' is not
	devicePrefix  = []byte(`"device`)
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
		if !hasCreatingOp(raw) && !bytes.Contains(raw, drsName) && !hasUnicodeEscape(raw) {
			// Update device not written by the Device Registration Service:
			// Intune and sync write it for every device all the time, and
			// only the service's own enrich a registration (the pipeline
			// drops the others when decoded, as audit_unregistered).
			return DeviceNone
		}
		return DeviceAuditOp
	}
	if len(f.watched) > 0 && f.namesWatched(raw) {
		return DeviceSignInOp
	}
	if hasUnicodeEscape(raw) {
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

var drsName = []byte(`"Device Registration Service"`)

// hasCreatingOp reports whether raw holds the quoted name of an operation
// that creates or assigns a device.
func hasCreatingOp(raw []byte) bool {
	for o := OpRegisterDevice; o < numDeviceOps; o++ {
		if o.Creates() && bytes.Contains(raw, deviceOpQuoted[o-1]) {
			return true
		}
	}
	return false
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
		at := i + j
		quoted := at >= len(devicePrefix) && bytes.Equal(raw[at-len(devicePrefix):at], devicePrefix)
		k := jsonbytes.Space(raw, at+len(deviceIDKey))
		i = at + len(deviceIDKey)
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
// passes, with what it may be, and returns how many it passed. The bytes
// the filter looks for (an "AuditLogs" string with a device operation's
// name, a watched deviceId, a \u escape) are searched over the whole body
// first: a body holding none is ruled out by those few searches, without
// delimiting its records, the common case whatever share of its sign-ins
// carries a primary refresh token. Otherwise the records are delimited as
// ScanBody delimits them and only those holding such bytes are classified.
func (f DeviceFilter) ScanBody(body []byte, fn func(raw []byte, k DeviceKind)) int {
	body = bytes.TrimSpace(body)
	hits := f.hits(body)
	esc := bytes.Contains(body, unicodeEscape)
	if len(hits) == 0 && !esc {
		return 0
	}
	n := 0
	pass := func(raw []byte) {
		if k := f.Classify(raw); k != DeviceNone {
			n++
			fn(raw, k)
		}
	}
	if spans, ok := recordSpans(body, hits); ok {
		for _, sp := range spans {
			pass(body[sp[0]:sp[1]])
		}
		return n
	}
	ScanBody(body, Prefilter{}, pass)
	return n
}

// hits returns, in increasing order, where body holds an "AuditLogs"
// string or a "deviceId" member holding a watched id.
func (f DeviceFilter) hits(body []byte) []int {
	var out []int
	for i := 0; ; {
		j := bytes.Index(body[i:], auditCategory)
		if j < 0 {
			break
		}
		if i+j > 0 && body[i+j-1] == '"' {
			out = append(out, i+j)
		}
		i += j + len(auditCategory)
	}
	audits := len(out)
	switch {
	case len(f.watched) == 0:
	default:
		var buf [36]byte
		for i := 0; ; {
			j := bytes.Index(body[i:], deviceIDKey)
			if j < 0 {
				break
			}
			at := i + j
			i = at + len(deviceIDKey)
			k := jsonbytes.Space(body, i)
			if at < len(devicePrefix) || !bytes.Equal(body[at-len(devicePrefix):at], devicePrefix) || k >= len(body) || body[k] != ':' {
				continue
			}
			k = jsonbytes.Space(body, k+1)
			if k+38 > len(body) || body[k] != '"' || body[k+37] != '"' {
				continue
			}
			for n := range 36 {
				c := body[k+1+n]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				buf[n] = c
			}
			if _, ok := f.watched[string(buf[:])]; ok {
				out = append(out, at)
			}
		}
	}
	if len(out) > audits {
		slices.Sort(out)
	}
	return out
}

// recordSpans delimits the records of a body of the common shape,
// {"records":[{...},...]}, and returns those that hold a hit or a \u
// escape. ok is false for any other shape.
func recordSpans(body []byte, hits []int) (spans [][2]int, ok bool) {
	if len(body) == 0 || body[0] != '{' {
		return nil, false
	}
	i := jsonbytes.Space(body, 1)
	if !bytes.HasPrefix(body[i:], recordsKey) {
		return nil, false
	}
	i = jsonbytes.Space(body, i+len(recordsKey))
	if i >= len(body) || body[i] != ':' {
		return nil, false
	}
	i = jsonbytes.Space(body, i+1)
	if i >= len(body) || body[i] != '[' {
		return nil, false
	}
	h := 0
	end, _, ok := scanArray(body, i, func(s, e int, escU bool) {
		for h < len(hits) && hits[h] < s {
			h++
		}
		if escU || h < len(hits) && hits[h] < e {
			spans = append(spans, [2]int{s, e})
		}
	})
	if !ok {
		return nil, false
	}
	i = jsonbytes.Space(body, end)
	if i >= len(body) || body[i] != '}' || jsonbytes.Space(body, i+1) != len(body) {
		return nil, false
	}
	return spans, true
}

// Watches reports whether the filter watches deviceID (a lower-case GUID).
func (f DeviceFilter) Watches(deviceID string) bool {
	_, ok := f.watched[deviceID]
	return ok
}

// ScanBodyWith is ScanBody and the filter's ScanBody in one pass over the
// body: the rule's ids, the "AuditLogs" strings and the watched deviceIds are
// found in the same word-at-a-time search (idTable.find with the guidTable),
// the records are delimited once, and only the records holding such bytes
// (or a \u escape) are classified. It calls dev, for the records the filter
// passes, before fn, for the rule's candidates; it returns ScanBody's counts
// and how many records dev was called with. Its results are those of the two
// scans (TestScanBodyWithEqualsTwoScans, FuzzScanBody).
func (f DeviceFilter) ScanBodyWith(body []byte, p Prefilter, fn func(raw []byte), dev func(raw []byte, k DeviceKind)) (records, rejected, devices int) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return 0, 0, 0
	}
	d := deviceScan{f: f, dev: dev}
	if n, rej, ok := scanFast(body, p, fn, &d); ok {
		return n, rej, d.passed
	}
	devices = f.ScanBody(body, dev)
	records, rejected = scanBody(body, p, fn)
	return records, rejected, devices
}

// deviceScan is the device filter's part of scanFast.
type deviceScan struct {
	f      DeviceFilter
	dev    func(raw []byte, k DeviceKind)
	audits spots // "AuditLogs" strings
	guids  spots // watched deviceIds, in any case
	spans  [][2]int
	passed int
}

// elem notes a record that may be the filter's.
func (d *deviceScan) elem(s, e int, escU bool) {
	if escU || d.audits.within(s, e) || d.guids.within(s, e) {
		d.spans = append(d.spans, [2]int{s, e})
	}
}

// classify calls dev for the noted records the filter passes.
func (d *deviceScan) classify(body []byte) {
	for _, sp := range d.spans {
		raw := body[sp[0]:sp[1]]
		if k := d.f.Classify(raw); k != DeviceNone {
			d.passed++
			d.dev(raw, k)
		}
	}
}

// findAudits notes where body holds an "AuditLogs" string. It searches the
// needle's 'L', the byte of it that is rarest in sign-in records (about 3 a
// kilobyte in generated traffic, against 7 for 'A'), and compares the bytes
// around each.
func (d *deviceScan) findAudits(body []byte) {
	d.audits.size = len(auditCategory)
	const at = len(`Audit`) // where the 'L' is in the needle
	for i := at; i < len(body); {
		j := bytes.IndexByte(body[i:], 'L')
		if j < 0 {
			return
		}
		st := i + j - at
		i += j + 1
		if st > 0 && st+len(auditCategory) <= len(body) && body[st-1] == '"' && bytes.Equal(body[st:st+len(auditCategory)], auditCategory) {
			d.audits.pos = append(d.audits.pos, st)
		}
	}
}

// spots lists where a string starts in a body, in increasing order.
type spots struct {
	pos  []int
	size int
	cur  int // first pos not before the last record asked about
}

// within reports whether an occurrence lies inside b[s:e]. Calls must come
// with non-decreasing s.
func (o *spots) within(s, e int) bool {
	for o.cur < len(o.pos) && o.pos[o.cur] < s {
		o.cur++
	}
	return o.cur < len(o.pos) && o.pos[o.cur]+o.size <= e
}

// guidTable finds the watched deviceIds in a body reading every other
// aligned eight-byte word: an occurrence of a 36-byte id covers a word at a
// multiple of 16 that is one of its first sixteen windows. The
// windows are kept in a bit set (a Bloom filter with one hash), case-folded:
// OR-ing 0x20 into every byte maps the upper-case hex digits to lower case
// and leaves the lower-case ones, digits and '-' alone. A set bit is
// confirmed by comparing the 36 bytes, lower-cased, with the watched ids.
type guidTable struct {
	mult    uint64
	shift   uint
	bits    []uint64
	watched map[string]struct{}
}

const (
	guidFold    = 0x2020202020202020
	guidWindows = 16 // windows kept per id; the words read are 16 apart
)

func newGUIDTable(watched map[string]struct{}) *guidTable {
	// About 16 bits per window keeps false hits below one word in 1,000.
	n := max(1<<14, 16*guidWindows*len(watched))
	lg := bits.Len(uint(n - 1))
	t := &guidTable{mult: 0x9e3779b97f4a7c15, shift: uint(64 - lg), bits: make([]uint64, (1<<lg)/64), watched: watched}
	for id := range watched {
		for k := range guidWindows {
			h := (binary.LittleEndian.Uint64([]byte(id[k:])) | guidFold) * t.mult >> t.shift
			t.bits[h>>6] |= 1 << (h & 63)
		}
	}
	return t
}

// may reports whether the word v may be a window of a watched id.
func (t *guidTable) may(v uint64) bool {
	h := (v | guidFold) * t.mult >> t.shift
	return t.bits[h>>6]&(1<<(h&63)) != 0
}

// check confirms the ids the word at b[q:] may belong to, in increasing
// order. An id counts only between quotes: a deviceId member's value is a
// JSON string, and Classify reads no other.
func (t *guidTable) check(b []byte, q int, out *spots) {
	var buf [36]byte
	for k := guidWindows - 1; k >= 0; k-- {
		st := q - k
		if st < 1 || st+37 > len(b) || b[st-1] != '"' || b[st+36] != '"' || len(out.pos) > 0 && out.pos[len(out.pos)-1] >= st {
			continue
		}
		for n := range 36 {
			c := b[st+n]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[n] = c
		}
		if _, ok := t.watched[string(buf[:])]; ok {
			out.pos = append(out.pos, st)
		}
	}
}

// find notes where b holds a watched id.
func (t *guidTable) find(b []byte, out *spots) {
	out.size = 36
	for p := 0; p+8 <= len(b); p += 16 {
		if t.may(binary.LittleEndian.Uint64(b[p:])) {
			t.check(b, p, out)
		}
	}
}
