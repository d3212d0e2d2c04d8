package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// MonitorResource is the resource azidentity asks a managed identity
// endpoint for when azlogs requests the scope "https://monitor.azure.com//.default":
// azidentity trims "/.default" and sends what is left.
const MonitorResource = "https://monitor.azure.com/"

// AppServiceAPIVersion is the api-version MSAL sends to an App Service
// identity endpoint.
const AppServiceAPIVersion = "2019-08-01"

// TokenRequest records one request to the managed identity endpoint.
type TokenRequest struct {
	Resource string
	ClientID string
	Status   int
}

// ManagedIdentity is a fake App Service managed identity endpoint, served
// over loopback HTTP the way the platform serves it to a Function App.
//
// azidentity (through MSAL's managedidentity package) selects the App
// Service source when IDENTITY_ENDPOINT and IDENTITY_HEADER are both set and
// IDENTITY_SERVER_THUMBPRINT is not; it then sends
// GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=...[&client_id=...]
// with the header X-IDENTITY-HEADER: $IDENTITY_HEADER. It does not check the
// endpoint's scheme or host. Setenv sets that environment.
//
// MSAL keeps managed identity tokens in one process-wide cache keyed by the
// identity (client id, or "system assigned") and resource. A second
// credential for the same identity in the same test binary gets the first
// one's cached token without calling the endpoint, so each test should use
// its own user-assigned client id (NewClientID).
type ManagedIdentity struct {
	// URL is the token endpoint (IDENTITY_ENDPOINT).
	URL string
	// Header is the secret the endpoint requires (IDENTITY_HEADER).
	Header string
	// Token is the access token it issues.
	Token string
	// ExpiresIn is the lifetime of issued tokens (default one hour).
	ExpiresIn time.Duration

	mu       sync.Mutex
	requests []TokenRequest
}

// NewManagedIdentity starts a fake identity endpoint and stops it when the
// test ends. Its header secret and token are random.
func NewManagedIdentity(tb testing.TB) *ManagedIdentity {
	tb.Helper()
	m := &ManagedIdentity{Header: randomHex(16), Token: "fake-mi-" + randomHex(16), ExpiresIn: time.Hour}
	srv := httptest.NewServer(http.HandlerFunc(m.serve))
	tb.Cleanup(srv.Close)
	m.URL = srv.URL + "/msi/token"
	return m
}

// NewClientID returns a random user-assigned client id, so a credential
// does not share MSAL's process-wide token cache with another test.
func NewClientID() string {
	b := randomHex(16)
	return b[0:8] + "-" + b[8:12] + "-" + b[12:16] + "-" + b[16:20] + "-" + b[20:32]
}

// Setenv points azidentity's managed identity source detection at m for the
// rest of the test (t.Setenv: the test must not be parallel) and clears the
// variables that would select another source.
func (m *ManagedIdentity) Setenv(t *testing.T) {
	t.Helper()
	t.Setenv("IDENTITY_ENDPOINT", m.URL)
	t.Setenv("IDENTITY_HEADER", m.Header)
	for _, k := range []string{"IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"} {
		t.Setenv(k, "")
	}
}

// Requests returns a copy of the token requests received so far.
func (m *ManagedIdentity) Requests() []TokenRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]TokenRequest(nil), m.requests...)
}

func (m *ManagedIdentity) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := TokenRequest{Resource: q.Get("resource"), ClientID: q.Get("client_id")}
	req.Status = m.answer(w, r)
	m.mu.Lock()
	m.requests = append(m.requests, req)
	m.mu.Unlock()
}

func (m *ManagedIdentity) answer(w http.ResponseWriter, r *http.Request) int {
	q := r.URL.Query()
	fail := func(status int, msg string) int {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		body, _ := json.Marshal(map[string]any{"statusCode": status, "message": msg})
		_, _ = w.Write(body)
		return status
	}
	switch {
	case r.Method != http.MethodGet:
		return fail(http.StatusMethodNotAllowed, "GET only")
	case r.Header.Get("X-IDENTITY-HEADER") != m.Header:
		return fail(http.StatusUnauthorized, "X-IDENTITY-HEADER missing or wrong")
	case q.Get("api-version") != AppServiceAPIVersion:
		return fail(http.StatusBadRequest, "unsupported api-version")
	case q.Get("resource") == "":
		return fail(http.StatusBadRequest, "resource is required")
	}
	expires := time.Now().Add(m.ExpiresIn).Unix()
	resp := map[string]string{
		"access_token": m.Token,
		"expires_on":   strconv.FormatInt(expires, 10),
		"resource":     q.Get("resource"),
		"token_type":   "Bearer",
	}
	if id := q.Get("client_id"); id != "" {
		resp["client_id"] = id
	}
	w.Header().Set("Content-Type", "application/json")
	body, _ := json.Marshal(resp)
	_, _ = w.Write(body)
	return http.StatusOK
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
