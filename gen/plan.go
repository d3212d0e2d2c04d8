package gen

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// user is one member of the tenant's population.
type user struct {
	name, upn, id, userType, homeTenant string
	place                               *place
	ip4, ip6, mobile                    string
	client                              int // usual client (index into clients)
	browser                             int // usual browser (index into clients, a browser)
	deviceID, deviceName, trust         string
	compliant, managed                  bool
}

// browserClients are the indexes of clients whose browser the rule counts.
var browserClients = func() []int {
	var out []int
	for i, c := range clients {
		if isBrowser(c.browser) && !c.mobile {
			out = append(out, i)
		}
	}
	return out
}()

// nonBrowserClients are look-alikes: rich clients, "Mobile Safari",
// "Samsung Internet", no browser at all.
var nonBrowserClients = func() []int {
	var out []int
	for i, c := range clients {
		if !isBrowser(c.browser) {
			out = append(out, i)
		}
	}
	return out
}()

// brokerClient is the WAM broker Windows uses for device registration.
var brokerClient = func() int {
	for i, c := range clients {
		if strings.HasPrefix(c.ua, "Windows-AzureAD-Authentication-Provider") {
			return i
		}
	}
	panic("gen: no broker client")
}()

func makeUsers(r *rand.Rand, n int) []user {
	us := make([]user, n)
	seen := map[string]int{}
	for i := range us {
		u := &us[i]
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		u.name = first + " " + last
		local := asciiName(first) + "." + asciiName(last)
		if k := seen[local]; k > 0 {
			seen[local] = k + 1
			local += strconv.Itoa(k + 1)
		} else {
			seen[local] = 1
		}
		u.id = uuid(r)
		u.userType = "Member"
		u.homeTenant = tenantID
		if r.IntN(100) < 5 {
			dom := guestDomains[r.IntN(len(guestDomains))]
			u.userType = "Guest"
			u.upn = local + "_" + dom + "#EXT#@contoso.onmicrosoft.com"
			u.homeTenant = uuid(r)
		} else {
			u.upn = local + "@" + tenantName
		}
		u.place = &homePlaces[r.IntN(len(homePlaces))]
		u.ip4 = "198.51.100." + strconv.Itoa(1+i%254)
		u.mobile = "203.0.113." + strconv.Itoa(1+(i*7)%254)
		u.ip6 = "2001:db8:1:" + strconv.FormatInt(int64(i), 16) + "::" + strconv.FormatInt(int64(1+r.IntN(0xfffe)), 16)
		u.client = pickClient(r)
		u.browser = browserClients[r.IntN(len(browserClients))]
		if r.IntN(100) < 70 {
			u.deviceID = uuid(r)
			u.deviceName = "CONTOSO-" + strconv.Itoa(10000+r.IntN(90000))
			u.trust = [...]string{"Azure AD joined", "Hybrid Azure AD joined", "Azure AD registered"}[r.IntN(3)]
			u.managed = r.IntN(100) < 85
			u.compliant = u.managed && r.IntN(100) < 90
		}
	}
	return us
}

func pickClient(r *rand.Rand) int {
	n := r.IntN(clientTotal)
	for i, c := range clients {
		if n < c.weight {
			return i
		}
		n -= c.weight
	}
	return 0
}

// asciiName makes a UPN-safe local part.
func asciiName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteRune(c)
		case c == 'ü':
			b.WriteString("ue")
		case c == 'ë':
			b.WriteString("e")
		case c == 'á':
			b.WriteString("a")
		case c == 'ł':
			b.WriteString("l")
		}
	}
	return b.String()
}

// leg is one planned MAB -> DRS record.
type leg struct {
	t         int64 // time, Unix nanoseconds
	body      int
	user      int
	scenario  int
	session   string
	ip        string
	client    *client
	place     *place // nil: the user's home
	category  string
	fail      *failure
	redeliver bool // force the body holding this leg to be redelivered
	attacker  bool
}

// Scenario kinds. Attacks must alert; every benign kind must not.
const (
	kindAttack        = "attack"
	kindOneIP         = "benign-one-ip"         // browser and broker legs, one address
	kindNoBrowser     = "benign-no-browser"     // two addresses, no counted browser
	kindSingleBrowser = "benign-single-browser" // one browser sign-in
	kindFailedLeg     = "benign-failed-leg"     // the second address failed
	kindGuest         = "benign-guest"          // two addresses and a browser, Guest user
	kindNoSession     = "benign-no-session"     // two addresses and a browser, empty sessionId
	kindSplitSession  = "benign-split-session"  // two addresses and a browser, two sessions
	kindSplitWindow   = "benign-split-window"   // two addresses and a browser, two windows
)

var benignKinds = []string{kindOneIP, kindNoBrowser, kindSingleBrowser, kindFailedLeg, kindGuest,
	kindNoSession, kindSplitSession, kindSplitWindow}

// plan places the attacks and benign MAB -> DRS scenarios and computes the
// expected alerts.
func (g *Generator) plan(r *rand.Rand) {
	c := g.cfg
	g.stats.Scenarios = map[string]int{}
	g.stats.Attacks = c.Attacks
	start, span := c.Start.UnixNano(), int64(c.Span)
	// at returns a time in the span, at least lead before its end.
	at := func(lead time.Duration) int64 {
		room := span - int64(lead)
		if room <= 0 {
			return start
		}
		return start + r.Int64N(room)
	}
	// nearEdge returns a window edge inside the span, or 0.
	nearEdge := func() int64 {
		first := floorWindow(c.Start).Add(Window).UnixNano()
		last := start + span - int64(15*time.Minute)
		if last <= first+int64(3*time.Minute) {
			return 0
		}
		n := (last-first-int64(3*time.Minute))/int64(Window) + 1
		return first + r.Int64N(n)*int64(Window)
	}
	member := func() int {
		for range 1000 {
			if i := r.IntN(len(g.users)); g.users[i].userType == "Member" {
				return i
			}
		}
		return 0
	}
	guest := func() int {
		for range 1000 {
			if i := r.IntN(len(g.users)); g.users[i].userType == "Guest" {
				return i
			}
		}
		return -1
	}
	sec := func(lo, hi int) int64 { return int64(lo+r.IntN(hi-lo+1)) * int64(time.Second) }
	jit := func() int64 { return r.Int64N(int64(time.Second)) }

	scen := 0
	for a := range c.Attacks {
		u := member()
		us := &g.users[u]
		session := uuid(r)
		victimIP := us.ip4
		if r.IntN(4) == 0 {
			victimIP = us.ip6
		}
		vc := &clients[us.browser]
		ap := &attackerPlaces[r.IntN(len(attackerPlaces))]
		ac := &attackerClients[r.IntN(len(attackerClients))]
		attIP := attackerIP(r)
		k := 1 + r.IntN(3)
		straddle := a%4 == 1
		var t0 int64
		offs := []int64{}
		if e := nearEdge(); straddle && e != 0 {
			k = max(k, 2)
			// Browser leg and first token redemption before the edge, the
			// others after it: only the first window alerts.
			t0 = e - sec(100, 170) - jit()
			offs = append(offs, e-sec(20, 60)-t0)
			for i := 1; i < k; i++ {
				offs = append(offs, e+sec(10+60*(i-1), 60*i)-t0)
			}
		} else {
			straddle = false
			ws := floorWindow(time.Unix(0, at(20*time.Minute)).UTC())
			t0 = ws.UnixNano() + sec(0, 60*15) + jit()
			if t0 < start {
				t0 = start + jit()
			}
			o := int64(0)
			for range k {
				o += sec(15, 150)
				offs = append(offs, o)
			}
		}
		g.addLeg(leg{t: t0, user: u, scenario: scen, session: session, ip: victimIP, client: vc,
			category: "SignInLogs"})
		for i, o := range offs {
			ip := attIP
			if i > 0 && r.IntN(2) == 0 {
				ip = attackerIP(r)
			}
			g.addLeg(leg{t: t0 + o + jit(), user: u, scenario: scen, session: session, ip: ip,
				client: ac, place: ap, category: "NonInteractiveUserSignInLogs", attacker: true,
				redeliver: i == 0 && a%3 == 0})
		}
		g.stats.Scenarios[kindAttack]++
		scen++
	}

	// Benign look-alikes fill the MAB -> DRS share the attacks leave.
	want := int(math.Round(c.MatchShare * float64(c.Bodies) * float64(c.RecordsPerBody)))
	if c.MatchShare > 0 {
		want = max(want, len(g.legs)+2*len(benignKinds))
	}
	for n := 0; len(g.legs) < want; n++ {
		kind := benignKinds[n%len(benignKinds)]
		if n >= len(benignKinds) {
			kind = benignKinds[r.IntN(len(benignKinds))]
		}
		u := member()
		if kind == kindGuest {
			if gi := guest(); gi >= 0 {
				u = gi
			}
		}
		us := &g.users[u]
		session := uuid(r)
		bc := &clients[us.browser]
		t0 := at(15*time.Minute) + jit()
		base := leg{t: t0, user: u, scenario: scen, session: session, ip: us.ip4, client: bc, category: "SignInLogs"}
		second := base
		second.t = t0 + sec(10, 240)
		second.ip = us.mobile
		second.category = "NonInteractiveUserSignInLogs"
		second.client = &clients[brokerClient]
		switch kind {
		case kindOneIP:
			g.addLeg(base)
			second.ip = us.ip4
			g.addLeg(second)
			if r.IntN(2) == 0 {
				second.t += sec(5, 120)
				g.addLeg(second)
			}
		case kindNoBrowser:
			base.client = &clients[nonBrowserClients[r.IntN(len(nonBrowserClients))]]
			base.category = "NonInteractiveUserSignInLogs"
			g.addLeg(base)
			second.ip = us.ip6
			g.addLeg(second)
			if r.IntN(2) == 0 {
				second.t += sec(5, 120)
				second.ip = us.mobile
				g.addLeg(second)
			}
		case kindSingleBrowser:
			g.addLeg(base)
		case kindFailedLeg:
			g.addLeg(base)
			second.fail = &failures[[]int{0, 2, 3, 6, 7}[r.IntN(5)]]
			g.addLeg(second)
		case kindGuest, kindNoSession:
			if kind == kindNoSession {
				base.session, second.session = "", ""
			}
			g.addLeg(base)
			g.addLeg(second)
		case kindSplitSession:
			g.addLeg(base)
			second.session = uuid(r)
			g.addLeg(second)
		case kindSplitWindow:
			e := nearEdge()
			if e == 0 {
				// No edge in the span: fall back to a single browser leg.
				g.addLeg(base)
				break
			}
			base.t = e - sec(5, 90) - jit()
			second.t = e + sec(5, 90) + jit()
			g.addLeg(base)
			g.addLeg(second)
		}
		g.stats.Scenarios[kind]++
		scen++
	}

	for i := range g.legs {
		l := &g.legs[i]
		rel := float64(l.t-start) / float64(span) * float64(c.Bodies)
		l.body = min(max(int(rel), 0), c.Bodies-1)
	}
	slices.SortStableFunc(g.legs, func(a, b leg) int {
		if a.body != b.body {
			return a.body - b.body
		}
		return cmp.Compare(a.t, b.t)
	})
	g.stats.ExpectedAlerts = g.expected()
}

func (g *Generator) addLeg(l leg) { g.legs = append(g.legs, l) }

// attackerIP returns an address of the attacker's infrastructure, from
// ranges disjoint from the users' (TEST-NET-1 and 2001:db8:bad::/48).
func attackerIP(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return "2001:db8:bad:" + strconv.FormatInt(int64(r.IntN(0xffff)), 16) + "::" + strconv.FormatInt(int64(1+r.IntN(0xfffe)), 16)
	}
	return "192.0.2." + strconv.Itoa(1+r.IntN(254))
}

// expected groups the attack legs by window, UPN and session and keeps the
// groups the rule alerts on: at least two addresses, two events and one
// browser sign-in.
func (g *Generator) expected() []Expected {
	type acc struct {
		e        Expected
		ips      map[string]bool
		browser  bool
		scenario int
	}
	groups := map[[3]string]*acc{}
	for _, l := range g.legs {
		if l.fail != nil || l.session == "" {
			continue
		}
		u := &g.users[l.user]
		if u.userType != "Member" {
			continue
		}
		w := floorWindow(time.Unix(0, l.t))
		k := [3]string{w.Format(time.RFC3339), u.upn, l.session}
		a := groups[k]
		if a == nil {
			a = &acc{e: Expected{WindowStart: w, UPN: u.upn, SessionID: l.session}, ips: map[string]bool{}, scenario: l.scenario}
			groups[k] = a
		}
		a.e.Events++
		a.ips[l.ip] = true
		a.browser = a.browser || isBrowser(l.client.browser)
	}
	// Straddle flag, from the first and last legs of each scenario.
	first, last := map[int]int64{}, map[int]int64{}
	for _, l := range g.legs {
		if f, ok := first[l.scenario]; !ok || l.t < f {
			first[l.scenario] = l.t
		}
		last[l.scenario] = max(last[l.scenario], l.t)
	}
	var out []Expected
	for _, a := range groups {
		a.e.Addresses = len(a.ips)
		if a.e.Addresses < 2 || a.e.Events < 2 || !a.browser {
			continue
		}
		a.e.Attack = a.scenario // attacks are scenarios 0..Attacks-1
		a.e.Straddles = !floorWindow(time.Unix(0, first[a.scenario])).Equal(floorWindow(time.Unix(0, last[a.scenario])))
		out = append(out, a.e)
	}
	slices.SortFunc(out, func(a, b Expected) int {
		if c := a.WindowStart.Compare(b.WindowStart); c != 0 {
			return c
		}
		if c := strings.Compare(a.UPN, b.UPN); c != 0 {
			return c
		}
		return strings.Compare(a.SessionID, b.SessionID)
	})
	return out
}
