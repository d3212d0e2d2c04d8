package detect

import (
	"bytes"
	"encoding/binary"

	"github.com/drswatch/drswatch/internal/jsonbytes"
)

// scanFast is ScanBody for the shape Azure Monitor sends: one object whose
// only member is "records", an array of objects. It reports ok == false,
// without calling fn, for any other shape; the caller then takes scanBody.
//
// Two passes over the body, neither of which decodes anything: idTable.find
// lists where the app id and the resource id occur, and scanArray delimits
// the records. A record is a candidate when both ids occur inside it, or it
// holds a \u escape (which could spell them).
//
// With d (ScanBodyWith), the same passes find and delimit the device
// filter's records too: the "AuditLogs" strings are searched, the watched
// deviceIds found in idTable.find's words, and d notes each record holding
// either (or a \u escape); d classifies them before fn is called.
func scanFast(body []byte, p Prefilter, fn func(raw []byte), d *deviceScan) (records, rejected int, ok bool) {
	// {"records": [
	i := jsonbytes.Space(body, 1)
	if body[0] != '{' || !bytes.HasPrefix(body[i:], recordsKey) {
		return 0, 0, false
	}
	i = jsonbytes.Space(body, i+len(recordsKey))
	if i >= len(body) || body[i] != ':' {
		return 0, 0, false
	}
	i = jsonbytes.Space(body, i+1)
	if i >= len(body) || body[i] != '[' {
		return 0, 0, false
	}

	var app, res occurrences
	all := p.ids == nil // no usable table: every record is a candidate
	var (
		g  *guidTable
		gs *spots
	)
	if d != nil {
		d.findAudits(body)
		g, gs = d.f.guids, &d.guids
	}
	switch {
	case !all:
		p.ids.find(body, &app, &res, g, gs)
	case g != nil:
		g.find(body, gs)
	}
	var cand [8][2]int // spans of candidate records; more spill to extra
	var extra [][2]int
	nc := 0
	elem := func(s, e int, escU bool) {
		if d != nil {
			d.elem(s, e, escU)
		}
		if all || escU || (res.within(s, e) && app.within(s, e)) {
			if nc < len(cand) {
				cand[nc] = [2]int{s, e}
			} else {
				extra = append(extra, [2]int{s, e})
			}
			nc++
		}
	}
	end, n, ok := scanArray(body, i, elem)
	if !ok {
		return 0, 0, false
	}
	// }
	i = jsonbytes.Space(body, end)
	if i >= len(body) || body[i] != '}' || jsonbytes.Space(body, i+1) != len(body) {
		return 0, 0, false
	}
	if d != nil {
		d.classify(body)
	}
	if nc == 0 {
		return n, n, true
	}
	for k := range nc {
		sp := [2]int{}
		if k < len(cand) {
			sp = cand[k]
		} else {
			sp = extra[k-len(cand)]
		}
		fn(body[sp[0]:sp[1]])
	}
	return n, n - nc, true
}

var recordsKey = []byte(`"records"`)

// occurrences lists where one id starts in a body, in increasing order. Past
// len(pos) occurrences it keeps only the first position not listed (from),
// and every record from there on counts as holding the id.
type occurrences struct {
	pos  [32]int
	n    int
	from int // no occurrence is missing before from; 0 means none missing
	size int // the id's length
	cur  int // first pos not before the last record asked about
}

func (o *occurrences) add(p int) {
	if o.n > 0 && o.pos[o.n-1] == p || o.from > 0 {
		return
	}
	if o.n == len(o.pos) {
		o.from = p
		return
	}
	o.pos[o.n] = p
	o.n++
}

// within reports whether an occurrence lies inside b[s:e]. Calls must come
// with non-decreasing s.
func (o *occurrences) within(s, e int) bool {
	for o.cur < o.n && o.pos[o.cur] < s {
		o.cur++
	}
	if o.cur < o.n && o.pos[o.cur]+o.size <= e {
		return true
	}
	return o.from > 0 && o.from < e
}

// idTable finds the app id and the resource id in a body reading it one
// aligned eight-byte word at a time: every occurrence of an id of 15 bytes
// or more covers a whole aligned word, which is one of the id's first eight
// 8-byte windows. The table holds those windows (16 words), hashed
// perfectly into 256 slots; a hit is confirmed by comparing the id.
type idTable struct {
	mult  uint64
	slots [256]uint64
	id    [256]uint8 // 1 app, 2 resource, 0 empty
	off   [256]uint8 // offset of the window in the id
	ids   [3][]byte
}

// newIDTable returns the table, or nil when an id is shorter than 15 bytes or
// no multiplier hashes the windows without collision.
func newIDTable(app, resource []byte) *idTable {
	if len(app) < 15 || len(resource) < 15 {
		return nil
	}
	t := &idTable{ids: [3][]byte{nil, app, resource}}
	x := uint64(0x9e3779b97f4a7c15)
	for try := 0; try < 1000; try++ {
		// splitmix64 for candidate multipliers.
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		t.mult = (z ^ (z >> 31)) | 1
		if t.fill() {
			return t
		}
	}
	return nil
}

func (t *idTable) fill() bool {
	t.slots, t.id, t.off = [256]uint64{}, [256]uint8{}, [256]uint8{}
	for id := 1; id <= 2; id++ {
		for k := 0; k < 8; k++ {
			v := binary.LittleEndian.Uint64(t.ids[id][k:])
			h := (v * t.mult) >> 56
			if t.id[h] != 0 {
				return false
			}
			t.slots[h], t.id[h], t.off[h] = v, uint8(id), uint8(k)
		}
	}
	return true
}

// find records the occurrences of both ids in b, and with g those of the
// watched deviceIds in gs, reading each word once.
func (t *idTable) find(b []byte, app, res *occurrences, g *guidTable, gs *spots) {
	app.size, res.size = len(t.ids[1]), len(t.ids[2])
	mult, slots := t.mult, &t.slots
	p := 0
	if g != nil {
		gs.size = 36
		for ; p+32 <= len(b); p += 32 {
			w := b[p : p+32 : p+32]
			v0 := binary.LittleEndian.Uint64(w[0:])
			v1 := binary.LittleEndian.Uint64(w[8:])
			v2 := binary.LittleEndian.Uint64(w[16:])
			v3 := binary.LittleEndian.Uint64(w[24:])
			if slots[(v0*mult)>>56] == v0 || slots[(v1*mult)>>56] == v1 ||
				slots[(v2*mult)>>56] == v2 || slots[(v3*mult)>>56] == v3 {
				for q := p; q < p+32; q += 8 {
					t.check(b, q, app, res)
				}
			}
			// The device table reads the words at multiples of 16.
			if g.may(v0) {
				g.check(b, p, gs)
			}
			if g.may(v2) {
				g.check(b, p+16, gs)
			}
		}
		for ; p+8 <= len(b); p += 8 {
			t.check(b, p, app, res)
			if p%16 == 0 && g.may(binary.LittleEndian.Uint64(b[p:])) {
				g.check(b, p, gs)
			}
		}
		return
	}
	for ; p+32 <= len(b); p += 32 {
		w := b[p : p+32 : p+32]
		v0 := binary.LittleEndian.Uint64(w[0:])
		v1 := binary.LittleEndian.Uint64(w[8:])
		v2 := binary.LittleEndian.Uint64(w[16:])
		v3 := binary.LittleEndian.Uint64(w[24:])
		if slots[(v0*mult)>>56] == v0 || slots[(v1*mult)>>56] == v1 ||
			slots[(v2*mult)>>56] == v2 || slots[(v3*mult)>>56] == v3 {
			for q := p; q < p+32; q += 8 {
				t.check(b, q, app, res)
			}
		}
	}
	for ; p+8 <= len(b); p += 8 {
		t.check(b, p, app, res)
	}
}

// check confirms a hit of the word at b[p:].
func (t *idTable) check(b []byte, p int, app, res *occurrences) {
	v := binary.LittleEndian.Uint64(b[p:])
	h := (v * t.mult) >> 56
	if t.slots[h] != v || t.id[h] == 0 {
		return
	}
	id := t.ids[t.id[h]]
	st := p - int(t.off[h])
	if st >= 0 && st+len(id) <= len(b) && bytes.Equal(b[st:st+len(id)], id) {
		if t.id[h] == 1 {
			app.add(st)
		} else {
			res.add(st)
		}
	}
}

// scanArray delimits the elements of the JSON array that starts at b[i] ==
// '[': it returns the index after its closing bracket and the number of
// elements, and calls elem with each element's span and whether it holds a
// \u escape. It handles arrays of objects, with strings that may hold
// escapes; it reports ok == false for anything else (an element that is not
// an object, a backslash outside a string, no end), leaving the body to
// scanBody. Like jsonbytes.ValueEnd it checks structure, not the full grammar; on
// valid JSON its count is exact.
//
// It jumps from brace to brace: '{', '}' and '\\' are found with
// bytes.IndexByte (vectorised), and whether a brace is inside a string is
// the parity of the quotes before it, counted with bytes.Count between
// consecutive braces. Square brackets inside records need no attention:
// braces alone nest properly in valid JSON. Only a stretch holding a
// backslash (rare in sign-in records) is read byte by byte, to drop escaped
// quotes.
func scanArray(b []byte, i int, elem func(s, e int, escU bool)) (end, n int, ok bool) {
	j := jsonbytes.Space(b, i+1)
	if j < len(b) && b[j] == ']' {
		return j + 1, 0, true
	}
	if j >= len(b) || b[j] != '{' {
		return 0, 0, false
	}
	next := [3]int{indexFrom(b, j, '{'), indexFrom(b, j, '}'), indexFrom(b, j, '\\')}
	var (
		inStr, escNext, escU bool
		depth, start         int
		prev                 = j // quotes before prev are counted
	)
	for {
		k := 0
		if next[1] < next[0] {
			k = 1
		}
		pos := next[k]
		if pos >= len(b) {
			return 0, 0, false
		}
		// The string state at pos.
		if next[2] < pos {
			var u, bad bool
			inStr, escNext, u, bad = escapedString(b[prev:pos], inStr, escNext)
			if bad {
				return 0, 0, false
			}
			escU = escU || u
			next[2] = indexFrom(b, pos, '\\')
		} else if bytes.Count(b[prev:pos], quote)&1 == 1 {
			inStr = !inStr
		}
		next[k] = indexFrom(b, pos+1, braces[k])
		prev = pos + 1
		if inStr {
			escNext = false // a brace right after a backslash is the escaped character
			continue
		}
		// Outside strings escNext is false: backslashes only occur inside.
		if k == 0 {
			if depth == 0 {
				start, escU = pos, false
			}
			depth++
			continue
		}
		depth--
		if depth > 0 {
			continue
		}
		if depth < 0 {
			return 0, 0, false
		}
		n++
		elem(start, pos+1, escU)
		// Next: another object after a comma, or the end of the array.
		j := jsonbytes.Space(b, pos+1)
		switch {
		case j < len(b) && b[j] == ']':
			return j + 1, n, true
		case j < len(b) && b[j] == ',':
			j = jsonbytes.Space(b, j+1)
			if j >= len(b) || b[j] != '{' || next[0] != j {
				return 0, 0, false
			}
		default:
			return 0, 0, false
		}
	}
}

var (
	braces = [2]byte{'{', '}'}
	quote  = []byte{'"'}
)

// indexFrom returns the index of the first c in b at or after i, or len(b).
func indexFrom(b []byte, i int, c byte) int {
	if i >= len(b) {
		return len(b)
	}
	if j := bytes.IndexByte(b[i:], c); j >= 0 {
		return i + j
	}
	return len(b)
}

// escapedString returns the string state at the end of seg from the state
// at its start, and whether seg holds a \u escape. It jumps from backslash
// to backslash, counting the quotes in between. bad reports a backslash
// outside a string, which scanArray leaves to scanBody.
func escapedString(seg []byte, inStr, escNext bool) (in, esc, u, bad bool) {
	if escNext {
		if len(seg) == 0 {
			return inStr, true, false, false
		}
		u = seg[0] == 'u'
		seg = seg[1:]
	}
	for {
		k := bytes.IndexByte(seg, '\\')
		if k < 0 {
			return inStr != (bytes.Count(seg, quote)&1 == 1), false, u, false
		}
		if bytes.Count(seg[:k], quote)&1 == 1 {
			inStr = !inStr
		}
		if !inStr {
			return false, false, false, true
		}
		if k+1 == len(seg) {
			return inStr, true, u, false
		}
		u = u || seg[k+1] == 'u'
		seg = seg[k+2:]
	}
}
