package detect

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// The sliding-window rule: drswatch's own companion to the seed rule.
const (
	SlidingRuleID   = "6f1d2c4e-8b3a-4d5f-9e7c-2a1b3c4d5e6f"
	SlidingRuleName = "drswatch: OAuth Flow by Microsoft Authentication Broker to Device Registration Service across a window boundary (sliding window)"
)

// SlidingRule returns the sliding-window rule of a seed rule: the same
// filter and thresholds, applied to any span of the rule's window per UPN
// and session instead of the epoch-aligned buckets. It alerts only where
// the seed rule does not: for a span that crosses a bucket boundary when
// neither bucket it touches meets the seed's condition. Its alerts are at
// the seed's severity and risk score.
func (r Rule) SlidingRule() Rule {
	s := r
	s.ID, s.Name = SlidingRuleID, SlidingRuleName
	return s
}

// MaxSessionEvents bounds the records a Session keeps (the newest).
const MaxSessionEvents = 2048

// SessionKey identifies a sliding-rule session: UPN and session id.
type SessionKey struct {
	UPN       string
	SessionID string
}

// ID returns the session's stable identifier (hex of SHA-256, 128 bits),
// distinct from every group id (a leading tag is hashed in).
func (k SessionKey) ID() string {
	h := sha256.New()
	h.Write([]byte("session\x00"))
	h.Write([]byte(k.UPN))
	h.Write([]byte{0})
	h.Write([]byte(k.SessionID))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// SlideEvent is what the sliding rule keeps of a selected record.
type SlideEvent struct {
	T       int64  // @timestamp, Unix milliseconds
	ID      uint64 // hash of the record id
	Addr    uint64 // hash of the source address
	Browser bool
}

// Session is the sliding rule's state for one UPN and session: the selected
// records' times, addresses and browser flags, and the alert emitted.
type Session struct {
	Key    SessionKey
	Events []SlideEvent // sorted by (T, ID), the newest MaxSessionEvents
	// AlertWindow is the first bucket of the span the alert was raised for
	// (zero: no alert yet); the alert reports that bucket and the next.
	AlertWindow time.Time
	Revision    int
	Emitted     string
	Saturated   bool
	// SupersededBy is the AlertId of the seed alert that superseded the
	// session's sliding alert (Supersede); once set it stays.
	SupersededBy string
}

// Add adds a selected record. It returns false when the record was added
// before.
func (s *Session) Add(rec Record) bool {
	e := SlideEvent{T: rec.Timestamp.UnixMilli(), ID: hash64(rec.ID), Addr: hash64(rec.SourceAddress), Browser: IsBrowser(rec.Browser)}
	for _, o := range s.Events {
		if o.ID == e.ID {
			return false
		}
	}
	i, _ := slices.BinarySearchFunc(s.Events, e, cmpSlide)
	s.Events = slices.Insert(s.Events, i, e)
	if len(s.Events) > MaxSessionEvents {
		s.Events = slices.Delete(s.Events, 0, len(s.Events)-MaxSessionEvents)
		s.Saturated = true
	}
	return true
}

func cmpSlide(a, b SlideEvent) int {
	if a.T != b.T {
		if a.T < b.T {
			return -1
		}
		return 1
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

// Trim drops records stamped before t (they can no longer be joined by
// accepted records) and reports how many.
func (s *Session) Trim(t time.Time) int {
	ms := t.UnixMilli()
	i, _ := slices.BinarySearchFunc(s.Events, SlideEvent{T: ms}, cmpSlide)
	s.Events = slices.Delete(s.Events, 0, i)
	return i
}

// meets applies the rule's thresholds to a set of events.
func (r Rule) meets(evs []SlideEvent) bool {
	if len(evs) < r.MinEvents {
		return false
	}
	browser := false
	var addrs []uint64
	for _, e := range evs {
		browser = browser || e.Browser
		if !slices.Contains(addrs, e.Addr) {
			addrs = append(addrs, e.Addr)
		}
	}
	return browser && len(addrs) >= r.MinAddresses
}

// bucket returns the session's events in the bucket starting at w.
func (r Rule) bucket(s *Session, w time.Time) []SlideEvent {
	lo, _ := slices.BinarySearchFunc(s.Events, SlideEvent{T: w.UnixMilli()}, cmpSlide)
	hi, _ := slices.BinarySearchFunc(s.Events, SlideEvent{T: w.Add(r.Window).UnixMilli()}, cmpSlide)
	return s.Events[lo:hi]
}

// SlidingSpan returns the first bucket of the earliest span of the rule's
// window, starting at a record of the session, that meets the seed's
// thresholds, crosses a bucket boundary, and touches no bucket that meets
// them by itself (there the seed rule alerts). ok is false when there is
// none.
func (r Rule) SlidingSpan(s *Session) (first time.Time, ok bool) {
	w := r.Window.Milliseconds()
	for i := range s.Events {
		start := s.Events[i].T
		j := i
		for j < len(s.Events) && s.Events[j].T < start+w {
			j++
		}
		span := s.Events[i:j]
		b1 := r.WindowStart(time.UnixMilli(start))
		b2 := r.WindowStart(time.UnixMilli(span[len(span)-1].T))
		if b1.Equal(b2) || !r.meets(span) {
			continue
		}
		if r.meets(r.bucket(s, b1)) || r.meets(r.bucket(s, b2)) {
			continue
		}
		return b1, true
	}
	return time.Time{}, false
}

// SlidingID returns the AlertId of a sliding alert whose span starts in the
// bucket first.
func (k SessionKey) SlidingID(first time.Time) string {
	h := sha256.New()
	h.Write([]byte(SlidingRuleID))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(first.UnixMilli(), 10)))
	h.Write([]byte{0})
	h.Write([]byte(k.UPN))
	h.Write([]byte{0})
	h.Write([]byte(k.SessionID))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// UnionGroups returns a group holding the records of both groups (the seed
// groups of the two buckets a sliding span touches), keyed as a.
func UnionGroups(a, b *Group) *Group {
	u := &Group{Key: a.Key, BrowserMax: max(a.BrowserMax, b.BrowserMax), Saturated: a.Saturated || b.Saturated,
		Cut: a.Cut | b.Cut, GeoSources: a.GeoSources | b.GeoSources}
	for c := range numColumns {
		// What either left out stays out: the smaller bound holds for both.
		u.Over[c] = a.Over[c]
		if o := b.Over[c]; o != "" && (u.Over[c] == "" || o < u.Over[c]) {
			u.Over[c] = o
		}
	}
	for _, g := range []*Group{a, b} {
		for _, h := range g.Events {
			if _, full := insertSorted(&u.Events, h, MaxEvents); full {
				u.Saturated = true
			}
		}
		for _, h := range g.Addresses {
			if _, full := insertSorted(&u.Addresses, h, MaxAddresses); full {
				u.Saturated = true
			}
		}
		if !g.FirstSeen.IsZero() && (u.FirstSeen.IsZero() || g.FirstSeen.Before(u.FirstSeen)) {
			u.FirstSeen = g.FirstSeen
		}
		if g.LastSeen.After(u.LastSeen) {
			u.LastSeen = g.LastSeen
		}
		for c, vs := range g.Values {
			for _, v := range vs {
				u.addValue(Column(c), v)
			}
		}
	}
	return u
}

// EvaluateSliding decides whether a session's sliding alert needs a new
// revision, with the chain columns of view (nil: none). union holds the seed groups of the session's AlertWindow and the
// bucket after it (UnionGroups). The alert's window is those two buckets;
// its id is the session's SlidingID. Like Evaluate, it returns ok == false
// when nothing an analyst sees changed.
func (r Rule) EvaluateSliding(s *Session, union *Group, now time.Time, view *ChainView) (Alert, bool) {
	if s.AlertWindow.IsZero() {
		return Alert{}, false
	}
	sr := r.SlidingRule()
	a := sr.alert(union)
	if view != nil {
		a.ApplyChain(*view)
	}
	a.AlertID = s.Key.SlidingID(s.AlertWindow)
	a.WindowStart = Time{s.AlertWindow}
	a.WindowEnd = Time{s.AlertWindow.Add(2 * r.Window)}
	a.UserPrincipalName = clean(s.Key.UPN, MaxKeyBytes)
	a.SessionID = clean(s.Key.SessionID, MaxKeyBytes)
	a.SupersededBy = s.SupersededBy
	if !a.revise(&s.Revision, &s.Emitted, now) {
		return Alert{}, false
	}
	return a, true
}

// Supersede marks the session's sliding alert superseded by the seed alert
// of the first of the two buckets it reports (a and b, the seed groups of
// AlertWindow and the bucket after it) whose group alerts: records that
// arrived late completed a bucket into the seed's condition. The next
// EvaluateSliding then gives a revision with SupersededBy set. It reports
// whether it marked the session now; once marked, the mark stays, even
// after the seed group expires.
func (r Rule) Supersede(s *Session, a, b *Group) bool {
	if s.AlertWindow.IsZero() || s.SupersededBy != "" {
		return false
	}
	for _, g := range []*Group{a, b} {
		if g != nil && r.Alerting(g) {
			s.SupersededBy = g.Key.ID()
			return true
		}
	}
	return false
}

// ArmSliding fixes the session's AlertWindow from SlidingSpan when no
// sliding alert was raised yet, and reports whether the session has one to
// evaluate. Once fixed the window does not move, so the alert keeps its id.
func (r Rule) ArmSliding(s *Session) bool {
	if s.AlertWindow.IsZero() {
		if first, ok := r.SlidingSpan(s); ok {
			s.AlertWindow = first
		}
	}
	return !s.AlertWindow.IsZero()
}

type sessionState struct {
	V         int    `json:"v"`
	UPN       string `json:"u"`
	SessionID string `json:"s"`
	Events    []byte `json:"e,omitempty"` // 25 bytes each: T, ID, Addr, browser
	Window    int64  `json:"w,omitempty"`
	Revision  int    `json:"r,omitempty"`
	Emitted   string `json:"p,omitempty"`
	Saturated bool   `json:"o,omitempty"`
	// Superseded: the seed AlertId (absent in state written before it).
	Superseded string `json:"x,omitempty"`
}

// MarshalBinary encodes the session.
func (s *Session) MarshalBinary() ([]byte, error) {
	st := sessionState{V: 1, UPN: s.Key.UPN, SessionID: s.Key.SessionID, Revision: s.Revision, Emitted: s.Emitted, Saturated: s.Saturated, Superseded: s.SupersededBy}
	if !s.AlertWindow.IsZero() {
		st.Window = s.AlertWindow.UnixMilli()
	}
	st.Events = make([]byte, 25*len(s.Events))
	for i, e := range s.Events {
		b := st.Events[25*i:]
		binary.BigEndian.PutUint64(b, uint64(e.T))
		binary.BigEndian.PutUint64(b[8:], e.ID)
		binary.BigEndian.PutUint64(b[16:], e.Addr)
		if e.Browser {
			b[24] = 1
		}
	}
	return encodeState(st)
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (s *Session) UnmarshalBinary(b []byte) error {
	var st sessionState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("decode session: %w", err)
	}
	if st.V != 1 || len(st.Events)%25 != 0 {
		return fmt.Errorf("decode session: version %d, %d event bytes", st.V, len(st.Events))
	}
	*s = Session{Key: SessionKey{UPN: st.UPN, SessionID: st.SessionID}, Revision: st.Revision, Emitted: st.Emitted, Saturated: st.Saturated, SupersededBy: st.Superseded}
	if st.Window != 0 {
		s.AlertWindow = time.UnixMilli(st.Window).UTC()
	}
	for i := 0; i < len(st.Events); i += 25 {
		e := st.Events[i:]
		s.Events = append(s.Events, SlideEvent{T: int64(binary.BigEndian.Uint64(e)), ID: binary.BigEndian.Uint64(e[8:]),
			Addr: binary.BigEndian.Uint64(e[16:]), Browser: e[24] == 1})
	}
	if !slices.IsSortedFunc(s.Events, cmpSlide) {
		return fmt.Errorf("decode session: events not sorted")
	}
	return nil
}
