package detect

import (
	"time"
)

// eventTime parses a record's time tn with ParseTime, or the member key of
// alt when tn is null; ok is false when that is not a string or does not
// parse.
func eventTime(tn, alt node, key string) (time.Time, bool) {
	if tn.kind == kindNull {
		tn = alt.get(key)
	}
	if tn.kind != kindString {
		return time.Time{}, false
	}
	return ParseTime(tn.str)
}

// ParseTime parses a sign-in record's time the way the pipeline's date
// processor does, trying in order: ISO 8601; "M/d/yyyy h:mm:ss a XXX";
// "M/d/yyyy h:mm:ss a"; "M/d/yyyy H:mm:ss"; "yyyy-MM-dd'T'H:mm:ss.SSS'Z'".
// Values without an offset are UTC. The result is truncated (not rounded) to
// milliseconds, as @timestamp is stored.
func ParseTime(s string) (time.Time, bool) {
	t, ok := parseISO8601(s)
	if !ok {
		t, ok = parseUS(s)
	}
	if !ok {
		return time.Time{}, false
	}
	return t.UTC().Truncate(time.Millisecond), true
}

// scanner is a tiny cursor over a time string.
type scanner struct {
	s string
	i int
}

func (c *scanner) done() bool { return c.i >= len(c.s) }

func (c *scanner) peek() byte {
	if c.done() {
		return 0
	}
	return c.s[c.i]
}

func (c *scanner) lit(b byte) bool {
	if c.peek() == b && !c.done() {
		c.i++
		return true
	}
	return false
}

// digits reads between min and max decimal digits.
func (c *scanner) digits(min, max int) (int, int, bool) {
	n, k := 0, 0
	for k < max && !c.done() && c.s[c.i] >= '0' && c.s[c.i] <= '9' {
		n = n*10 + int(c.s[c.i]-'0')
		c.i++
		k++
	}
	return n, k, k >= min
}

// offset reads Z, ±HH, ±HHmm or ±HH:mm and returns seconds east of UTC.
func (c *scanner) offset() (int, bool) {
	if c.lit('Z') {
		return 0, true
	}
	sign := 1
	switch {
	case c.lit('+'):
	case c.lit('-'):
		sign = -1
	default:
		return 0, false
	}
	h, _, ok := c.digits(2, 2)
	if !ok || h > 18 {
		return 0, false
	}
	m := 0
	if c.lit(':') {
		if m, _, ok = c.digits(2, 2); !ok {
			return 0, false
		}
	} else if !c.done() {
		if m, _, ok = c.digits(2, 2); !ok {
			return 0, false
		}
	}
	if m > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

func build(y, mo, d, h, mi, sec, nsec, off int) (time.Time, bool) {
	if mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, nsec, time.FixedZone("", off))
	if t.Day() != d { // 31 February and the like
		return time.Time{}, false
	}
	return t, true
}

// date reads yyyy-MM-dd.
func (c *scanner) date() (y, mo, d int, ok bool) { return c.triple(4, 4, '-') }

// clock reads H:mm:ss with a one- or two-digit hour.
func (c *scanner) clock() (h, mi, sec int, ok bool) { return c.triple(1, 2, ':') }

// triple reads three numbers joined by sep: the first of min to max
// digits, the other two of two digits each.
func (c *scanner) triple(min, max int, sep byte) (a, b, d int, ok bool) {
	if a, _, ok = c.digits(min, max); !ok || !c.lit(sep) {
		return 0, 0, 0, false
	}
	if b, _, ok = c.digits(2, 2); !ok || !c.lit(sep) {
		return 0, 0, 0, false
	}
	d, _, ok = c.digits(2, 2)
	return a, b, d, ok
}

// parseISO8601 accepts yyyy-MM-dd, optionally followed by T and HH, HH:mm,
// HH:mm:ss with an optional fraction of 1 to 9 digits (dot or comma), and an
// optional offset.
func parseISO8601(s string) (time.Time, bool) {
	c := &scanner{s: s}
	y, mo, d, ok := c.date()
	if !ok {
		return time.Time{}, false
	}
	h, mi, sec, nsec, off := 0, 0, 0, 0, 0
	if c.lit('T') {
		if h, _, ok = c.digits(2, 2); !ok {
			return time.Time{}, false
		}
		if c.lit(':') {
			if mi, _, ok = c.digits(2, 2); !ok {
				return time.Time{}, false
			}
			if c.lit(':') {
				if sec, _, ok = c.digits(2, 2); !ok {
					return time.Time{}, false
				}
				if c.lit('.') || c.lit(',') {
					f, k, ok := c.digits(1, 9)
					if !ok {
						return time.Time{}, false
					}
					for ; k < 9; k++ {
						f *= 10
					}
					nsec = f
				}
			}
		}
		if !c.done() {
			if off, ok = c.offset(); !ok {
				return time.Time{}, false
			}
		}
	}
	if !c.done() {
		return time.Time{}, false
	}
	return build(y, mo, d, h, mi, sec, nsec, off)
}

// parseUS accepts the three "M/d/yyyy" forms and the single-digit-hour ISO
// form yyyy-MM-dd'T'H:mm:ss.SSS'Z'.
func parseUS(s string) (time.Time, bool) {
	if t, ok := parseLooseISO(s); ok {
		return t, true
	}
	c := &scanner{s: s}
	mo, _, ok := c.digits(1, 2)
	if !ok || !c.lit('/') {
		return time.Time{}, false
	}
	d, _, ok := c.digits(1, 2)
	if !ok || !c.lit('/') {
		return time.Time{}, false
	}
	y, _, ok := c.digits(4, 4)
	if !ok || !c.lit(' ') {
		return time.Time{}, false
	}
	h, mi, sec, ok := c.clock()
	if !ok {
		return time.Time{}, false
	}
	if c.done() { // M/d/yyyy H:mm:ss
		return build(y, mo, d, h, mi, sec, 0, 0)
	}
	if !c.lit(' ') || c.i+2 > len(s) {
		return time.Time{}, false
	}
	switch s[c.i : c.i+2] {
	case "AM", "am":
		if h < 1 || h > 12 {
			return time.Time{}, false
		}
		if h == 12 {
			h = 0
		}
	case "PM", "pm":
		if h < 1 || h > 12 {
			return time.Time{}, false
		}
		if h != 12 {
			h += 12
		}
	default:
		return time.Time{}, false
	}
	c.i += 2
	off := 0
	if !c.done() {
		if !c.lit(' ') {
			return time.Time{}, false
		}
		if off, ok = c.offset(); !ok || !c.done() {
			return time.Time{}, false
		}
	}
	return build(y, mo, d, h, mi, sec, 0, off)
}

func parseLooseISO(s string) (time.Time, bool) {
	c := &scanner{s: s}
	y, mo, d, ok := c.date()
	if !ok || !c.lit('T') {
		return time.Time{}, false
	}
	h, mi, sec, ok := c.clock()
	if !ok || !c.lit('.') {
		return time.Time{}, false
	}
	ms, _, ok := c.digits(3, 3)
	if !ok || !c.lit('Z') || !c.done() {
		return time.Time{}, false
	}
	return build(y, mo, d, h, mi, sec, ms*1e6, 0)
}
