package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/geoip"
	"github.com/drswatch/drswatch/internal/sharedtest"
)

// fixtureSet says how a fixture file of ../shared/testdata/elastic-signinlogs
// is used (see that folder's README).
type fixtureSet string

const (
	// setA: the expected output is the current pipeline: the oracle.
	setA fixtureSet = "A"
	// setB: pull-request branches; raw input only.
	setB fixtureSet = "B"
	// setC: historical; raw input only.
	setC fixtureSet = "C"
)

// fixtureSets classifies every fixture by base name (without .log). A new
// fixture file that is not listed here fails the test, so it gets classified.
var fixtureSets = map[string]fixtureSet{
	"test-signinlogs-raw":                          setA,
	"test-non-interactive-user":                    setA,
	"test-service-principal":                       setA,
	"test-managed-identity":                        setA, // expected file only: raw line taken from event.original
	"test-alternative-time-and-duration-as-string": setA,
	"test-invalid-time":                            setA,
	"test-time-formats-corner-cases":               setA,
	"test-created-datetime-timestamp":              setB,
	"test-adfs-signin":                             setB,
	"test-signinlogs":                              setC,
	"test-signinlogs-sample":                       setC,
	"test-non-interactive-user-signin":             setC,
	"test-service-principal-signinlogs-sample":     setC,
}

// rawOnlyWant documents, per set-B/C file, what DecodeRecord must return for
// each record (their expected documents come from another pipeline
// generation and are not an oracle). All of them are sign-in categories with
// a parsable time, so each must decode with SkipNone; the per-record check of
// a few deciding fields is in rawOnlyChecks.
var rawOnlyWant = map[string][]Skip{
	// PR #20287: time is used (our default), createdDateTime is not.
	"test-created-datetime-timestamp": {SkipNone, SkipNone},
	// ADFS category is kept by the suffix rule; sessionId "" is absent.
	"test-adfs-signin": {SkipNone},
	// 2020 fixture: callerIpAddress differs from ipAddress on record 2.
	"test-signinlogs": {SkipNone, SkipNone},
	// Two Edge 97 interactive sign-ins of a Member.
	"test-signinlogs-sample": {SkipNone, SkipNone},
	// Member non-interactive sign-in with a full user agent.
	"test-non-interactive-user-signin": {SkipNone},
	// Seven service-principal sign-ins from one IP.
	"test-service-principal-signinlogs-sample": {SkipNone, SkipNone, SkipNone, SkipNone, SkipNone, SkipNone, SkipNone},
}

// rawOnlyChecks holds, per set-B/C file, field checks on its records that
// follow from the current pipeline (not from the file's expected output).
var rawOnlyChecks = map[string]func(t *testing.T, recs []Record){
	"test-created-datetime-timestamp": func(t *testing.T, recs []Record) {
		// Released pipeline: @timestamp from time, not properties.createdDateTime.
		got := recs[0].Timestamp.Format("2006-01-02T15:04:05.000Z07:00")
		require.Equal(t, "2026-07-10T20:03:31.273Z", got, "record 1 Timestamp = %s, want time (not createdDateTime)", got)
	},
	"test-adfs-signin": func(t *testing.T, recs []Record) {
		require.Equal(t, "ADFSSignInLogs", recs[0].Category)
		require.Empty(t, recs[0].SessionID, "sessionId \"\" must be absent")
		require.NotEmpty(t, recs[0].TokenSessionStatus, "token_protection_status_details.sign_in_session_status")
		_, skip := DefaultRule().Select(recs[0])
		require.Equal(t, SkipNoMatch, skip, "Select(ADFS record) = %v, want no_match", skip)
	},
	"test-signinlogs": func(t *testing.T, recs []Record) {
		// callerIpAddress (8.8.8.8) is not a fallback since PR #8813.
		require.Equal(t, "81.171.241.231", recs[1].SourceAddress, "record 2 SourceAddress")
	},
	"test-signinlogs-sample": func(t *testing.T, recs []Record) {
		for i, r := range recs {
			require.True(t, IsBrowser(r.Browser), "record %d: IsBrowser(%q) = false, want true", i+1, r.Browser)
			require.Equal(t, "Member", r.UserType, "record %d UserType", i+1)
		}
	},
}

// fixtureDir is ../shared/testdata/elastic-signinlogs beside the repository
// root: a missing folder fails the test under CI=true and skips it elsewhere.
func fixtureDir(t testing.TB) string {
	t.Helper()
	return sharedtest.Dir(t, "elastic-signinlogs")
}

// readLines returns the non-empty lines of a .log fixture.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, bytes.Clone(line))
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// readExpected returns the documents of an -expected.json file; a dropped
// record is a JSON null (nil map).
func readExpected(t testing.TB, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f struct {
		Expected []map[string]any `json:"expected"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&f), "decode %s", path)
	return f.Expected
}

// docField reads a dotted path of an expected document as the string our
// Record would hold: strings as is, booleans and numbers in their JSON
// spelling, absent as "".
func docField(doc map[string]any, path string) string {
	var cur any = doc
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	switch v := cur.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return v.String()
	case nil:
		return ""
	}
	return fmt.Sprintf("<%T>", cur)
}

// mappedField is one Record field and the Elastic field it reproduces.
type mappedField struct {
	elastic string
	get     func(Record) string
}

// mappedFields lists every field compared with Elastic's output. event.id is
// compared separately (it falls back to a hash when properties.id is absent).
var mappedFields = []mappedField{
	{"@timestamp", func(r Record) string { return r.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00") }},
	{"event.outcome", func(r Record) string { return r.Outcome }},
	{"azure.signinlogs.category", func(r Record) string { return r.Category }},
	{"azure.signinlogs.properties.user_type", func(r Record) string { return r.UserType }},
	{"azure.signinlogs.identity", func(r Record) string { return r.Identity }},
	{"azure.signinlogs.properties.user_principal_name", func(r Record) string { return r.UPN }},
	{"source.address", func(r Record) string { return r.SourceAddress }},
	{"azure.signinlogs.properties.app_id", func(r Record) string { return r.AppID }},
	{"azure.signinlogs.properties.resource_id", func(r Record) string { return r.ResourceID }},
	{"azure.signinlogs.properties.session_id", func(r Record) string { return r.SessionID }},
	{"azure.signinlogs.properties.device_detail.browser", func(r Record) string { return r.Browser }},
	{"azure.signinlogs.properties.user_display_name", func(r Record) string { return r.UserDisplayName }},
	{"azure.signinlogs.properties.unique_token_identifier", func(r Record) string { return r.UniqueTokenIdentifier }},
	{"geo.city_name", func(r Record) string { return r.City }},
	{"geo.region_name", func(r Record) string { return r.Region }},
	{"azure.signinlogs.properties.authentication_protocol", func(r Record) string { return r.AuthenticationProtocol }},
	{"azure.signinlogs.properties.authentication_requirement", func(r Record) string { return r.AuthenticationRequirement }},
	{"azure.signinlogs.properties.is_interactive", func(r Record) string { return r.IsInteractive }},
	{"azure.signinlogs.properties.incoming_token_type", func(r Record) string { return r.IncomingTokenType }},
	{"azure.signinlogs.properties.token_protection_status_details.sign_in_session_status", func(r Record) string { return r.TokenSessionStatus }},
	{"azure.signinlogs.properties.app_display_name", func(r Record) string { return r.AppDisplayName }},
	{"azure.signinlogs.properties.resource_display_name", func(r Record) string { return r.ResourceDisplayName }},
	{"azure.signinlogs.properties.app_owner_tenant_id", func(r Record) string { return r.AppOwnerTenantID }},
	{"azure.signinlogs.properties.resource_owner_tenant_id", func(r Record) string { return r.ResourceOwnerTenantID }},
	{"azure.signinlogs.properties.conditional_access_status", func(r Record) string { return r.ConditionalAccessStatus }},
	{"azure.signinlogs.properties.risk_state", func(r Record) string { return r.RiskState }},
	{"azure.signinlogs.properties.risk_level_aggregated", func(r Record) string { return r.RiskLevelAggregated }},
	{"azure.signinlogs.properties.device_detail.operating_system", func(r Record) string { return r.OperatingSystem }},
	{"user_agent.original", func(r Record) string { return r.UserAgent }},
}

// geoFields are the alert's Elastic fields that come from the pipeline's
// two geoip processors, with the value list Merge fills from them. They are
// compared using the test databases Elastic's pipeline tests ran with
// (../shared/testdata/elastic-geoip), an absent field as an empty list.
var geoFields = []struct {
	elastic string
	col     Column
}{
	{"source.geo.city_name", ColSourceCities},
	{"source.geo.region_name", ColSourceRegions},
	{"source.geo.country_name", ColSourceCountries},
	{"source.as.organization.name", ColSourceAsOrganizations},
}

// elasticGeoValues is how many GeoIP and ASN values Elastic's set-A
// fixtures hold (present or absent): 21 records, four fields each.
const elasticGeoValues = 84

// testGeo opens the test databases as production does (package geoip).
func testGeo(t *testing.T) *Geo {
	t.Helper()
	dbs := sharedtest.GeoIP(t)
	city, err := geoip.Open(dbs.City, geoip.KindCity)
	require.NoError(t, err)
	asn, err := geoip.Open(dbs.ASN, geoip.KindASN)
	require.NoError(t, err)
	t.Cleanup(func() { city.Close(); asn.Close() })
	return &Geo{City: city.City, ASOrganization: asn.ASOrganization}
}

// expectedSkip maps an expected document to the Skip DecodeRecord must
// return: a dropped record (null document) is SkipNotSignIn, a pipeline
// error is the Skip of the failing step, anything else SkipNone.
func expectedSkip(t testing.TB, doc map[string]any) Skip {
	t.Helper()
	if doc == nil {
		return SkipNotSignIn
	}
	if docField(doc, "event.kind") != "pipeline_error" {
		return SkipNone
	}
	msg, _ := json.Marshal(doc["error"])
	switch s := string(msg); {
	case strings.Contains(s, "date_azure_signinlogs_time"), strings.Contains(s, "'date'"):
		return SkipBadTime
	case strings.Contains(s, "json_message"), strings.Contains(s, "'json'"):
		return SkipNotJSON
	default:
		t.Fatalf("pipeline error %s has no Skip mapping yet", s)
		return SkipNone
	}
}

func TestConformanceElasticFixtures(t *testing.T) {
	dir := fixtureDir(t)
	geo := testGeo(t)

	logs, err := filepath.Glob(filepath.Join(dir, "test-*.log"))
	require.NoError(t, err)
	exps, err := filepath.Glob(filepath.Join(dir, "test-*.log-expected.json"))
	require.NoError(t, err)
	bases := map[string]bool{}
	for _, p := range logs {
		bases[strings.TrimSuffix(filepath.Base(p), ".log")] = true
	}
	for _, p := range exps {
		bases[strings.TrimSuffix(filepath.Base(p), ".log-expected.json")] = true
	}
	names := make([]string, 0, len(bases))
	for b := range bases {
		names = append(names, b)
	}
	slices.Sort(names)
	require.NotEmpty(t, names, "no fixtures in %s", dir)

	var records, fields, geoCompared, geoPresent int
	for _, base := range names {
		set, ok := fixtureSets[base]
		require.True(t, ok, "fixture %s is not classified in fixtureSets (set A, B or C; see the folder README)", base)
		t.Run(base, func(t *testing.T) {
			logPath := filepath.Join(dir, base+".log")
			expPath := logPath + "-expected.json"
			if set != setA {
				lines := readLines(t, logPath)
				want, ok := rawOnlyWant[base]
				require.True(t, ok, "set %s fixture %s has no rawOnlyWant entry", set, base)
				require.Len(t, lines, len(want), "records in %s", base)
				recs := make([]Record, len(lines))
				for i, line := range lines {
					var (
						rec  Record
						skip Skip
					)
					require.NotPanics(t, func() { rec, skip = DecodeRecord(line) }, "record %d", i+1)
					require.Equal(t, want[i], skip, "DecodeRecord(%s record %d) skip = %v, want %v", base, i+1, skip, want[i])
					require.NotEmpty(t, rec.ID, "record %d: ID", i+1)
					require.False(t, rec.Timestamp.IsZero(), "record %d: Timestamp", i+1)
					require.Equal(t, rec.Timestamp, rec.Timestamp.UTC().Truncate(1e6), "record %d: Timestamp UTC ms", i+1)
					require.Contains(t, []string{"success", "failure"}, rec.Outcome, "record %d: Outcome", i+1)
					recs[i] = rec
					records++
				}
				if check := rawOnlyChecks[base]; check != nil {
					check(t, recs)
				}
				t.Logf("set %s: %d raw records decoded (expected output not used as oracle)", set, len(lines))
				return
			}

			docs := readExpected(t, expPath)
			var lines [][]byte
			if _, err := os.Stat(logPath); err == nil {
				lines = readLines(t, logPath)
			} else {
				// The raw line is preserved as event.original.
				for i, d := range docs {
					orig := docField(d, "event.original")
					require.NotEmpty(t, orig, "%s document %d: no .log and no event.original", base, i+1)
					lines = append(lines, []byte(orig))
				}
				t.Logf("%s.log absent: raw records taken from event.original", base)
			}
			require.Len(t, docs, len(lines), "documents in %s", filepath.Base(expPath))

			for i, line := range lines {
				doc := docs[i]
				rec, skip := DecodeRecord(line)
				wantSkip := expectedSkip(t, doc)
				require.Equal(t, wantSkip, skip, "DecodeRecord(%s record %d) skip = %v, want %v", base, i+1, skip, wantSkip)
				records++
				if skip != SkipNone {
					continue
				}
				for _, f := range mappedFields {
					got, want := f.get(rec), docField(doc, f.elastic)
					require.Equal(t, want, got, "%s record %d: %s = %q, want %q", base, i+1, f.elastic, got, want)
					fields++
				}
				// event.id: properties.id, or our hash when absent.
				if want := docField(doc, "event.id"); want != "" {
					require.Equal(t, want, rec.ID, "%s record %d: event.id = %q, want %q", base, i+1, rec.ID, want)
				} else {
					require.True(t, strings.HasPrefix(rec.ID, "sha256:"), "%s record %d: ID without event.id = %q, want sha256: fallback", base, i+1, rec.ID)
					again, _ := DecodeRecord(line)
					require.Equal(t, rec.ID, again.ID, "%s record %d: fallback ID not stable", base, i+1)
				}
				fields++
				// GeoIP and ASN: what Merge puts in the location and AS lists
				// for this record, with the databases Elastic used.
				k, _ := DefaultRule().Select(rec)
				g := NewGroup(k)
				g.Merge(rec, geo)
				for _, f := range geoFields {
					var want []string
					if v := docField(doc, f.elastic); v != "" {
						want = []string{v}
						geoPresent++
					}
					require.Equal(t, want, g.Values[f.col], "%s record %d (%s): %s", base, i+1, rec.SourceAddress, f.elastic)
					geoCompared++
				}
				require.Equal(t, GeoSourceGeoIP, g.GeoSource())
			}
		})
	}
	t.Logf("conformance: %d fixture records decoded, %d field values and %d GeoIP/ASN values (%d present, the rest absent in both) compared with set-A expected documents, 0 skipped", records, fields, geoCompared, geoPresent)
	require.Equal(t, elasticGeoValues, geoCompared, "GeoIP/ASN values compared; a new set-A fixture changes this count")
}
