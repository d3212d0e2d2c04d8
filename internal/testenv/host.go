package testenv

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// HostResponse is a custom handler's answer as the Functions host parses it.
type HostResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// Invoke sends an invocation of function to h the way the Functions host
// does (its headers; chunked, without Content-Length:
// functions-host-contract.md, "The request") and fails the test unless the
// answer is a JSON custom handler response: Outputs an object, Logs an
// array, ReturnValue null. It returns the status and the decoded answer.
func Invoke(t testing.TB, h http.Handler, function string, body []byte) (int, HostResponse) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/"+function, bytes.NewReader(body))
	req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", "0f6e9c1a-1d2b-4c3d-8e4f-5a6b7c8d9e0f")
	req.Header.Set("User-Agent", "Azure-Functions-Host/4.1037.0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"), "content type")
	var resp HostResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), "body %q", rec.Body.String())
	require.NotNil(t, resp.Outputs, "Outputs must be an object, never null")
	require.NotNil(t, resp.Logs, "Logs must be an array")
	require.Contains(t, rec.Body.String(), `"ReturnValue":null`)
	return rec.Code, resp
}
