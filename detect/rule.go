package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Defaults of the seed rule.
const (
	DefaultAppID      = "29d9ed98-a469-4536-ade2-f981bc1d605e" // Microsoft Authentication Broker
	DefaultResourceID = "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9" // Device Registration Service
	DefaultWindow     = 30 * time.Minute
	RuleID            = "375132c6-25d5-11f0-8745-f661ea17fbcd"
	RuleName          = "Entra ID OAuth Flow by Microsoft Authentication Broker to Device Registration Service (DRS)"
)

// Rule holds the rule's parameters. The zero value is not valid; start from
// DefaultRule.
type Rule struct {
	AppID        string
	ResourceID   string
	Window       time.Duration // tumbling, aligned to the Unix epoch
	MinAddresses int           // distinct source addresses
	MinEvents    int           // events in the group
	ID           string
	Name         string
	Severity     string
	RiskScore    int
}

// DefaultRule returns the seed rule's values.
func DefaultRule() Rule {
	return Rule{
		AppID:        DefaultAppID,
		ResourceID:   DefaultResourceID,
		Window:       DefaultWindow,
		MinAddresses: 2,
		MinEvents:    2,
		ID:           RuleID,
		Name:         RuleName,
		Severity:     "high",
		RiskScore:    73,
	}
}

// Key identifies a group: the window start, the UPN and the session id
// (compared case-sensitively, as ES|QL groups keyword values).
type Key struct {
	Window    time.Time
	UPN       string
	SessionID string
}

// ID returns the group's stable identifier, also the alert's AlertId: the
// first 128 bits of SHA-256 over window start, UPN and session id, in hex.
func (k Key) ID() string {
	h := sha256.New()
	h.Write([]byte(strconv.FormatInt(k.Window.UnixMilli(), 10)))
	h.Write([]byte{0})
	h.Write([]byte(k.UPN))
	h.Write([]byte{0})
	h.Write([]byte(k.SessionID))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Select applies the rule's filter (the ES|QL WHERE clause) to a decoded
// record and returns its group key. A record without a session id is
// reported as SkipNoSession: ES|QL keeps it in a null group that can never
// alert (count_distinct of a null session is 0).
func (r Rule) Select(rec Record) (Key, Skip) {
	if rec.Outcome != "success" ||
		rec.UserType != "Member" ||
		rec.Identity == "" ||
		rec.UPN == "" ||
		rec.SourceAddress == "" ||
		rec.AppID != r.AppID ||
		rec.ResourceID != r.ResourceID {
		return Key{}, SkipNoMatch
	}
	if rec.SessionID == "" {
		return Key{}, SkipNoSession
	}
	if len(rec.UPN) > MaxKeyBytes || len(rec.SessionID) > MaxKeyBytes {
		return Key{}, SkipOversize
	}
	return Key{Window: r.WindowStart(rec.Timestamp), UPN: rec.UPN, SessionID: rec.SessionID}, SkipNone
}

// WindowStart floors t to a multiple of the window since the Unix epoch, in
// UTC (ES|QL date_trunc).
func (r Rule) WindowStart(t time.Time) time.Time {
	w := r.Window.Milliseconds()
	ms := t.UnixMilli()
	q := ms / w
	if ms%w < 0 {
		q--
	}
	return time.UnixMilli(q * w).UTC()
}

// IsBrowser reports whether the ES|QL expression
// to_lower(browser) RLIKE "(chrome|firefox|edge|safari).*" is true: RLIKE
// matches the whole string, so the lower-cased browser must start with one of
// the four names. An absent browser is not one.
func IsBrowser(browser string) bool {
	if browser == "" {
		return false
	}
	head := browser
	if len(head) > 8 {
		head = head[:8]
	}
	lower := strings.ToLower(head)
	for _, p := range [...]string{"chrome", "firefox", "edge", "safari"} {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	// Rare: a non-ASCII prefix whose lower-casing changes byte lengths.
	if !isASCII(head) {
		lower = strings.ToLower(browser)
		for _, p := range [...]string{"chrome", "firefox", "edge", "safari"} {
			if strings.HasPrefix(lower, p) {
				return true
			}
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
