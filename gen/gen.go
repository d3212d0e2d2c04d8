// Package gen generates realistic, deterministic Entra ID diagnostic-settings
// traffic as it arrives on Event Hubs: one body {"records":[...]} per event,
// each record a raw camelCase sign-in (or audit) record. Among ordinary
// traffic it plants phishing sessions of the Microsoft Authentication Broker
// to the Device Registration Service, which the drswatch rule must alert on,
// and benign look-alikes, which it must not. Stats.ExpectedAlerts lists the
// groups the rule must find; it is computed here, independently of package
// detect, so that tests can compare two implementations.
//
// The same Config (including Seed) always produces the same bytes. Output is
// streamed body by body: memory stays flat whatever the output size (only the
// planned MAB -> DRS scenarios, a share MatchShare of the records, are held).
package gen

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultBodies         = 1000
	DefaultRecordsPerBody = 50
	DefaultSpan           = 24 * time.Hour
	DefaultMatchShare     = 0.001
	DefaultAttacks        = 10
	DefaultUsers          = 1000
	DefaultRedeliver      = 0.01
)

// DefaultStart is the Start used when Config.Start is zero (fixed, so that
// output does not depend on the clock).
var DefaultStart = time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)

// Window is the rule's tumbling window; ExpectedAlerts floors to it.
const Window = 30 * time.Minute

// Config describes the traffic. Zero fields take the defaults above; for
// MatchShare, Attacks and Redeliver a negative value means none.
type Config struct {
	// Seed drives every random choice; same Config, same bytes.
	Seed int64
	// Bodies is the number of Event Hub events generated (before
	// redelivered copies). Default 1000.
	Bodies int
	// RecordsPerBody is the mean number of records per body; each body has
	// between half and one and a half times this many. Default 50.
	RecordsPerBody int
	// Start is the time of the first record (default DefaultStart) and Span
	// the time the bodies cover (default 24h).
	Start time.Time
	Span  time.Duration
	// MatchShare is the share of records that are MAB -> DRS sign-ins (attack
	// legs plus benign look-alikes). Default 0.001.
	MatchShare float64
	// Attacks is the number of phishing sessions. Default 10.
	Attacks int
	// Users is the size of the tenant's user population. Default 1000.
	Users int
	// Redeliver is the share of bodies emitted twice (at-least-once
	// delivery), the copy a few bodies later. Default 0.01.
	Redeliver float64
	// Shuffle emits bodies out of time order (a bounded local shuffle).
	Shuffle bool
	// PRTShare, when set, is the share of user sign-ins that carry a
	// primary refresh token (incomingTokenType primaryRefreshToken from the
	// user's own device; PRT sign-ins are a large share of a tenant's
	// non-interactive traffic). Zero keeps the default mix (a third of the
	// non-interactive sign-ins, whatever the device), byte for byte.
	PRTShare float64
	// DeviceOpShare is the share of all records that are audit records of
	// device operations (Register device, Add registered owner to device,
	// Update device); at most the audit category's 8%. Default 0.005
	// (DefaultDeviceOpShare; the estimate is in BENCHMARKS.md); negative:
	// none.
	DeviceOpShare float64
	// RegistrationShare is the share of those that belong to a
	// registration (Register device by the Device Registration Service, Add
	// registered owner to device); the rest are Update device by Core
	// Directory. Default 0.04 (DefaultRegistrationShare); negative: none.
	RegistrationShare float64
}

// The default device-operation mix (see DeviceOpShare, RegistrationShare).
const (
	DefaultDeviceOpShare     = 0.005
	DefaultRegistrationShare = 0.04
)

// Validate reports a field out of range.
func (c Config) Validate() error {
	var errs []error
	if c.Bodies < 0 {
		errs = append(errs, fmt.Errorf("bodies %d: must not be negative", c.Bodies))
	}
	if c.RecordsPerBody < 0 || c.RecordsPerBody > 10000 {
		errs = append(errs, fmt.Errorf("records per body %d: must be 0 to 10000", c.RecordsPerBody))
	}
	if c.Span < 0 {
		errs = append(errs, fmt.Errorf("span %s: must not be negative", c.Span))
	}
	if c.PRTShare < 0 || c.PRTShare > 1 || math.IsNaN(c.PRTShare) {
		errs = append(errs, fmt.Errorf("PRT share %g: must be between 0 and 1", c.PRTShare))
	}
	if c.DeviceOpShare > auditShare || math.IsNaN(c.DeviceOpShare) {
		errs = append(errs, fmt.Errorf("device operation share %g: must be at most %g (the audit records' share)", c.DeviceOpShare, auditShare))
	}
	if c.RegistrationShare > 1 || math.IsNaN(c.RegistrationShare) {
		errs = append(errs, fmt.Errorf("registration share %g: must be at most 1", c.RegistrationShare))
	}
	if c.MatchShare > 1 || math.IsNaN(c.MatchShare) {
		errs = append(errs, fmt.Errorf("match share %g: must be at most 1", c.MatchShare))
	}
	if c.Redeliver > 1 || math.IsNaN(c.Redeliver) {
		errs = append(errs, fmt.Errorf("redeliver %g: must be at most 1", c.Redeliver))
	}
	if c.Users < 0 {
		errs = append(errs, fmt.Errorf("users %d: must not be negative", c.Users))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields and clamps the rest.
func (c Config) withDefaults() Config {
	if c.Bodies <= 0 {
		c.Bodies = DefaultBodies
	}
	if c.RecordsPerBody <= 0 {
		c.RecordsPerBody = DefaultRecordsPerBody
	}
	c.RecordsPerBody = min(c.RecordsPerBody, 10000)
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC()
	if c.Span <= 0 {
		c.Span = DefaultSpan
	}
	c.MatchShare = share(c.MatchShare, DefaultMatchShare)
	switch {
	case c.Attacks == 0:
		c.Attacks = DefaultAttacks
	case c.Attacks < 0:
		c.Attacks = 0
	}
	if c.Users <= 0 {
		c.Users = DefaultUsers
	}
	c.Redeliver = share(c.Redeliver, DefaultRedeliver)
	c.DeviceOpShare = min(share(c.DeviceOpShare, DefaultDeviceOpShare), auditShare)
	c.RegistrationShare = share(c.RegistrationShare, DefaultRegistrationShare)
	return c
}

// share is a configured share: def when unset (0 or NaN), none when
// negative, at most 1.
func share(v, def float64) float64 {
	switch {
	case v == 0 || math.IsNaN(v):
		return def
	case v < 0:
		return 0
	}
	return min(v, 1)
}

// Expected is one group (window, UPN, session) the rule must alert on.
type Expected struct {
	WindowStart time.Time `json:"window_start"`
	UPN         string    `json:"upn"`
	SessionID   string    `json:"session_id"`
	Attack      int       `json:"attack"`    // index of the attack session
	Events      int       `json:"events"`    // distinct records in the group
	Addresses   int       `json:"addresses"` // distinct source addresses
	Straddles   bool      `json:"straddles"` // the session crosses a window edge
}

// Stats describes what was emitted so far. Records, Bytes and Matching count
// redelivered copies too.
type Stats struct {
	Bodies      int   // bodies emitted, redelivered copies included
	Redelivered int   // of which copies
	Records     int   // records emitted
	Bytes       int64 // bytes emitted, newlines included
	Matching    int   // MAB -> DRS records emitted
	Attacks     int   // phishing sessions planted
	// Scenarios counts the planted MAB -> DRS scenarios by kind ("attack",
	// "benign-one-ip", ...).
	Scenarios map[string]int
	// ExpectedAlerts lists the groups the rule must alert on, sorted by
	// window start, UPN and session id.
	ExpectedAlerts []Expected
}

// Generator produces the traffic of one Config. It is not safe for
// concurrent use.
type Generator struct {
	cfg   Config
	users []user
	// withDevice counts the users with a device of their own.
	withDevice int
	legs       []leg // planned MAB -> DRS records, by body then time
	next       int   // first leg not yet emitted

	rng      *rand.Rand // records
	delivery *rand.Rand // redelivery and shuffle
	produced int        // bodies produced (originals)
	step     int64      // ns of time per body
	stats    Stats

	redo []pending // redelivered copies waiting for their turn
	pool []body    // shuffle buffer
	rec  signin    // scratch record
	tail []byte    // scratch for rendering
}

type body struct {
	b                 []byte
	records, matching int
	copy              bool
}

type pending struct {
	due int // emit once this many originals have been produced
	b   body
}

// shuffleDepth bounds how far out of order a shuffled body can be.
const shuffleDepth = 16

// New returns a Generator for cfg, with defaults applied (see Config). Out
// of range values are clamped; call Config.Validate first to reject them.
func New(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	g := &Generator{
		cfg:      cfg,
		rng:      rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15)),
		delivery: rand.New(rand.NewPCG(uint64(cfg.Seed), 0xbf58476d1ce4e5b9)),
		step:     max(int64(cfg.Span)/int64(cfg.Bodies), 1),
	}
	plan := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x94d049bb133111eb))
	g.users = makeUsers(plan, cfg.Users)
	for _, u := range g.users {
		if u.deviceID != "" {
			g.withDevice++
		}
	}
	g.plan(plan)
	return g
}

// Config returns the configuration in use, defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Stats returns the figures so far; ExpectedAlerts is complete from the
// start.
func (g *Generator) Stats() Stats {
	s := g.stats
	s.Scenarios = maps(g.stats.Scenarios)
	s.ExpectedAlerts = slices.Clone(g.stats.ExpectedAlerts)
	return s
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Next returns the next body, {"records":[...]} without a newline, and true;
// or nil and false when all bodies have been emitted. The caller owns the
// slice.
func (g *Generator) Next() ([]byte, bool) {
	for {
		if g.cfg.Shuffle && len(g.pool) > 0 && (len(g.pool) >= shuffleDepth || g.done()) {
			j := g.delivery.IntN(len(g.pool))
			b := g.pool[j]
			g.pool[j] = g.pool[len(g.pool)-1]
			g.pool = g.pool[:len(g.pool)-1]
			return g.emit(b), true
		}
		b, ok := g.nextInOrder()
		if !ok {
			if len(g.pool) > 0 {
				continue
			}
			return nil, false
		}
		if !g.cfg.Shuffle {
			return g.emit(b), true
		}
		g.pool = append(g.pool, b)
	}
}

func (g *Generator) done() bool {
	return g.produced >= g.cfg.Bodies && len(g.redo) == 0
}

func (g *Generator) emit(b body) []byte {
	g.stats.Bodies++
	if b.copy {
		g.stats.Redelivered++
	}
	g.stats.Records += b.records
	g.stats.Matching += b.matching
	g.stats.Bytes += int64(len(b.b)) + 1
	return b.b
}

// nextInOrder returns the next body before shuffling: a redelivered copy
// that is due, else a new body, else the remaining copies.
func (g *Generator) nextInOrder() (body, bool) {
	if len(g.redo) > 0 && (g.redo[0].due <= g.produced || g.produced >= g.cfg.Bodies) {
		p := g.redo[0]
		g.redo = g.redo[1:]
		return p.b, true
	}
	if g.produced >= g.cfg.Bodies {
		return body{}, false
	}
	b, again := g.produce(g.produced)
	g.produced++
	if again || (g.cfg.Redeliver > 0 && g.delivery.Float64() < g.cfg.Redeliver) {
		c := b
		c.copy = true
		due := g.produced + 1 + g.delivery.IntN(8)
		i, _ := slices.BinarySearchFunc(g.redo, due, func(p pending, d int) int { return p.due - d })
		for i < len(g.redo) && g.redo[i].due == due {
			i++
		}
		g.redo = slices.Insert(g.redo, i, pending{due: due, b: c})
	}
	return b, true
}

// WriteNDJSON writes every remaining body, one per line, and returns the
// final Stats. It streams: memory does not grow with the output.
func (g *Generator) WriteNDJSON(w io.Writer) (Stats, error) {
	for {
		b, ok := g.Next()
		if !ok {
			return g.Stats(), nil
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return g.Stats(), fmt.Errorf("gen: write: %w", err)
		}
	}
}

// EstimateBodies returns how many bodies of cfg make about size bytes, from
// the mean body size of a short sample generated with the same settings.
func EstimateBodies(cfg Config, size int64) int {
	s := cfg
	s.Bodies = 64
	s.Attacks, s.MatchShare, s.Redeliver, s.Shuffle = -1, -1, -1, false
	st, _ := New(s).WriteNDJSON(io.Discard)
	per := float64(st.Bytes) / float64(st.Bodies)
	if cfg.Redeliver >= 0 {
		per *= 1 + cfg.withDefaults().Redeliver
	}
	return max(1, int(math.Round(float64(size)/per)))
}

// floorWindow floors t to a multiple of Window since the Unix epoch (UTC).
func floorWindow(t time.Time) time.Time {
	ms := t.UnixMilli()
	w := Window.Milliseconds()
	q := ms / w
	if ms%w < 0 {
		q--
	}
	return time.UnixMilli(q * w).UTC()
}

// isBrowser is the rule's browser test, written here independently: the
// lower-cased browser starts with chrome, firefox, edge or safari.
func isBrowser(b string) bool {
	l := strings.ToLower(b)
	for _, p := range []string{"chrome", "firefox", "edge", "safari"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}
