package gen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Record size bounds: every record is between minRecord and maxRecord bytes;
// its target size is drawn uniformly from [minTarget, maxTarget).
const (
	minRecord = 1536
	maxRecord = 3072
	minTarget = 1600
	maxTarget = 2900
)

// Categories of ordinary traffic, with weights out of 100.
var categoryWeights = []struct {
	name   string
	weight int
}{
	{"NonInteractiveUserSignInLogs", 62},
	{"SignInLogs", 15},
	{"ServicePrincipalSignInLogs", 9},
	{"ManagedIdentitySignInLogs", 6},
	{"AuditLogs", auditWeight},
}

// auditWeight is the audit records' weight out of 100: auditShare of
// the ordinary records.
const (
	auditWeight = 8
	auditShare  = auditWeight / 100.0
)

// signin is the scratch form of one sign-in record before rendering.
type signin struct {
	t, created            time.Time
	category              string
	identity              string
	user                  *user
	upn, displayName, uid string
	userType, homeTenant  string
	app, res              app
	appOwner, resOwner    string
	ip                    string
	fail                  *failure
	clientApp             string
	cl                    *client
	deviceID, deviceName  string
	trust                 string
	compliant, managed    bool
	pl                    *place
	interactive           bool
	authReq, authProto    string
	incoming              string
	session               string
	sp, mi                bool
	asn                   int
	tokenStatus           string
	tokenCode             int
	risk                  string
	mfa                   bool
	network               string
	servicePrincipalID    string
	spName                string
}

// produce renders body i: its share of ordinary records with the planned
// MAB -> DRS legs mixed in at random positions. again reports that a planned
// leg asked for the body to be redelivered.
func (g *Generator) produce(i int) (body, bool) {
	r := g.rng
	R := g.cfg.RecordsPerBody
	h := R / 2
	n := R - h + r.IntN(2*h+1)
	first := g.next
	for g.next < len(g.legs) && g.legs[g.next].body <= i {
		g.next++
	}
	legs := g.legs[first:g.next]
	total := n + len(legs)
	t0 := g.cfg.Start.UnixNano() + int64(i)*g.step
	out := body{b: make([]byte, 0, total*2600+16), records: total}
	out.b = append(out.b, `{"records":[`...)
	again := false
	for j := range total {
		if j > 0 {
			out.b = append(out.b, ',')
		}
		left := total - j
		if len(legs) > 0 && r.IntN(left) < len(legs) {
			l := &legs[0]
			legs = legs[1:]
			g.fillLeg(l)
			out.b = g.renderSignin(out.b)
			out.matching++
			again = again || l.redeliver
			continue
		}
		t := time.Unix(0, t0+r.Int64N(g.step)).UTC()
		cat := pickCategory(r)
		if cat == "AuditLogs" {
			out.b = g.renderAudit(out.b, t)
			continue
		}
		g.fillBackground(t, cat)
		out.b = g.renderSignin(out.b)
	}
	out.b = append(out.b, "]}"...)
	return out, again
}

func pickCategory(r *rand.Rand) string {
	n := r.IntN(100)
	for _, c := range categoryWeights {
		if n < c.weight {
			return c.name
		}
		n -= c.weight
	}
	return categoryWeights[0].name
}

// fillUser sets the user fields of the scratch record.
func (s *signin) fillUser(u *user) {
	s.user = u
	s.identity, s.displayName, s.upn, s.uid = u.name, u.name, u.upn, u.id
	s.userType, s.homeTenant = u.userType, u.homeTenant
	s.deviceID, s.deviceName, s.trust = u.deviceID, u.deviceName, u.trust
	s.compliant, s.managed = u.compliant, u.managed
	s.pl = u.place
}

func (g *Generator) fillBackground(t time.Time, cat string) {
	r := g.rng
	s := &g.rec
	*s = signin{t: t, category: cat, created: t.Add(-time.Duration(15+r.IntN(150)) * time.Second)}
	s.authProto, s.incoming, s.risk, s.network = "none", "none", "none", "none"
	s.tokenStatus, s.tokenCode = "none", 0
	switch cat {
	case "ServicePrincipalSignInLogs", "ManagedIdentitySignInLogs":
		s.sp = true
		s.mi = cat == "ManagedIdentitySignInLogs"
		var a app
		if s.mi {
			a = managedIdentities[r.IntN(len(managedIdentities))]
		} else {
			a = servicePrincipals[r.IntN(len(servicePrincipals))]
			s.ip = "198.18." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
			s.asn = 8075
		}
		s.app, s.res = a, spResources[r.IntN(len(spResources))]
		s.servicePrincipalID, s.spName = a.id, a.name
		s.appOwner, s.resOwner = tenantID, msTenant
		s.userType = "Member" // as Entra sends it, with an empty UPN
		s.homeTenant = tenantID
		s.pl = &homePlaces[r.IntN(len(homePlaces))]
		s.authReq = "singleFactorAuthentication"
		s.cl = &clients[len(clients)-1] // no user agent
		if r.IntN(100) < 2 {
			s.fail = &failures[9]
		}
		return
	}
	u := &g.users[r.IntN(len(g.users))]
	s.fillUser(u)
	p := pickPair(r)
	s.app, s.res, s.clientApp = p.app, p.res, p.client
	s.appOwner, s.resOwner = msTenant, msTenant
	s.cl = &clients[u.client]
	if p.client == "Browser" {
		s.cl = &clients[u.browser]
		if r.IntN(4) == 0 { // a phone's browser
			s.cl = &clients[[]int{7, 8, 9}[r.IntN(3)]]
		}
	}
	switch n := r.IntN(100); {
	case n < 75:
		s.ip = u.ip4
	case n < 90:
		s.ip = u.ip6
	default:
		s.ip = u.mobile
	}
	s.asn = []int{1136, 3320, 3215, 5089, 7922, 6830}[hash(u.id)%6]
	s.interactive = cat == "SignInLogs"
	s.authReq = "singleFactorAuthentication"
	if s.interactive {
		s.mfa = r.IntN(3) > 0
		if s.mfa {
			s.authReq = "multiFactorAuthentication"
		}
	} else {
		s.incoming = []string{"refreshToken", "primaryRefreshToken", "none"}[r.IntN(3)]
	}
	if share := g.cfg.PRTShare; share > 0 {
		switch {
		case u.deviceID != "" && r.Float64() < share*float64(len(g.users))/float64(max(g.withDevice, 1)):
			s.incoming = "primaryRefreshToken"
		case s.incoming == "primaryRefreshToken":
			s.incoming = "refreshToken"
		}
	}
	// Sessions persist: one per user and day, some records without one.
	if r.IntN(10) > 0 {
		day := uint64(t.Unix() / 86400)
		s.session = uuidFrom(uint64(g.cfg.Seed)^0x5e55, day<<32|uint64(u.client)<<20|hash(u.id))
	}
	if r.IntN(100) < 7 {
		f := &failures[r.IntN(len(failures))]
		s.fail = f
	}
	if u.managed {
		s.tokenStatus, s.tokenCode = "bound", 1000
	} else if r.IntN(2) == 0 {
		s.tokenStatus, s.tokenCode = "unbound", 1002
	}
	if s.ip == u.ip4 && r.IntN(3) == 0 {
		s.network = "trustedNamedLocation"
	}
}

func pickPair(r *rand.Rand) *pair {
	n := r.IntN(pairTotal)
	for i := range userPairs {
		if n < userPairs[i].weight {
			return &userPairs[i]
		}
		n -= userPairs[i].weight
	}
	return &userPairs[0]
}

// fillLeg sets the scratch record from a planned MAB -> DRS leg.
func (g *Generator) fillLeg(l *leg) {
	r := g.rng
	s := &g.rec
	t := time.Unix(0, l.t).UTC()
	*s = signin{t: t, category: l.category, created: t.Add(-time.Duration(20+r.IntN(100)) * time.Second)}
	s.fillUser(&g.users[l.user])
	s.app, s.res = appMABApp, resDRSApp
	s.appOwner, s.resOwner = msTenant, msTenant
	s.ip, s.cl, s.session, s.fail = l.ip, l.client, l.session, l.fail
	s.authProto, s.risk, s.network = "none", "none", "none"
	s.tokenStatus = "none"
	s.asn = 1136
	s.interactive = l.category == "SignInLogs"
	s.clientApp = "Mobile Apps and Desktop clients"
	s.authReq = "singleFactorAuthentication"
	s.incoming = "none"
	if s.interactive {
		s.clientApp = "Browser"
		s.authReq = "multiFactorAuthentication"
		s.mfa = true
	} else {
		s.incoming = "primaryRefreshToken"
	}
	if l.attacker {
		s.pl = l.place
		s.deviceID, s.deviceName, s.trust = "", "", ""
		s.compliant, s.managed = false, false
		s.asn = []int{14061, 16509, 9009, 24940}[r.IntN(4)]
		s.incoming = "none"
		s.authProto = "authorizationCode"
		s.risk = []string{"none", "low", "medium"}[r.IntN(3)]
	}
}

// renderSignin appends the scratch record as raw diagnostic-settings JSON.
func (g *Generator) renderSignin(b []byte) []byte {
	s := &g.rec
	r := g.rng
	recStart := len(b)
	corr := uuid(r)
	id := uuid(r)
	code := 0
	if s.fail != nil {
		code = s.fail.code
	}
	b = append(b, `{"time":"`...)
	b = appendTime(b, s.t)
	b = append(b, `","resourceId":"/tenants/`+tenantID+`/providers/Microsoft.aadiam","operationName":"Sign-in activity","operationVersion":"1.0","category":`...)
	b = appendString(b, s.category)
	b = append(b, `,"tenantId":"`+tenantID+`","resultType":"`...)
	b = strconv.AppendInt(b, int64(code), 10)
	if s.fail != nil {
		b = append(b, `","resultSignature":"None"`...)
	} else {
		b = append(b, `","resultSignature":"SUCCESS"`...)
	}
	b = append(b, `,"durationMs":0,"callerIpAddress":`...)
	b = appendString(b, s.ip)
	b = append(b, `,"correlationId":"`...)
	b = append(b, corr...)
	b = append(b, '"')
	if !s.sp {
		b = append(b, `,"identity":`...)
		b = appendString(b, s.identity)
	}
	b = append(b, `,"Level":4,"location":`...)
	b = appendString(b, s.pl.country)
	b = append(b, `,"properties":{"id":"`...)
	b = append(b, id...)
	b = append(b, `","createdDateTime":"`...)
	b = appendTimeOffset(b, s.created)
	b = append(b, `","userDisplayName":`...)
	b = appendString(b, s.displayName)
	b = append(b, `,"userPrincipalName":`...)
	b = appendString(b, s.upn)
	b = append(b, `,"userId":`...)
	b = appendString(b, s.uid)
	b = append(b, `,"appId":`...)
	b = appendString(b, s.app.id)
	b = append(b, `,"appDisplayName":`...)
	b = appendString(b, s.app.name)
	b = append(b, `,"ipAddress":`...)
	b = appendString(b, s.ip)
	b = append(b, `,"status":{"errorCode":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	if s.fail != nil {
		b = append(b, `,"failureReason":`...)
		b = appendString(b, s.fail.reason)
		if !s.interactive {
			b = append(b, `,"additionalDetails":`...)
			b = appendString(b, s.fail.detail)
		}
	}
	b = append(b, `},"clientAppUsed":`...)
	b = appendString(b, s.clientApp)
	b = append(b, `,"userAgent":`...)
	b = appendString(b, s.cl.ua)
	b = append(b, `,"deviceDetail":{"deviceId":`...)
	b = appendString(b, s.deviceID)
	if s.deviceName != "" {
		b = append(b, `,"displayName":`...)
		b = appendString(b, s.deviceName)
	}
	b = append(b, `,"operatingSystem":`...)
	b = appendString(b, s.cl.os)
	b = append(b, `,"browser":`...)
	b = appendString(b, s.cl.browser)
	if s.trust != "" {
		b = append(b, `,"isCompliant":`...)
		b = strconv.AppendBool(b, s.compliant)
		b = append(b, `,"isManaged":`...)
		b = strconv.AppendBool(b, s.managed)
		b = append(b, `,"trustType":`...)
		b = appendString(b, s.trust)
	}
	b = append(b, `},"location":{"city":`...)
	b = appendString(b, s.pl.city)
	b = append(b, `,"state":`...)
	b = appendString(b, s.pl.state)
	b = append(b, `,"countryOrRegion":`...)
	b = appendString(b, s.pl.country)
	b = append(b, `,"geoCoordinates":{"latitude":`...)
	b = strconv.AppendFloat(b, s.pl.lat, 'f', -1, 64)
	b = append(b, `,"longitude":`...)
	b = strconv.AppendFloat(b, s.pl.lon, 'f', -1, 64)
	b = append(b, `}},"correlationId":"`...)
	b = append(b, corr...)
	ca := "success"
	switch {
	case s.sp:
		ca = "notApplied"
	case s.fail != nil && s.fail.code == 53003:
		ca = "failure"
	}
	b = append(b, `","conditionalAccessStatus":"`...)
	b = append(b, ca...)
	b = append(b, `","appliedConditionalAccessPolicies":[`...)
	start := len(b)

	// The rest goes to a scratch tail first, so the policies can be sized
	// to bring the record to its target size.
	tl := g.tail[:0]
	tl = append(tl, `],"authenticationDetails":[`...)
	switch {
	case s.interactive && s.mfa && s.fail == nil:
		tl = appendAuthStep(tl, s.created.Add(12*time.Second), "Microsoft Authenticator app", "Notification", "MFA completed in Azure AD", "Primary authentication", true)
	case s.interactive:
		tl = appendAuthStep(tl, s.created, "Password", "Password Hash Sync", "Correct password", "Primary authentication", s.fail == nil || s.fail.code != 50126)
	}
	tl = append(tl, `],"authenticationProcessingDetails":[{"key":"Is CAE Token","value":"`...)
	tl = strconv.AppendBool(tl, !s.sp && r.IntN(2) == 0)
	tl = append(tl, `"}`...)
	tl = append(tl, `],"authenticationRequirement":`...)
	tl = appendString(tl, s.authReq)
	tl = append(tl, `,"authenticationProtocol":`...)
	tl = appendString(tl, s.authProto)
	tl = append(tl, `,"isInteractive":`...)
	tl = strconv.AppendBool(tl, s.interactive)
	tl = append(tl, `,"tokenIssuerType":"AzureAD","riskDetail":"none","riskLevelAggregated":`...)
	tl = appendString(tl, s.risk)
	tl = append(tl, `,"riskLevelDuringSignIn":`...)
	tl = appendString(tl, s.risk)
	tl = append(tl, `,"riskState":"none","riskEventTypes_v2":[],"resourceDisplayName":`...)
	tl = appendString(tl, s.res.name)
	tl = append(tl, `,"resourceId":`...)
	tl = appendString(tl, s.res.id)
	tl = append(tl, `,"resourceTenantId":"`+tenantID+`","homeTenantId":`...)
	tl = appendString(tl, s.homeTenant)
	tl = append(tl, `,"appOwnerTenantId":`...)
	tl = appendString(tl, s.appOwner)
	tl = append(tl, `,"resourceOwnerTenantId":`...)
	tl = appendString(tl, s.resOwner)
	tl = append(tl, `,"uniqueTokenIdentifier":"`...)
	tl = appendToken(tl, r)
	tl = append(tl, `","sessionId":`...)
	tl = appendString(tl, s.session)
	tl = append(tl, `,"userType":`...)
	tl = appendString(tl, s.userType)
	tl = append(tl, `,"incomingTokenType":`...)
	tl = appendString(tl, s.incoming)
	tl = append(tl, `,"tokenProtectionStatusDetails":{"signInSessionStatus":`...)
	tl = appendString(tl, s.tokenStatus)
	tl = append(tl, `,"signInSessionStatusCode":`...)
	tl = strconv.AppendInt(tl, int64(s.tokenCode), 10)
	tl = append(tl, `},"networkLocationDetails":[`...)
	if s.network != "none" {
		tl = append(tl, `{"networkType":"trustedNamedLocation","networkNames":["Contoso offices"]}`...)
	}
	tl = append(tl, ']')
	tl = append(tl, `,"processingTimeInMilliseconds":`...)
	tl = strconv.AppendInt(tl, int64(20+r.IntN(400)), 10)
	tl = append(tl, `,"autonomousSystemNumber":`...)
	tl = strconv.AppendInt(tl, int64(s.asn), 10)
	if s.sp {
		tl = append(tl, `,"servicePrincipalId":`...)
		tl = appendString(tl, s.servicePrincipalID)
		tl = append(tl, `,"servicePrincipalName":`...)
		tl = appendString(tl, s.spName)
		tl = append(tl, `,"clientCredentialType":`...)
		if s.mi {
			tl = append(tl, `"managedIdentity","managedIdentityType":"SystemAssigned"`...)
		} else {
			tl = append(tl, `"clientSecret"`...)
		}
	}
	tl = append(tl, `}}`...)
	g.tail = tl

	b = g.appendPolicies(b, recStart, start, len(tl))
	return append(b, tl...)
}

// appendPolicies appends conditional access results until the record
// (which started at recStart, with tail bytes still to come) reaches a size
// drawn from [minTarget, maxTarget), never exceeding maxRecord.
func (g *Generator) appendPolicies(b []byte, recStart, listStart, tail int) []byte {
	r := g.rng
	target := minTarget + r.IntN(maxTarget-minTarget)
	first := r.IntN(len(policies))
	for k := range policies {
		size := len(b) - recStart + tail
		if size >= target {
			break
		}
		mark := len(b)
		if len(b) > listStart {
			b = append(b, ',')
		}
		p := &policies[(first+k)%len(policies)]
		b = append(b, `{"id":"`...)
		b = append(b, p.id...)
		b = append(b, `","displayName":`...)
		b = appendString(b, p.name)
		b = append(b, `,"enforcedGrantControls":[`...)
		b = appendList(b, p.grant)
		b = append(b, `],"enforcedSessionControls":[`...)
		b = appendList(b, p.session)
		b = append(b, `],"result":"`...)
		b = append(b, policyResults[r.IntN(len(policyResults))]...)
		b = append(b, `","conditionsSatisfied":`...)
		b = strconv.AppendInt(b, int64(r.IntN(32)), 10)
		b = append(b, `,"conditionsNotSatisfied":`...)
		b = strconv.AppendInt(b, int64(r.IntN(16)), 10)
		b = append(b, '}')
		if len(b)-recStart+tail > maxRecord {
			return b[:mark]
		}
	}
	return b
}

func appendList(b []byte, xs []string) []byte {
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, x)
	}
	return b
}

func appendAuthStep(b []byte, t time.Time, method, detail, result, req string, ok bool) []byte {
	b = append(b, `{"authenticationStepDateTime":"`...)
	b = appendTimeOffset(b, t)
	b = append(b, `","authenticationMethod":`...)
	b = appendString(b, method)
	b = append(b, `,"authenticationMethodDetail":`...)
	b = appendString(b, detail)
	b = append(b, `,"succeeded":`...)
	b = strconv.AppendBool(b, ok)
	b = append(b, `,"authenticationStepResultDetail":`...)
	b = appendString(b, result)
	b = append(b, `,"authenticationStepRequirement":`...)
	b = appendString(b, req)
	b = append(b, `}`...)
	return b
}

// renderAudit appends an AuditLogs record (not a sign-in: the detector must
// skip it).
func (g *Generator) renderAudit(b []byte, t time.Time) []byte {
	r := g.rng
	u := &g.users[r.IntN(len(g.users))]
	op := &auditOps[r.IntN(len(auditOps))]
	if x := r.Float64(); x < g.cfg.DeviceOpShare/auditShare {
		op = &updateDeviceOp
		if x < g.cfg.DeviceOpShare/auditShare*g.cfg.RegistrationShare {
			op = &registrationOps[r.IntN(len(registrationOps))]
		}
	}
	corr := uuid(r)
	recStart := len(b)
	b = append(b, `{"time":"`...)
	b = appendTime(b, t)
	b = append(b, `","resourceId":"/tenants/`+tenantID+`/providers/Microsoft.aadiam","operationName":`...)
	b = appendString(b, op.op)
	b = append(b, `,"operationVersion":"1.0","category":"AuditLogs","tenantId":"`+tenantID+`","resultType":"","resultSignature":"None","resultDescription":"","durationMs":0,"callerIpAddress":`...)
	b = appendString(b, u.ip4)
	b = append(b, `,"correlationId":"`...)
	b = append(b, corr...)
	b = append(b, `","identity":`...)
	b = appendString(b, u.name)
	b = append(b, `,"Level":4,"properties":{"id":"Directory_`...)
	b = append(b, corr...)
	b = append(b, `_`...)
	b = appendToken(b, r)
	b = append(b, `","category":`...)
	b = appendString(b, op.category)
	b = append(b, `,"correlationId":"`...)
	b = append(b, corr...)
	b = append(b, `","result":"success","resultReason":"","activityDisplayName":`...)
	b = appendString(b, op.op)
	b = append(b, `,"activityDateTime":"`...)
	b = appendTimeOffset(b, t.Add(-90*time.Second))
	b = append(b, `","loggedByService":`...)
	b = appendString(b, op.service)
	b = append(b, `,"operationType":"Update","userAgent":"","initiatedBy":{"user":{"id":`...)
	b = appendString(b, u.id)
	b = append(b, `,"displayName":null,"userPrincipalName":`...)
	b = appendString(b, u.upn)
	b = append(b, `,"ipAddress":`...)
	b = appendString(b, u.ip4)
	b = append(b, `,"roles":[]}},"targetResources":[{"id":"`...)
	b = append(b, uuid(r)...)
	b = append(b, `","displayName":`...)
	b = appendString(b, u.deviceName)
	b = append(b, `,"type":`...)
	b = appendString(b, op.target)
	b = append(b, `,"modifiedProperties":[`...)
	listStart := len(b)
	const tail = len(`],"administrativeUnits":[]}],"additionalDetails":[{"key":"User-Agent","value":"Dsreg/10.0 (Windows 10.0.26100.4652)"}]}}`)
	target := minTarget + r.IntN(maxTarget-minTarget)
	for k := 0; len(b)-recStart+tail < target && k < 40; k++ {
		mark := len(b)
		if len(b) > listStart {
			b = append(b, ',')
		}
		b = append(b, `{"displayName":"`...)
		b = append(b, []string{"AccountEnabled", "DeviceOSVersion", "DisplayName", "Included Updated Properties", "TargetId.UserType", "StsRefreshTokensValidFrom", "LastDirSyncTime"}[k%7]...)
		b = append(b, `","oldValue":"[\"`...)
		b = appendToken(b, r)
		b = append(b, `\"]","newValue":"[\"`...)
		b = appendToken(b, r)
		b = append(b, `\"]"}`...)
		if len(b)-recStart+tail > maxRecord {
			b = b[:mark]
			break
		}
	}
	return append(b, `],"administrativeUnits":[]}],"additionalDetails":[{"key":"User-Agent","value":"Dsreg/10.0 (Windows 10.0.26100.4652)"}]}}`...)
}

// appendTime writes t as Entra's top-level time: UTC, 7 fractional digits.
func appendTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.0000000Z")
}

// appendTimeOffset writes t as properties.createdDateTime: 7 fractional
// digits and a +00:00 offset.
func appendTimeOffset(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.0000000+00:00")
}

// appendString appends s as a JSON string, escaping what JSON requires.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// uuid returns a random version-4 UUID.
func uuid(r *rand.Rand) string {
	return formatUUID(r.Uint64(), r.Uint64())
}

// uuidFrom returns a version-4-shaped UUID derived from a and b.
func uuidFrom(a, b uint64) string {
	return formatUUID(mix(a^mix(b)), mix(b+0x9e3779b97f4a7c15))
}

func formatUUID(hi, lo uint64) string {
	hi = hi&^(0xf<<12) | 4<<12
	lo = lo&^(0xc<<60) | 0x8<<60
	var x [36]byte
	j := 0
	for i := range 16 {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			x[j] = '-'
			j++
		}
		var v byte
		if i < 8 {
			v = byte(hi >> (56 - 8*i))
		} else {
			v = byte(lo >> (56 - 8*(i-8)))
		}
		x[j], x[j+1] = hexDigits[v>>4], hexDigits[v&0xf]
		j += 2
	}
	return string(x[:])
}

// mix is SplitMix64's finaliser.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h & 0xfffff
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// appendToken appends a 22-character base64url token (uniqueTokenIdentifier).
func appendToken(b []byte, r *rand.Rand) []byte {
	x, y := r.Uint64(), r.Uint64()
	for i := range 22 {
		var v uint64
		if i < 10 {
			v = x >> (6 * i)
		} else {
			v = y >> (6 * (i - 10))
		}
		b = append(b, tokenAlphabet[v&63])
	}
	return b
}
