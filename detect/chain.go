package detect

import (
	"slices"
	"strings"
	"time"
)

// Stage is how far an attack got, as far as drswatch has seen.
type Stage uint8

// The stages, in order. An alert is at the furthest stage reached.
const (
	// StageCodePhish: the rule's condition (the phished code was redeemed
	// for a Device Registration Service token from a second address).
	StageCodePhish Stage = iota
	// StageDeviceRegistered: the alerted user registered a device within
	// the horizon after the alert's window started.
	StageDeviceRegistered
	// StagePRTUsed: a sign-in used the primary refresh token of such a
	// device.
	StagePRTUsed
	numStages
)

var stageNames = [...]string{"code-phish", "device-registered", "prt-used"}

func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "stage?"
}

// Severity is the alert severity at the stage: the seed rule's high, then
// critical from device-registered on (an attacker-held device and its
// refresh token outlive a password reset).
func (s Stage) Severity(base string) string {
	if s >= StageDeviceRegistered {
		return "critical"
	}
	return base
}

// RiskScore is the alert's risk score at the stage, on the seed rule's
// 0-100 scale (73 at high); 91 and 99 for the critical stages (that Elastic
// bands 74-100 as critical is unverified, README).
func (s Stage) RiskScore(base int) int {
	switch s {
	case StageDeviceRegistered:
		return max(base, 91)
	case StagePRTUsed:
		return max(base, 99)
	}
	return base
}

// Bounds on what the chain columns of one alert carry.
const (
	// MaxChainValueBytes cuts one value of a device record or a PRT sign-in.
	MaxChainValueBytes = 256
	// ChainListBytes is the most bytes RegisteredDevices and PrtSignIns
	// each take in an alert row: well under the 64 KB at which the Logs
	// Ingestion API truncates a field (azure-monitor-limits-custom-logs.md),
	// and together small beside the value lists' budgets.
	ChainListBytes  = 16 << 10
	MaxChainDevices = 16 // RegisteredDevices: the newest registrations
	MaxPrtSignIns   = 20 // PrtSignIns: the newest sign-ins
	// ChainSkew is how far an audit record's time may precede the sign-in
	// it follows: sign-in and audit times are both processing times, a
	// minute or two after the event (signin-field-mapping.md §4).
	ChainSkew = 5 * time.Minute
)

// RegisteredDevice is one element of an alert's RegisteredDevices column.
type RegisteredDevice struct {
	DeviceID               string   `json:"DeviceId"`
	DisplayName            string   `json:"DisplayName"`
	OperatingSystem        string   `json:"OperatingSystem"`
	OperatingSystemVersion string   `json:"OperatingSystemVersion"`
	TrustType              string   `json:"TrustType"`
	RegisteredAt           Time     `json:"RegisteredAt"`
	Address                string   `json:"Address"`
	UserAgent              string   `json:"UserAgent"`
	Fingerprints           []string `json:"Fingerprints"`
	ObjectID               string   `json:"ObjectId"`
	CorrelationID          string   `json:"CorrelationId"`
}

// PrtSignIn is one element of an alert's PrtSignIns column.
type PrtSignIn struct {
	Time                Time   `json:"Time"`
	DeviceID            string `json:"DeviceId"`
	Address             string `json:"Address"`
	AppDisplayName      string `json:"AppDisplayName"`
	ResourceDisplayName string `json:"ResourceDisplayName"`
	UserAgent           string `json:"UserAgent"`
	// ID is the sign-in's id (SigninLogs Id), to find the whole record.
	ID string `json:"Id"`
}

// PrtSignInOf returns the PrtSignIns element of a sign-in.
func PrtSignInOf(s DeviceSignIn) PrtSignIn {
	return PrtSignIn{
		Time: Time{s.Time}, DeviceID: s.DeviceID, Address: s.Address,
		AppDisplayName: s.AppDisplayName, ResourceDisplayName: s.ResourceDisplayName,
		UserAgent: s.UserAgent, ID: s.ID,
	}
}

// ChainView is what the chain columns of an alert show.
type ChainView struct {
	Stage             Stage
	RegisteredDevices []RegisteredDevice
	PrtSignIns        []PrtSignIn
	// Truncated names the chain columns that left elements out (by count or
	// by ChainListBytes), for the alert's TruncatedColumns.
	Truncated []string
}

// SameUser reports whether two user principal names name the same user:
// Entra compares them case-insensitively, and audit and sign-in records need
// not spell them alike (inference; no record shows a difference).
func SameUser(a, b string) bool { return a != "" && strings.EqualFold(a, b) }

// LinkChain builds an alert's chain columns from what is kept for its user:
// the registrations by the user within horizon of windowStart (from
// ChainSkew before it), merged by deviceId, and the PRT sign-ins of those
// devices by the user within horizon of the device's registration. The
// result depends only on the sets given, not their order.
func LinkChain(upn string, windowStart time.Time, horizon time.Duration, regs []Registration, prts []DeviceSignIn) ChainView {
	from, to := windowStart.Add(-ChainSkew), windowStart.Add(horizon)
	var linked []Registration
	for i := range regs {
		r := &regs[i]
		if !r.Established() || !SameUser(r.Field(RegUPN), upn) ||
			r.RegisteredAt.Before(from) || r.RegisteredAt.After(to) {
			continue
		}
		linked = append(linked, *r)
	}
	linked = mergeByDevice(linked)
	// Newest first; ties by deviceId then object id, so the cut is stable.
	slices.SortFunc(linked, func(a, b Registration) int {
		if c := b.RegisteredAt.Compare(a.RegisteredAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.Field(RegDeviceID), b.Field(RegDeviceID)); c != 0 {
			return c
		}
		return strings.Compare(a.ObjectID, b.ObjectID)
	})
	cutDevices := len(linked) > MaxChainDevices
	if cutDevices {
		linked = linked[:MaxChainDevices]
	}
	v := ChainView{Stage: StageCodePhish, RegisteredDevices: []RegisteredDevice{}, PrtSignIns: []PrtSignIn{}}
	if len(linked) == 0 {
		return v
	}
	v.Stage = StageDeviceRegistered
	at := map[string]time.Time{}
	for i := range linked {
		r := &linked[i]
		v.RegisteredDevices = append(v.RegisteredDevices, deviceOf(r))
		if id := r.Field(RegDeviceID); id != "" {
			at[id] = r.RegisteredAt
		}
	}
	v.RegisteredDevices, cutDevices = fitList(v.RegisteredDevices, cutDevices)
	if cutDevices {
		v.Truncated = append(v.Truncated, "RegisteredDevices")
	}
	seen := map[string]bool{}
	for _, s := range prts {
		reg, ok := at[s.DeviceID]
		if !ok || !s.IsPRTUse() || !SameUser(s.UPN, upn) || seen[s.ID] ||
			s.Time.Before(reg.Add(-ChainSkew)) || s.Time.After(reg.Add(horizon)) {
			continue
		}
		seen[s.ID] = true
		v.PrtSignIns = append(v.PrtSignIns, PrtSignInOf(s))
	}
	slices.SortFunc(v.PrtSignIns, func(a, b PrtSignIn) int {
		if c := b.Time.Compare(a.Time.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	cutPrts := len(v.PrtSignIns) > MaxPrtSignIns
	if cutPrts {
		v.PrtSignIns = v.PrtSignIns[:MaxPrtSignIns]
	}
	v.PrtSignIns, cutPrts = fitList(v.PrtSignIns, cutPrts)
	if cutPrts {
		v.Truncated = append(v.Truncated, "PrtSignIns")
	}
	if len(v.PrtSignIns) > 0 {
		v.Stage = StagePRTUsed
	}
	return v
}

// fitList drops the last (oldest) elements until the list's JSON encoding
// fits ChainListBytes; cut reports whether any was left out.
func fitList[T any](list []T, cut bool) ([]T, bool) {
	for len(list) > 0 {
		b, _ := encodeState(list)
		if len(b) <= ChainListBytes {
			break
		}
		list, cut = list[:len(list)-1], true
	}
	return list, cut
}

// mergeByDevice merges registrations that name the same deviceId (one
// device seen under two keys: a Register device record whose target id is
// not the object id would be one, an inference the facts leave open).
func mergeByDevice(regs []Registration) []Registration {
	var out []Registration
	index := map[string]int{}
	slices.SortFunc(regs, func(a, b Registration) int { return strings.Compare(a.ObjectID, b.ObjectID) })
	for _, r := range regs {
		id := r.Field(RegDeviceID)
		if id == "" {
			out = append(out, r)
			continue
		}
		if i, ok := index[id]; ok {
			out[i].MergeRegistration(&r)
			continue
		}
		index[id] = len(out)
		r.Records = slices.Clone(r.Records)
		out = append(out, r)
	}
	return out
}

func deviceOf(r *Registration) RegisteredDevice {
	fp := r.Fingerprints()
	if fp == nil {
		fp = []string{}
	}
	return RegisteredDevice{
		DeviceID:               r.Field(RegDeviceID),
		DisplayName:            r.Field(RegDisplayName),
		OperatingSystem:        r.Field(RegOperatingSystem),
		OperatingSystemVersion: r.Field(RegOperatingSystemVersion),
		TrustType:              r.Field(RegTrustType),
		RegisteredAt:           Time{r.RegisteredAt},
		Address:                r.Field(RegAddress),
		UserAgent:              r.Field(RegUserAgent),
		Fingerprints:           fp,
		ObjectID:               r.ObjectID,
		CorrelationID:          r.Field(RegCorrelationID),
	}
}

// ApplyChain sets the alert's chain columns from v and raises its severity
// and risk score with the stage; the seed's columns are left as they are.
func (a *Alert) ApplyChain(v ChainView) {
	a.Stage = v.Stage.String()
	a.Severity = v.Stage.Severity(a.Severity)
	a.RiskScore = v.Stage.RiskScore(a.RiskScore)
	a.RegisteredDevices = slices.Clone(v.RegisteredDevices)
	a.PrtSignIns = slices.Clone(v.PrtSignIns)
	if a.RegisteredDevices == nil {
		a.RegisteredDevices = []RegisteredDevice{}
	}
	if a.PrtSignIns == nil {
		a.PrtSignIns = []PrtSignIn{}
	}
	if len(v.Truncated) > 0 {
		a.TruncatedColumns = append(slices.Clone(a.TruncatedColumns), v.Truncated...)
		slices.Sort(a.TruncatedColumns)
		a.TruncatedColumns = slices.Compact(a.TruncatedColumns)
	}
}
