package config_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The only key allowed in the repository is Azurite's development account
// key: it is published in Azurite's and the Azure SDKs' documentation, works
// only against the local emulator, and local.settings.example.json and
// internal/testenv need it. The Event Hubs emulator's connection string
// uses the documented placeholder SAS_KEY_VALUE, which is not a key.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// secretPatterns find credentials by their shape and context.
var secretPatterns = []struct {
	name string
	re   *regexp.Regexp
}{
	{"storage account key", regexp.MustCompile(`(?i)AccountKey\s*=\s*([A-Za-z0-9+/]{20,}={0,2})`)},
	{"shared access key", regexp.MustCompile(`(?i)SharedAccessKey\s*=\s*([A-Za-z0-9+/=_-]{8,})`)},
	{"SAS signature", regexp.MustCompile(`(?i)[?&;"]sig=([A-Za-z0-9%+/]{20,})`)},
	{"bearer token", regexp.MustCompile(`(?i)Bearer\s+([A-Za-z0-9._~+/-]{20,}=*)`)},
	{"JWT", regexp.MustCompile(`(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)`)},
	{"private key", regexp.MustCompile(`(-----BEGIN [A-Z ]*PRIVATE KEY-----)`)},
	{"client secret", regexp.MustCompile(`(?i)client_?secret["'\s]*[:=]\s*["']?([A-Za-z0-9~._-]{20,})`)},
	{"Entra client secret", regexp.MustCompile(`\b([A-Za-z0-9_~.-]{3}8Q~[A-Za-z0-9_~.-]{31,34})`)},
}

// allowed are values the patterns match that are not secrets.
var allowed = map[string]bool{azuriteKey: true, "SAS_KEY_VALUE": true}

func findSecrets(text string) []string {
	var found []string
	for _, p := range secretPatterns {
		for _, m := range p.re.FindAllStringSubmatch(text, -1) {
			if !allowed[m[1]] {
				found = append(found, p.name+": "+m[0])
			}
		}
	}
	return found
}

// The detector finds each kind (examples are assembled so that this file
// holds none of them whole).
func TestFindSecrets(t *testing.T) {
	b64 := strings.Repeat("Ab3+", 21) + "xw=="
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"account key", "DefaultEndpointsProtocol=https;AccountName=x;Account" + "Key=" + b64, true},
		{"azurite key", "AccountKey=" + azuriteKey, false},
		{"event hub key", "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=r;SharedAccess" + "Key=" + b64, true},
		{"emulator placeholder", "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true", false},
		{"SAS url", "https://a.table.core.windows.net/t?sv=2022-11-02&s" + "ig=" + "aBcD%2BeFgH1234567890abcdefXYZ%3D", true},
		{"bearer", "Authorization: Bear" + "er " + "abcdefghijklmnopqrstuvwxyz0123456789", true},
		{"jwt", "token " + "eyJ" + "hbGciOiJSUzI1NiJ9.eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0.sig", true},
		{"private key", "-----BEGIN RSA " + "PRIVATE KEY-----", true},
		{"client secret", `"client` + `_secret": "` + "abcdEFGH1234~ijklMNOP5678" + `"`, true},
		{"entra secret", "abc" + "8Q~" + "abcdefghijklmnopqrstuvwxyz0123456", true},
		{"prose", "the Logs Ingestion API takes a bearer token from managed identity", false},
		{"lockfile integrity", `"integrity": "sha512-` + b64 + `"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, len(findSecrets(tc.text)) > 0, "%v", findSecrets(tc.text))
		})
	}
}

// TestNoSecretsInRepo scans every tracked file, and the example local
// settings, for credentials.
func TestNoSecretsInRepo(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	files = append(files, "local.settings.example.json")
	require.Greater(t, len(files), 50)
	for _, f := range files {
		if f == "internal/config/secrets_test.go" {
			continue // its examples are assembled at run time
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		require.NoError(t, err)
		for _, s := range findSecrets(string(b)) {
			t.Errorf("%s: %s", f, s)
		}
	}
}

// TestExampleSettings checks the example local settings run the custom
// handler against the emulators, with nothing but the emulators' public
// values.
func TestExampleSettings(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "local.settings.example.json"))
	require.NoError(t, err)
	s := string(b)
	for _, want := range []string{`"FUNCTIONS_WORKER_RUNTIME": "custom"`, `"AzureWebJobsStorage": "UseDevelopmentStorage=true"`,
		"UseDevelopmentEmulator=true", "DRSWATCH_TABLE_CONNECTION", "127.0.0.1:10002"} {
		require.Contains(t, s, want)
	}
	require.Empty(t, findSecrets(s))
}
