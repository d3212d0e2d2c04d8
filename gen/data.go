package gen

// Catalogues the generator draws from. Every string here is plain ASCII or
// UTF-8 without quotes or backslashes, so it can be written into JSON as is
// (appendString still escapes defensively).

// Well-known first-party application and resource ids.
const (
	appMAB     = "29d9ed98-a469-4536-ade2-f981bc1d605e" // Microsoft Authentication Broker
	resDRS     = "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9" // Device Registration Service
	nameMAB    = "Microsoft Authentication Broker"
	nameDRS    = "Device Registration Service"
	msTenant   = "f8cdef31-a31e-4b4a-93e4-5f571e91255a" // Microsoft Services tenant
	tenantID   = "4d3c2b1a-1111-4222-8333-944455556666"
	tenantName = "contoso.example"
)

type app struct{ id, name string }

// pair is an app signing in to a resource, with a relative weight.
type pair struct {
	app, res app
	weight   int
	// nonInteractiveOnly apps never show an interactive browser sign-in.
	client string // clientAppUsed
}

var (
	appTeams     = app{"1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"}
	appOffice    = app{"4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"}
	appOutlook   = app{"d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"}
	appOWA       = app{"00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"}
	appPortal    = app{"c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal"}
	appAzCLI     = app{"04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Microsoft Azure CLI"}
	appGraphEx   = app{"de8bc8b5-d9f9-48b1-a8ad-b748da725064", "Graph Explorer"}
	appOneDrive  = app{"ab9b8c07-8f02-4f72-87fa-80105867a763", "OneDrive SyncEngine"}
	appWinSignIn = app{"38aa3b87-a06d-4817-b275-7a316988d93b", "Windows Sign In"}
	appCompany   = app{"9ba1a5c7-f17a-4de9-a1f1-6178c8d51223", "Microsoft Intune Company Portal"}
	appMABApp    = app{appMAB, nameMAB}
	appSPO       = app{"08e18876-6177-487e-b8b5-cf950c1e598c", "SharePoint Online Web Client Extensibility"}

	resGraph   = app{"00000003-0000-0000-c000-000000000000", "Microsoft Graph"}
	resEXO     = app{"00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"}
	resSPO     = app{"00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"}
	resTeams   = app{"cc15fd57-2c6c-4117-a88c-83b1d56b4bbe", "Microsoft Teams Services"}
	resARM     = app{"797f4846-ba00-4fd7-ba43-dac1f8f63013", "Windows Azure Service Management API"}
	resAAD     = app{"00000002-0000-0000-c000-000000000000", "Windows Azure Active Directory"}
	resDRSApp  = app{resDRS, nameDRS}
	resIntune  = app{"0000000a-0000-0000-c000-000000000000", "Microsoft Intune"}
	resSubstr  = app{"fc780465-2017-40d4-a0c5-307022471b92", "WindowsDefenderATP"}
	resOneNote = app{"2d4d3d8e-2be3-4bef-9f87-7875a61c29de", "OneNote"}
)

// userPairs are the user sign-ins of ordinary traffic. The MAB -> DRS pair
// is deliberately absent: it only comes from planned scenarios.
var userPairs = []pair{
	{appTeams, resTeams, 18, "Mobile Apps and Desktop clients"},
	{appTeams, resGraph, 10, "Mobile Apps and Desktop clients"},
	{appOutlook, resEXO, 14, "Mobile Apps and Desktop clients"},
	{appOutlook, resSPO, 6, "Mobile Apps and Desktop clients"},
	{appOffice, resGraph, 8, "Browser"},
	{appOWA, resEXO, 6, "Browser"},
	{appSPO, resSPO, 6, "Browser"},
	{appOneDrive, resSPO, 8, "Mobile Apps and Desktop clients"},
	{appPortal, resARM, 3, "Browser"},
	{appAzCLI, resARM, 2, "Mobile Apps and Desktop clients"},
	{appGraphEx, resGraph, 1, "Browser"},
	{appMABApp, resGraph, 4, "Mobile Apps and Desktop clients"}, // MAB, but not to DRS
	{appMABApp, resAAD, 2, "Mobile Apps and Desktop clients"},
	{appWinSignIn, resDRSApp, 2, "Mobile Apps and Desktop clients"}, // DRS, but not from MAB
	{appCompany, resIntune, 2, "Mobile Apps and Desktop clients"},
	{appOffice, resOneNote, 1, "Browser"},
}

// servicePrincipals sign in with client credentials.
var servicePrincipals = []app{
	{"6c4e2a2b-7e3f-4f4f-9b1a-0a1b2c3d4e5f", "contoso-backup-automation"},
	{"0f3a9d8e-1b2c-4d5e-8f90-a1b2c3d4e5f6", "hr-sync-connector"},
	{"a7b8c9d0-e1f2-4a3b-9c4d-5e6f7a8b9c0d", "ci-deploy-pipeline"},
	{"3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7", "sentinel-playbook-runner"},
}

var spResources = []app{resGraph, resARM, resSubstr, resEXO}

// managedIdentities sign in from inside Azure, without an ipAddress.
var managedIdentities = []app{
	{"5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "func-drswatch-prod"},
	{"9a8b7c6d-5e4f-4d3c-a2b1-0f9e8d7c6b5a", "vm-jumphost-weu"},
	{"1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e", "logic-invoice-ingest"},
}

// client is a user agent with the browser Entra derives from it.
type client struct {
	ua, browser, os string
	weight          int
	mobile          bool
}

var clients = []client{
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge 131.0.0", "Windows10", 14, false},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36 Edg/138.0.0.0", "Edge 138.0.0", "Windows10", 10, false},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36", "Chrome 139.0.0", "Windows10", 10, false},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36", "Chrome 138.0.0", "MacOs", 5, false},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15", "Safari 18.5", "MacOs", 4, false},
	{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:141.0) Gecko/20100101 Firefox/141.0", "Firefox 141.0", "Linux", 2, false},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox 128.0", "Windows10", 2, false},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1", "Mobile Safari 18.5", "Ios", 5, true},
	{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36", "Samsung Internet 27.0", "Android", 2, true},
	{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36", "Chrome Mobile 138.0.0", "Android", 3, true},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 Teams/25153.1010.3727.5483", "Rich Client 25153.1010.3727.5483", "Windows10", 10, false},
	{"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18925; Pro)", "Rich Client 16.0.18925.20076", "Windows10", 10, false},
	{"Windows-AzureAD-Authentication-Provider/1.0", "Rich Client 4.66.0.0", "Windows10", 5, false},
	{"Outlook-iOS/2.0", "Rich Client 4.9.1", "Ios", 3, true},
	{"", "", "", 4, false},
}

var clientTotal = func() int {
	n := 0
	for _, c := range clients {
		n += c.weight
	}
	return n
}()

var pairTotal = func() int {
	n := 0
	for _, p := range userPairs {
		n += p.weight
	}
	return n
}()

// place is a sign-in location as Entra reports it.
type place struct {
	city, state, country string
	lat, lon             float64
}

var homePlaces = []place{
	{"Amsterdam", "Noord-Holland", "NL", 52.37, 4.89},
	{"Rotterdam", "Zuid-Holland", "NL", 51.92, 4.48},
	{"Berlin", "Berlin", "DE", 52.52, 13.405},
	{"Hannover", "Niedersachsen", "DE", 52.3759, 9.732},
	{"Paris", "Paris", "FR", 48.8566, 2.3522},
	{"Madrid", "Madrid", "ES", 40.4168, -3.7038},
	{"London", "England", "GB", 51.5072, -0.1276},
	{"Dublin", "Dublin", "IE", 53.3498, -6.2603},
	{"Seattle", "Washington", "US", 47.6062, -122.3321},
	{"Austin", "Texas", "US", 30.2672, -97.7431},
	{"Toronto", "Ontario", "CA", 43.6532, -79.3832},
	{"Stockholm", "Stockholms Lan", "SE", 59.3293, 18.0686},
	{"Warszawa", "Mazowieckie", "PL", 52.2297, 21.0122},
	{"Zurich", "Zurich", "CH", 47.3769, 8.5417},
}

// attackerPlaces host the infrastructure the phishing kit replays tokens from.
var attackerPlaces = []place{
	{"Frankfurt am Main", "Hessen", "DE", 50.1109, 8.6821},
	{"Ashburn", "Virginia", "US", 39.0438, -77.4874},
	{"Bucharest", "Bucuresti", "RO", 44.4268, 26.1025},
	{"Singapore", "Singapore", "SG", 1.3521, 103.8198},
	{"Lagos", "Lagos", "NG", 6.5244, 3.3792},
	{"Sao Paulo", "Sao Paulo", "BR", -23.5505, -46.6333},
}

// attackerClients are the scripted clients that redeem the phished code.
var attackerClients = []client{
	{"python-requests/2.32.3", "", "", 1, false},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) WindowsPowerShell/5.1.26100.4061", "", "Windows", 1, false},
	{"Windows-AzureAD-Authentication-Provider/1.0", "Rich Client 4.66.0.0", "Windows10", 1, false},
	{"axios/1.7.9", "", "", 1, false},
	{"Go-http-client/2.0", "", "", 1, false},
}

var firstNames = []string{"Ana", "Ben", "Chloe", "Daan", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas",
	"Kai", "Lena", "Malik", "Noor", "Olivia", "Pieter", "Quinn", "Rosa", "Sven", "Tara",
	"Umar", "Vera", "Wout", "Xenia", "Yusuf", "Zoe", "Jürgen", "Zoë", "Siobhán", "Łukasz",
	"Mei", "Arjun", "Sofia", "Mateo", "Aylin", "Ole", "Nadia", "Tomasz", "Claire", "Ravi"}

var lastNames = []string{"Garcia", "de Vries", "Jansen", "Müller", "Schmidt", "Dubois", "Martin", "Smith",
	"Jones", "Nowak", "Kowalski", "Andersson", "Berg", "Rossi", "Bianchi", "Silva", "Santos", "Kim",
	"Nguyen", "Patel", "Khan", "Yilmaz", "Murphy", "Walsh", "Bakker", "Visser", "Meyer", "Wagner",
	"Fischer", "Lopez", "Hernandez", "Okafor", "Adeyemi", "Tanaka", "Sato", "Chen", "Li", "Novak", "Horvat", "Eriksen"}

var guestDomains = []string{"fabrikam.example", "northwind.example", "adatum.example", "tailspin.example"}

// failure is a sign-in error Entra reports.
type failure struct {
	code           int
	reason, detail string
}

var failures = []failure{
	{50126, "Error validating credentials due to invalid username or password.", "The user didn't enter the right credentials."},
	{50140, "This error occurred due to 'Keep me signed in' interrupt when the user was signing-in.", "This is an expected part of the login flow, where a user is asked if they want to remain signed into this browser."},
	{50074, "Strong Authentication is required.", "The user is required to complete multi-factor authentication."},
	{50076, "Due to a configuration change made by your administrator, you must use multi-factor authentication.", "MFA required in Azure AD"},
	{70044, "The session has expired or is invalid due to sign-in frequency checks by conditional access.", "The user's session has expired."},
	{700082, "The refresh token has expired due to inactivity.", "The token was issued and was inactive for a period of time."},
	{53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", "The user is blocked by a Conditional Access policy."},
	{500121, "Authentication failed during strong authentication request.", "The user didn't complete the MFA prompt."},
	{50097, "Device authentication is required.", "Device authentication is required."},
	{65001, "The user or administrator has not consented to use the application.", "Consent required."},
}

// policy is a conditional access policy of the tenant.
type policy struct {
	id, name string
	grant    []string
	session  []string
}

var policies = []policy{
	{"0b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4", "CA001 - Require MFA for all users", []string{"Mfa"}, nil},
	{"1c8f2d3e-4a5b-4c6d-9e7f-8091a2b3c4d5", "CA002 - Block legacy authentication", []string{"Block"}, nil},
	{"2d9a3e4f-5b6c-4d7e-af80-91a2b3c4d5e6", "CA003 - Require compliant or hybrid joined device", []string{"RequireCompliantDevice", "RequireDomainJoinedDevice"}, nil},
	{"3eab4f5a-6c7d-4e8f-b091-a2b3c4d5e6f7", "CA004 - Sign-in frequency for unmanaged devices", nil, []string{"SignInFrequency", "PersistentBrowserSessionMode"}},
	{"4fbc5a6b-7d8e-4f90-81a2-b3c4d5e6f708", "CA005 - Require MFA for admins", []string{"Mfa"}, nil},
	{"50cd6b7c-8e9f-4a01-92b3-c4d5e6f70819", "CA006 - MFA für Gäste", []string{"Mfa"}, nil},
	{"61de7c8d-9fa0-4b12-a3c4-d5e6f708192a", "CA007 - Block high sign-in risk", []string{"Block"}, nil},
	{"72ef8d9e-a0b1-4c23-b4d5-e6f708192a3b", "CA008 - Require app protection policy on mobile", []string{"RequireApprovedApp", "RequireCompliantApp"}, nil},
	{"83f09eaf-b1c2-4d34-85e6-f708192a3b4c", "CA009 - Token protection for Exchange and SharePoint", nil, []string{"SecureSignInSession"}},
}

var policyResults = []string{"success", "notApplied", "notApplied", "notApplied", "notEnabled", "reportOnlyNotApplied", "reportOnlySuccess"}

type auditOp struct{ op, category, service, target string }

// auditOps are the other audit operations, drawn uniformly.
var auditOps = []auditOp{
	{"Update user", "UserManagement", "Core Directory", "User"},
	{"Add member to group", "GroupManagement", "Core Directory", "Group"},
	{"Consent to application", "ApplicationManagement", "Core Directory", "ServicePrincipal"},
	{"Reset password (self-service)", "UserManagement", "Self-service Password Management", "User"},
	{"User registered security info", "UserManagement", "Authentication Methods", "User"},
}

// The device operations (Config.DeviceOpShare): a registration's two
// records, drawn evenly, and Update device by Core Directory.
var (
	registrationOps = []auditOp{
		{"Register device", "Device", "Device Registration Service", "Device"},
		{"Add registered owner to device", "Device", "Core Directory", "Device"},
	}
	updateDeviceOp = auditOp{"Update device", "Device", "Core Directory", "Device"}
)
