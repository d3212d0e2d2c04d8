// Package bicep_test checks infra/bicep against the code it deploys: the
// settings internal/config reads, the function folders and their bindings,
// the alerts table schema, the data-plane roles the code needs, and the
// deploy commands in the README's Deploy section. No Bicep compiler is available here, so
// the .bicep files are read as text with small, line-based parsing; the
// files keep the shapes these tests rely on (one `var appSettings = {`
// block, one `var roles = {` block, and so on).
package bicep_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drswatch/drswatch/internal/config"
)

// root is the repository root, relative to this package's directory.
const root = "../.."

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// objectBlock returns the top-level `key: value` pairs of the Bicep object
// that starts at the line `header` (e.g. "var appSettings = {") and ends at
// the next line that is exactly "}". Comment lines are skipped; values are
// the raw expression text.
func objectBlock(t *testing.T, src, header string) map[string]string {
	t.Helper()
	lines := strings.Split(src, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.TrimRight(l, " \r") == header })
	if start < 0 {
		t.Fatalf("no %q block", header)
	}
	keyRE := regexp.MustCompile(`^  ([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.+?)\s*$`)
	out := map[string]string{}
	for _, l := range lines[start+1:] {
		l = strings.TrimRight(l, "\r")
		if l == "}" {
			return out
		}
		if strings.HasPrefix(strings.TrimSpace(l), "//") {
			continue
		}
		if m := keyRE.FindStringSubmatch(l); m != nil {
			if _, dup := out[m[1]]; dup {
				t.Fatalf("%q: key %s set twice", header, m[1])
			}
			out[m[1]] = m[2]
		}
	}
	t.Fatalf("%q block is not closed", header)
	return nil
}

// appSettings returns the Function App's settings, from main.bicep.
func appSettings(t *testing.T) map[string]string {
	return objectBlock(t, read(t, "infra/bicep/main.bicep"), "var appSettings = {")
}

type binding struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	EventHubName  string `json:"eventHubName"`
	ConsumerGroup string `json:"consumerGroup"`
	Connection    string `json:"connection"`
}

// functionFolders returns the folders at the repository root that hold a
// function.json, with their bindings.
func functionFolders(t *testing.T) map[string][]binding {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(root, "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]binding{}
	for _, m := range matches {
		var fj struct {
			Bindings []binding `json:"bindings"`
		}
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &fj); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		out[filepath.Base(filepath.Dir(m))] = fj.Bindings
	}
	if len(out) == 0 {
		t.Fatal("no function.json found")
	}
	return out
}

var percentRE = regexp.MustCompile(`^%([A-Za-z0-9_]+)%$`)

// bindingSettings returns the app settings function.json reads: %NAME%
// references (mapped to the binding field they fill) and connection prefixes.
func bindingSettings(t *testing.T) (percent map[string]string, connections []string) {
	percent = map[string]string{}
	for _, bs := range functionFolders(t) {
		for _, b := range bs {
			for field, v := range map[string]string{"eventHubName": b.EventHubName, "consumerGroup": b.ConsumerGroup} {
				if m := percentRE.FindStringSubmatch(v); m != nil {
					percent[m[1]] = field
				}
			}
			if b.Connection != "" && !slices.Contains(connections, b.Connection) {
				connections = append(connections, b.Connection)
			}
		}
	}
	return percent, connections
}

// Settings the Functions host reads for identity-based connections
// (<prefix>__<suffix>), and the Application Insights settings.
var (
	identitySuffixes = []string{"accountName", "fullyQualifiedNamespace", "credential", "clientId", "blobServiceUri", "queueServiceUri", "tableServiceUri"}
	hostSettings     = []string{"APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"}
	// Set by the host or local-only: never an app setting.
	neverSet = []string{config.EnvPort, config.EnvTableConnection, "AzureWebJobsStorage"}
	// Flex takes the runtime from functionAppConfig.runtime and the package
	// from functionAppConfig.deployment; the Functions app settings reference
	// ("Flex Consumption plan deprecations") lists these as not to be used.
	flexRejected = []string{"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_WORKER_RUNTIME_VERSION", "FUNCTIONS_EXTENSION_VERSION",
		"WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_CONTENTSHARE",
		"SCM_DO_BUILD_DURING_DEPLOYMENT", "ENABLE_ORYX_BUILD"}
)

func TestDeployedSettingsAreSet(t *testing.T) {
	common := appSettings(t)
	for _, s := range config.Settings {
		if !s.Deployed {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			if _, ok := common[s.Name]; !ok {
				t.Errorf("config.Settings marks %s Deployed, but main.bicep's appSettings does not set it", s.Name)
			}
		})
	}
}

func TestEverySettingIsRead(t *testing.T) {
	common := appSettings(t)
	percent, connections := bindingSettings(t)
	configNames := map[string]bool{}
	for _, s := range config.Settings {
		configNames[s.Name] = true
	}
	readBy := func(name string) string {
		switch {
		case configNames[name]:
			return "internal/config"
		case percent[name] != "":
			return "function.json %" + name + "%"
		case slices.Contains(hostSettings, name):
			return "Functions host (Application Insights)"
		}
		prefix, suffix, ok := strings.Cut(name, "__")
		if ok && slices.Contains(identitySuffixes, suffix) {
			if prefix == "AzureWebJobsStorage" {
				return "Functions host storage"
			}
			if slices.Contains(connections, prefix) {
				return "function.json connection " + prefix
			}
		}
		return ""
	}
	for name := range common {
		t.Run(name, func(t *testing.T) {
			if slices.Contains(neverSet, name) {
				t.Fatalf("%s must not be an app setting", name)
			}
			if slices.Contains(flexRejected, name) {
				t.Fatalf("%s is set; Flex Consumption takes it from functionAppConfig and rejects the setting", name)
			}
			if readBy(name) == "" {
				t.Errorf("app setting %s is read by nothing (not in config.Settings, function.json or the host's settings)", name)
			}
		})
	}
	if strings.Contains(read(t, "infra/bicep/main.bicep"), "premiumAppSettings") {
		t.Error("main.bicep has premiumAppSettings; Elastic Premium is not offered (README, Deploy)")
	}
	// The module must take its settings only from main.bicep's object.
	fa := read(t, "infra/bicep/modules/functionapp.bicep")
	if !regexp.MustCompile(`appSettings: \[for \w+ in items\(appSettings\)`).MatchString(fa) {
		t.Error("functionapp.bicep must build siteConfig.appSettings from the appSettings parameter only")
	}
	if n := strings.Count(fa, "appSettings:"); n != 1 {
		t.Errorf("functionapp.bicep has %d appSettings properties; want 1 (from the parameter)", n)
	}
}

func TestFunctionFoldersAndBindings(t *testing.T) {
	folders := functionFolders(t)
	main := read(t, "infra/bicep/main.bicep")

	// var functionNames = [ 'SignInLogs' ... ] in main.bicep.
	block := regexp.MustCompile(`(?s)\nvar functionNames = \[(.*?)\n\]`).FindStringSubmatch(main)
	if block == nil {
		t.Fatal("main.bicep: no `var functionNames = [` list")
	}
	var bicepNames []string
	for _, m := range regexp.MustCompile(`'([^']+)'`).FindAllStringSubmatch(block[1], -1) {
		bicepNames = append(bicepNames, m[1])
	}
	var folderNames []string
	for f := range folders {
		folderNames = append(folderNames, f)
	}
	slices.Sort(folderNames)
	slices.Sort(bicepNames)
	if !slices.Equal(folderNames, bicepNames) {
		t.Errorf("function folders %v, main.bicep functionNames %v", folderNames, bicepNames)
	}

	// make package must ship every function folder.
	mk := read(t, "Makefile")
	cp := regexp.MustCompile(`(?m)^\tcp -r (.+) dist/app/\s*$`).FindStringSubmatch(mk)
	if cp == nil {
		t.Fatal("Makefile package: no `cp -r ... dist/app/` line")
	}
	for _, f := range folderNames {
		if !slices.Contains(strings.Fields(cp[1]), f) {
			t.Errorf("Makefile package does not copy function folder %s", f)
		}
	}

	common := appSettings(t)
	percent, connections := bindingSettings(t)
	// What each binding setting must be bound to in main.bicep.
	want := map[string]string{
		"eventHubName":  "eventHubs.outputs.hubName",
		"consumerGroup": "eventHubs.outputs.consumerGroupName",
	}
	if len(percent) == 0 {
		t.Fatal("no %SETTING% references in function.json files")
	}
	for name, field := range percent {
		t.Run(name, func(t *testing.T) {
			got, ok := common[name]
			switch {
			case !ok:
				t.Errorf("function.json %s reads %%%s%%; main.bicep does not set it", field, name)
			case got != want[field]:
				t.Errorf("%s = %s; want %s (the %s the Bicep deploys)", name, got, want[field], field)
			}
		})
	}
	if len(connections) == 0 {
		t.Fatal("no binding connection in function.json files")
	}
	for _, c := range connections {
		t.Run(c, func(t *testing.T) {
			name := c + "__fullyQualifiedNamespace"
			if got := common[name]; got != "eventHubs.outputs.fullyQualifiedNamespace" {
				t.Errorf("%s = %q; want eventHubs.outputs.fullyQualifiedNamespace (identity connection of function.json %q)", name, got, c)
			}
			if _, ok := common[c]; ok {
				t.Errorf("%s is set as a connection string; use the identity prefix %s__*", c, c)
			}
		})
	}
}

type alertsSchema struct {
	Table   string `json:"table"`
	Stream  string `json:"stream"`
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
}

func TestAlertsTableFromSchemaFile(t *testing.T) {
	var schema alertsSchema
	if err := json.Unmarshal([]byte(read(t, "schema/alerts.json")), &schema); err != nil {
		t.Fatal(err)
	}
	loadRE := regexp.MustCompile(`loadJsonContent\('([^']+)'\)`)
	cases := []struct {
		file string
		must []string // expressions that must appear
	}{
		{"infra/bicep/modules/dcr.bicep", []string{
			`'${schema.stream}': {`, `for c in schema.columns`, `type: c.type`, `schema.stream`, `outputStream: 'Custom-${tableName}'`,
		}},
		{"infra/bicep/modules/loganalytics.bicep", []string{
			`name: schema.table`, `for c in schema.columns`, `type: c.type == 'datetime' ? 'dateTime' : c.type`, `columns: tableColumns`,
		}},
		{"infra/bicep/main.bicep", []string{`DRSWATCH_LOGS_STREAM: schema.stream`}},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			src := read(t, tc.file)
			m := loadRE.FindAllStringSubmatch(src, -1)
			if len(m) != 1 {
				t.Fatalf("want exactly one loadJsonContent, got %d", len(m))
			}
			got, err := filepath.Abs(filepath.Join(root, filepath.Dir(tc.file), m[0][1]))
			if err != nil {
				t.Fatal(err)
			}
			wantPath, _ := filepath.Abs(filepath.Join(root, "schema/alerts.json"))
			if got != wantPath {
				t.Errorf("loadJsonContent(%q) resolves to %s, want schema/alerts.json", m[0][1], got)
			}
			for _, s := range tc.must {
				if !strings.Contains(src, s) {
					t.Errorf("missing %q", s)
				}
			}
			// No hard-coded names: no column declared by name, no literal table or stream name.
			for _, c := range schema.Columns {
				if regexp.MustCompile(`name:\s*'` + c.Name + `'`).MatchString(src) {
					t.Errorf("column %s is hard-coded; derive columns from the schema file", c.Name)
				}
			}
			for _, lit := range []string{"'" + schema.Table + "'", "'" + schema.Stream + "'", "'Custom-" + schema.Table + "'"} {
				if strings.Contains(src, lit) {
					t.Errorf("literal %s is hard-coded; use the schema file", lit)
				}
			}
		})
	}
	// The Go default stream (used when DRSWATCH_LOGS_STREAM is unset) must be the schema's.
	for _, s := range config.Settings {
		if s.Name == config.EnvLogsStream && s.Default != schema.Stream {
			t.Errorf("config default %s=%q, schema stream %q", s.Name, s.Default, schema.Stream)
		}
	}
	// Every schema type must be one the DCR accepts, and map to a table type.
	streamTypes := []string{"string", "int", "long", "real", "boolean", "dynamic", "datetime"}
	for _, c := range schema.Columns {
		if !slices.Contains(streamTypes, c.Type) {
			t.Errorf("column %s: type %q is not a DCR stream type", c.Name, c.Type)
		}
	}
}

// roleAssignment is one Microsoft.Authorization/roleAssignments resource.
type roleAssignment struct {
	symbol, roleKey, scopeType string
}

func TestRoleAssignments(t *testing.T) {
	src := read(t, "infra/bicep/modules/roles.bicep")
	guids := objectBlock(t, src, "var roles = {")

	// Resource blocks: `resource sym 'Type@ver' [existing ]= {` ... `}`.
	blockRE := regexp.MustCompile(`(?ms)^resource (\w+) '([^'@]+)@[^']+'( existing)? = \{\n(.*?)^\}`)
	types := map[string]string{}
	var got []roleAssignment
	for _, m := range blockRE.FindAllStringSubmatch(src, -1) {
		sym, typ, body := m[1], m[2], m[4]
		types[sym] = typ
		if typ != "Microsoft.Authorization/roleAssignments" {
			continue
		}
		scope := regexp.MustCompile(`(?m)^\s+scope: (\w+)\s*$`).FindStringSubmatch(body)
		role := regexp.MustCompile(`roleDefinitionId: subscriptionResourceId\('Microsoft.Authorization/roleDefinitions', roles\.(\w+)\)`).FindStringSubmatch(body)
		if scope == nil || role == nil {
			t.Fatalf("role assignment %s: no `scope: x` or roleDefinitionId from roles.<key>", sym)
		}
		if !strings.Contains(body, "principalId: principalId") || !strings.Contains(body, "principalType: 'ServicePrincipal'") {
			t.Errorf("role assignment %s: not for the app's managed identity (principalId/principalType)", sym)
		}
		got = append(got, roleAssignment{sym, role[1], types[scope[1]]})
		if types[scope[1]] == "" {
			t.Errorf("role assignment %s: scope %s is not a resource declared before it", sym, scope[1])
		}
	}

	// Every data-plane access the code (or the host on its behalf) makes.
	want := []struct {
		role, guid, scopeType, why string
	}{
		{"Azure Event Hubs Data Receiver", "a638d3c7-ab3a-418d-83e6-5f17a39d4fde", "Microsoft.EventHub/namespaces/eventhubs", "SignInLogs trigger (SigninHub__fullyQualifiedNamespace)"},
		{"Storage Blob Data Owner", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Microsoft.Storage/storageAccounts", "host storage + Flex deployment container"},
		{"Storage Queue Data Contributor", "974c5e8b-45b9-4653-ba55-5f855dd0fb88", "Microsoft.Storage/storageAccounts", "host storage"},
		{"Storage Table Data Contributor", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", "Microsoft.Storage/storageAccounts/tableServices/tables", "DRSWATCH_TABLE_NAME state table (made by the template), that table only"},
		{"Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Microsoft.Storage/storageAccounts/blobServices/containers", "DRSWATCH_DEADLETTER_CONTAINER, that container only"},
		{"Monitoring Metrics Publisher", "3913510d-42f4-4e42-8a64-420c390055eb", "Microsoft.Insights/dataCollectionRules", "DRSWATCH_LOGS_RULE_ID ingestion"},
		{"Monitoring Metrics Publisher", "3913510d-42f4-4e42-8a64-420c390055eb", "Microsoft.Insights/components", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD"},
	}
	used := make([]bool, len(got))
	for _, w := range want {
		t.Run(w.role+" on "+w.scopeType, func(t *testing.T) {
			for i, g := range got {
				if !used[i] && strings.EqualFold(guids[g.roleKey], "'"+w.guid+"'") && g.scopeType == w.scopeType {
					used[i] = true
					return
				}
			}
			t.Errorf("no %s (%s) assignment scoped to a %s, needed for %s", w.role, w.guid, w.scopeType, w.why)
		})
	}
	for i, g := range got {
		if !used[i] {
			t.Errorf("role assignment %s (%s = %s on %s) is not needed by anything; remove it or add it to this table", g.symbol, g.roleKey, guids[g.roleKey], g.scopeType)
		}
	}

	// main.bicep must hand the roles module the app's identity and the deployed resources.
	main := read(t, "infra/bicep/main.bicep")
	for _, s := range []string{
		"principalId: functionApp.outputs.principalId",
		"hubName: eventHubs.outputs.hubName",
		"storageAccountName: storage.outputs.name",
		"stateTableName: storage.outputs.stateTableName",
		"deadLetterContainerName: storage.outputs.deadLetterContainerName",
		"dataCollectionRuleName: dcr.outputs.name",
		"appInsightsName: appInsights.outputs.name",
	} {
		if !strings.Contains(main, s) {
			t.Errorf("main.bicep roles module: missing %q", s)
		}
	}
}

func TestNoSecretsInAppSettings(t *testing.T) {
	secretRE := regexp.MustCompile(`(?i)AccountKey=|SharedAccessKey=|listKeys\(|listConnectionStrings\(|primaryKey|secondaryKey|primaryConnectionString|SharedAccessSignature`)
	for name, value := range appSettings(t) {
		t.Run(name, func(t *testing.T) {
			if secretRE.MatchString(value) {
				t.Errorf("app setting %s = %s carries a key or connection string; use an identity-based connection", name, value)
			}
		})
	}
	// And nowhere in the templates: nothing reads a key back.
	files, _ := filepath.Glob(filepath.Join(root, "infra/bicep/*.bicep"))
	mods, _ := filepath.Glob(filepath.Join(root, "infra/bicep/modules/*.bicep"))
	for _, f := range append(files, mods...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := secretRE.FindString(string(b)); m != "" {
			t.Errorf("%s: %q reads or embeds a key", f, m)
		}
	}
}

// bicepParams returns the names of the `param` declarations of a .bicep file.
func bicepParams(src string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^param (\w+) `).FindAllStringSubmatch(src, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestDeployDocCommands(t *testing.T) {
	doc := deploySection(t)
	// Join shell continuation lines, then look at each az deployment command.
	joined := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(doc, " ")
	var cmds []string
	for _, l := range strings.Split(joined, "\n") {
		if strings.Contains(l, "az deployment ") && strings.Contains(l, "--template-file") {
			cmds = append(cmds, strings.TrimSpace(l))
		}
	}
	if len(cmds) < 2 {
		t.Fatalf("README.md Deploy section: want the group and tenant deployment commands, found %d", len(cmds))
	}
	for _, scope := range []string{"az deployment group create", "az deployment tenant create"} {
		if !slices.ContainsFunc(cmds, func(c string) bool { return strings.Contains(c, scope) }) {
			t.Errorf("README.md Deploy section has no %q command", scope)
		}
	}
	for _, c := range cmds {
		t.Run(c[:min(len(c), 40)], func(t *testing.T) {
			checkDeployCommand(t, c)
		})
	}
	for _, s := range []string{"make package", "dist/drswatch.zip", "az group create", "az functionapp deployment source config-zip"} {
		if !strings.Contains(doc, s) {
			t.Errorf("README.md Deploy section does not mention %q", s)
		}
	}
}

func checkDeployCommand(t *testing.T, cmd string) {
	t.Helper()
	fields := strings.Fields(cmd)
	var template string
	var paramFiles, paramNames []string
	for i := 0; i < len(fields); i++ {
		switch fields[i] {
		case "--template-file", "-f":
			i++
			template = fields[i]
		case "--parameters", "-p":
			for i+1 < len(fields) && !strings.HasPrefix(fields[i+1], "-") {
				i++
				arg := strings.Trim(fields[i], `"'`)
				if name, _, ok := strings.Cut(arg, "="); ok {
					paramNames = append(paramNames, name)
				} else {
					paramFiles = append(paramFiles, strings.TrimPrefix(arg, "@"))
				}
			}
		}
	}
	if template == "" {
		t.Fatal("no --template-file")
	}
	src, err := os.ReadFile(filepath.Join(root, template))
	if err != nil {
		t.Fatalf("--template-file %s: %v", template, err)
	}
	declared := bicepParams(string(src))
	if strings.Contains(cmd, "az deployment tenant") && !strings.Contains(string(src), "targetScope = 'tenant'") {
		t.Errorf("%s is deployed at tenant scope but does not declare targetScope = 'tenant'", template)
	}
	for _, f := range paramFiles {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Errorf("--parameters %s: %v", f, err)
			continue
		}
		var pf struct {
			Parameters map[string]json.RawMessage `json:"parameters"`
		}
		if err := json.Unmarshal(b, &pf); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for name := range pf.Parameters {
			if !slices.Contains(declared, name) {
				t.Errorf("%s sets %s; %s declares no such param", f, name, template)
			}
		}
	}
	for _, name := range paramNames {
		if !slices.Contains(declared, name) {
			t.Errorf("--parameters %s=...: %s declares no such param (has %v)", name, template, declared)
		}
	}
	// Required params (no default) must be given.
	for _, m := range regexp.MustCompile(`(?m)^param (\w+) \w+\s*$`).FindAllStringSubmatch(string(src), -1) {
		if !slices.Contains(paramNames, m[1]) && len(paramFiles) == 0 {
			t.Errorf("%s requires param %s; the command does not pass it", template, m[1])
		}
	}
}

// TestBicepSyntaxScript runs scripts/bicep-syntax.js on the templates and on
// broken files: it must pass the former and fail the latter with file:line:col.
func TestBicepSyntaxScript(t *testing.T) {
	node, err := exec.LookPath("node")
	_, statErr := os.Stat(filepath.Join(root, "node_modules", "tree-sitter-bicep"))
	if err != nil || statErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but node (%v) or node_modules/tree-sitter-bicep (%v) is missing; run npm ci", err, statErr)
		}
		t.Skip("node or node_modules missing (run npm ci); not skipped under CI=true")
	}
	script := filepath.Join(root, "scripts", "bicep-syntax.js")
	run := func(dir string) (string, error) {
		out, err := exec.Command(node, script, dir).CombinedOutput()
		return string(out), err
	}

	if out, err := run(filepath.Join(root, "infra", "bicep")); err != nil {
		t.Errorf("infra/bicep: %v\n%s", err, out)
	}

	broken := []struct{ name, src, wantPos string }{
		{"unclosed array", "param a string\nresource r 'A/b@2020-01-01' = {\n  name: a\n  properties: {\n    x: [\n  }\n}\n", ":5:"},
		{"unterminated string", "var x = 'oops\n", ":2:1:"},
		{"missing value", "param ok string\noutput o string = \n", ":2:"},
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "good.bicep"), []byte("param p string = 'x'\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(dir, "sub", "bad.bicep")
			if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bad, []byte(b.src), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := run(dir)
			if err == nil {
				t.Fatalf("passed a broken file:\n%s", out)
			}
			if !strings.Contains(out, bad+b.wantPos) {
				t.Errorf("output does not name %s%s:\n%s", bad, b.wantPos, out)
			}
		})
	}

	t.Run("no files", func(t *testing.T) {
		if out, err := run(t.TempDir()); err == nil {
			t.Errorf("passed an empty directory:\n%s", out)
		}
	})
}

// deploySection returns the README's "## Deploy" section, up to the next
// second-level heading.
func deploySection(t *testing.T) string {
	t.Helper()
	doc := read(t, "README.md")
	start := strings.Index(doc, "\n## Deploy\n")
	if start < 0 {
		t.Fatal("README.md has no \"## Deploy\" section")
	}
	rest := doc[start+1:]
	if end := strings.Index(rest[len("## Deploy"):], "\n## "); end >= 0 {
		rest = rest[:len("## Deploy")+end]
	}
	return rest
}

// TestEndpointsFromResources: no cloud host name is written into a template
// (outside comments); endpoints come from the resources (serviceBusEndpoint,
// primaryEndpoints, the DCR's endpoints) so the templates fit every cloud.
func TestEndpointsFromResources(t *testing.T) {
	hostRE := regexp.MustCompile(`(?i)(core\.windows\.net|servicebus\.windows\.net|\.azure\.com|\.azure\.cn|usgovcloudapi\.net|monitor\.azure)`)
	files, _ := filepath.Glob(filepath.Join(root, "infra/bicep/*.bicep"))
	mods, _ := filepath.Glob(filepath.Join(root, "infra/bicep/modules/*.bicep"))
	for _, f := range append(files, mods...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(string(b), "\n") {
			code, _, _ := strings.Cut(l, "//")
			if m := hostRE.FindString(code); m != "" {
				t.Errorf("%s:%d: host name %q written into the template; take it from the resource", f, i+1, m)
			}
		}
	}
	eh := read(t, "infra/bicep/modules/eventhubs.bicep")
	if !strings.Contains(eh, "namespace.properties.serviceBusEndpoint") {
		t.Error("eventhubs.bicep: fullyQualifiedNamespace must come from the namespace's serviceBusEndpoint")
	}
	st := read(t, "infra/bicep/modules/storage.bicep")
	for _, s := range []string{"account.properties.primaryEndpoints.blob", "account.properties.primaryEndpoints.table"} {
		if !strings.Contains(st, s) {
			t.Errorf("storage.bicep: the service URIs must come from %s", s)
		}
	}
}

// TestStateTableAndDeadLetterContainer: the template creates the state table
// and the dead-letter container, and the app settings and the roles name the
// ones it created.
func TestStateTableAndDeadLetterContainer(t *testing.T) {
	st := read(t, "infra/bicep/modules/storage.bicep")
	for _, s := range []string{
		"resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@",
		"name: stateTableName",
		"resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@",
		"name: deadLetterContainerName",
		"publicAccess: 'None'",
	} {
		if !strings.Contains(st, s) {
			t.Errorf("storage.bicep: missing %q", s)
		}
	}
	common := appSettings(t)
	want := map[string]string{
		config.EnvTableName:             "storage.outputs.stateTableName",
		config.EnvTableServiceURI:       "storage.outputs.tableServiceUri",
		"DRSWATCH_BLOB_SERVICE_URI":     "storage.outputs.blobServiceUri",
		"DRSWATCH_DEADLETTER_CONTAINER": "storage.outputs.deadLetterContainerName",
	}
	for name, v := range want {
		if got := common[name]; got != v {
			t.Errorf("app setting %s = %q; want %s", name, got, v)
		}
	}
	// The defaults are the names TEAM.md fixed (and internal/config's, where it lists them).
	main := read(t, "infra/bicep/main.bicep")
	defaults := map[string]string{
		"stateTableName":          "drswatchstate",
		"deadLetterContainerName": "drswatch-deadletter",
	}
	for param, def := range defaults {
		if !strings.Contains(main, "param "+param+" string = '"+def+"'") {
			t.Errorf("main.bicep: want `param %s string = '%s'`", param, def)
		}
	}
	for _, s := range config.Settings {
		switch s.Name {
		case config.EnvTableName:
			if s.Default != defaults["stateTableName"] {
				t.Errorf("config default %s=%q, Bicep default %q", s.Name, s.Default, defaults["stateTableName"])
			}
		case "DRSWATCH_DEADLETTER_CONTAINER":
			if s.Default != defaults["deadLetterContainerName"] {
				t.Errorf("config default %s=%q, Bicep default %q", s.Name, s.Default, defaults["deadLetterContainerName"])
			}
		}
	}
	// No setting asks drswatch to create its table in Azure.
	if v, ok := common["DRSWATCH_CREATE_TABLE"]; ok && v != "'false'" {
		t.Errorf("DRSWATCH_CREATE_TABLE = %s in Azure; the template creates the table and the role allows no other", v)
	}
}

// TestHealthRules: the rules that make an endless retry visible rest on the
// retry policy and the host's logging as they are: SignInLogs retries without
// end at least every maximumInterval, the failing rule's window holds
// failureThreshold retries, and the dead-letter rule reads the host's console
// category.
func TestHealthRules(t *testing.T) {
	src := read(t, "infra/bicep/modules/health.bicep")
	var fj struct {
		Retry struct {
			MaxRetryCount   int    `json:"maxRetryCount"`
			MaximumInterval string `json:"maximumInterval"`
		} `json:"retry"`
	}
	if err := json.Unmarshal([]byte(read(t, "SignInLogs/function.json")), &fj); err != nil {
		t.Fatal(err)
	}
	if fj.Retry.MaxRetryCount != -1 {
		t.Errorf("SignInLogs retries %d times; the health rules and the README's outage text assume -1 (without end)", fj.Retry.MaxRetryCount)
	}
	maxWait, err := time.Parse("15:04:05", fj.Retry.MaximumInterval)
	if err != nil {
		t.Fatalf("maximumInterval %q: %v", fj.Retry.MaximumInterval, err)
	}
	wait := time.Duration(maxWait.Hour())*time.Hour + time.Duration(maxWait.Minute())*time.Minute + time.Duration(maxWait.Second())*time.Second
	window := 15 * time.Minute
	if !strings.Contains(src, "windowSize: 'PT15M'") {
		t.Fatal("health.bicep: the failing rule's 15-minute window changed; update this test")
	}
	// Retries wait at most maximumInterval (+20% jitter): a stuck batch fails
	// at least window/(1.2*wait) times per window.
	fails := int(float64(window) / (1.2 * float64(wait)))
	for file, re := range map[string]string{
		"infra/bicep/modules/health.bicep": `param failureThreshold int = (\d+)`,
		"infra/bicep/main.bicep":           `param healthFailureThreshold int = (\d+)`,
	} {
		def := regexp.MustCompile(re).FindStringSubmatch(read(t, file))
		if def == nil {
			t.Fatalf("%s: no default for %s", file, re)
		}
		if n, _ := strconv.Atoi(def[1]); fails < n {
			t.Errorf("%s: a stuck batch fails about %d times in %v (maximumInterval %v), under the failing rule's threshold %d", file, fails, window, wait, n)
		}
	}
	for _, s := range []string{
		`where name == "SignInLogs" and success == false`, // requests of the trigger function
		`customDimensions.Category) == "Host.Function.Console"`,
		`tostring(line.msg) == "dead-lettered"`,
		"metricName: 'IncomingMessages'", "metricName: 'OutgoingMessages'", "name: 'EntityName'",
		"category: 'AllMetrics'",
	} {
		if !strings.Contains(src, s) {
			t.Errorf("health.bicep: missing %q", s)
		}
	}
	if _, ok := functionFolders(t)["SignInLogs"]; !ok {
		t.Error("the failing rule watches SignInLogs, which is not a function folder")
	}
	// The dead-letter rule matches the handler's error line (logged at Error,
	// so on stderr, which the host logs under Host.Function.Console).
	if !regexp.MustCompile(`log\.Error\("dead-lettered"`).MatchString(read(t, "handler/handler.go")) {
		t.Error(`handler/handler.go no longer logs log.Error("dead-lettered", ...); the dead-letter rule reads that message`)
	}
	main := read(t, "infra/bicep/main.bicep")
	for _, s := range []string{"module health 'modules/health.bicep'", "appInsightsId: appInsights.outputs.id", "hubName: eventHubs.outputs.hubName"} {
		if !strings.Contains(main, s) {
			t.Errorf("main.bicep: missing %q", s)
		}
	}
}

// TestTenantCategories: the diagnostic setting streams what detect reads:
// both sign-in categories (detect takes any category ending in SignInLogs)
// and AuditLogs (device registrations, detect/audit.go), each a category the
// aadiam diagnosticSettings type definition names or the Entra docs list.
func TestTenantCategories(t *testing.T) {
	src := read(t, "infra/bicep/tenant.bicep")
	block := regexp.MustCompile(`(?s)\nparam categories array = \[(.*?)\n\]`).FindStringSubmatch(src)
	if block == nil {
		t.Fatal("tenant.bicep: no `param categories array = [` list")
	}
	var got []string
	for _, m := range regexp.MustCompile(`'([^']+)'`).FindAllStringSubmatch(block[1], -1) {
		got = append(got, m[1])
	}
	for _, want := range []string{"SignInLogs", "NonInteractiveUserSignInLogs", "AuditLogs"} {
		if !slices.Contains(got, want) {
			t.Errorf("tenant.bicep streams %v; missing %s", got, want)
		}
	}
	audit := read(t, "detect/audit.go")
	if !strings.Contains(audit, `"AuditLogs"`) {
		t.Error(`detect/audit.go no longer reads the category "AuditLogs"; the diagnostic setting streams that name`)
	}
}

// TestRevisionAlertRules: the Azure Monitor rules and the Sentinel rule fire
// on new revisions only (the newest per AlertId, newer than any ingested
// before), by severity: critical pages, high notifies; every severity
// drswatch emits has a rule and none other.
func TestRevisionAlertRules(t *testing.T) {
	alerts := read(t, "infra/bicep/modules/alerts.bicep")
	sentinel := read(t, "infra/bicep/modules/sentinel.bicep")
	newOnly := []string{
		`| where ingestion_time() > ago(window)`,
		`| summarize arg_max(Revision, *) by AlertId`,
		// A superseded sliding alert (its seed alert fires) fires nothing.
		`| summarize arg_max(Revision, *) by AlertId\n| where isempty(SupersededBy)\n`,
		`| summarize Seen = max(Revision) by AlertId`,
		`| where isnull(Seen) or Revision > Seen`,
	}
	for name, src := range map[string]string{"alerts.bicep": alerts, "sentinel.bicep": sentinel} {
		for _, s := range newOnly {
			if !strings.Contains(src, s) {
				t.Errorf("%s: the query must keep only new revisions; missing %q", name, s)
			}
		}
	}
	// The severities drswatch emits: the seed rule's and the chain's.
	emitted := map[string]bool{}
	for _, f := range []string{"detect/rule.go", "detect/chain.go"} {
		for _, m := range regexp.MustCompile(`Severity:\s*"(\w+)"|return "(\w+)"`).FindAllStringSubmatch(read(t, f), -1) {
			for _, g := range m[1:] {
				if g == "high" || g == "critical" || g == "medium" || g == "low" {
					emitted[g] = true
				}
			}
		}
	}
	ruled := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^    name: '(\w+)'\n    level: (\d)\n    actionGroups: (\w+)$`).FindAllStringSubmatch(alerts, -1) {
		ruled[m[1]] = true
		switch m[1] {
		case "critical":
			if m[2] != "0" || m[3] != "pageAndNotify" {
				t.Errorf("critical: Sev%s with %s; want Sev0 paging and notifying (pageAndNotify)", m[2], m[3])
			}
		case "high":
			if m[2] != "1" || m[3] != "notify" {
				t.Errorf("high: Sev%s with %s; want Sev1 notifying (notify)", m[2], m[3])
			}
		}
	}
	if !emitted["high"] || !emitted["critical"] {
		t.Errorf("detect emits %v; this test expects high and critical (update it with the code)", emitted)
	}
	for s := range emitted {
		if !ruled[s] {
			t.Errorf("drswatch emits severity %s; alerts.bicep has no rule for it", s)
		}
	}
	for s := range ruled {
		if !emitted[s] {
			t.Errorf("alerts.bicep has a rule for severity %s, which drswatch never emits", s)
		}
	}
	// Sentinel: entities and incident grouping by AlertId.
	for _, s := range []string{
		"entityType: 'Account'", "columnName: 'UserPrincipalName'",
		"entityType: 'IP'", "tostring(SourceAddresses[0])",
		"entityType: 'Host'", "tostring(RegisteredDevices[0].DisplayName)",
		"matchingMethod: 'Selected'", "AlertId: 'AlertId'", "reopenClosedIncident: true",
		"kind: 'Scheduled'", "aggregationKind: 'AlertPerResult'", "alertSeverityColumnName: 'SentinelSeverity'",
	} {
		if !strings.Contains(sentinel, s) {
			t.Errorf("sentinel.bicep: missing %q", s)
		}
	}
	if !regexp.MustCompile(`groupByCustomDetails: \[\s*'AlertId'\s*\]`).MatchString(sentinel) {
		t.Error("sentinel.bicep: incidents must be grouped by the AlertId custom detail alone")
	}
	// The columns the queries read exist in the schema.
	var schema alertsSchema
	if err := json.Unmarshal([]byte(read(t, "schema/alerts.json")), &schema); err != nil {
		t.Fatal(err)
	}
	cols := map[string]bool{}
	for _, c := range schema.Columns {
		cols[c.Name] = true
	}
	for _, c := range []string{"AlertId", "Revision", "Severity", "Stage", "UserPrincipalName", "SessionId", "SourceAddresses", "RegisteredDevices", "RuleName", "SourceAddressCount", "EventCount"} {
		if !cols[c] {
			t.Errorf("the alert queries read %s, which schema/alerts.json does not declare", c)
		}
	}
	main := read(t, "infra/bicep/main.bicep")
	for _, s := range []string{"param sentinelEnabled bool = false", "module sentinel 'modules/sentinel.bicep' = if (sentinelEnabled)", "pageActionGroupId: pageActionGroupId"} {
		if !strings.Contains(main, s) {
			t.Errorf("main.bicep: missing %q", s)
		}
	}
}
