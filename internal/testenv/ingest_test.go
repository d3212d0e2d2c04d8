package testenv_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/testenv"
)

const goodRow = `{"TimeGenerated":"2026-11-27T10:00:00Z","AlertId":"a"}`

func TestServerChecksRequests(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.Bytes()
	}
	tests := []struct {
		name     string
		method   string
		path     string
		token    string
		ctype    string
		encoding string
		body     []byte
		want     int
		wantCode string
	}{
		{name: "accepted", body: []byte("[" + goodRow + "]"), want: 204},
		{name: "accepted gzip", encoding: "gzip", body: gz("[" + goodRow + "," + goodRow + "]"), want: 204},
		{name: "no token", token: "-", body: []byte("[]"), want: 401},
		{name: "wrong token", token: "other", body: []byte("[]"), want: 403, wantCode: "OperationFailed"},
		{name: "wrong stream", path: "/dataCollectionRules/dcr-test/streams/Custom-X?api-version=2023-01-01", body: []byte("[]"), want: 400, wantCode: "InvalidStream"},
		{name: "wrong rule", path: "/dataCollectionRules/dcr-x/streams/Custom-DrsWatchAlerts?api-version=2023-01-01", body: []byte("[]"), want: 404},
		{name: "wrong api-version", path: "/dataCollectionRules/dcr-test/streams/Custom-DrsWatchAlerts?api-version=2021-01-01", body: []byte("[]"), want: 400},
		{name: "GET", method: http.MethodGet, want: 405},
		{name: "wrong content type", ctype: "text/plain", body: []byte("[]"), want: 415},
		{name: "not gzip", encoding: "gzip", body: []byte("[]"), want: 400},
		{name: "object not array", body: []byte(goodRow), want: 400, wantCode: "InvalidPayload"},
		{name: "invalid row", body: []byte(`[{"AlertId":"a"}]`), want: 400, wantCode: "InvalidPayload"},
		{name: "over 1 MiB", body: []byte("[" + strings.Repeat(" ", testenv.IngestMaxBodyBytes) + "]"), want: 413, wantCode: "ContentLengthLimitExceeded"},
		{name: "over 1 MiB once gunzipped", encoding: "gzip", body: gz("[" + strings.Repeat(" ", testenv.IngestMaxBodyBytes) + "]"), want: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.NewIngest(t, &testenv.IngestOptions{Token: "tok"})
			method, path, token, ctype := tc.method, tc.path, tc.token, tc.ctype
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/dataCollectionRules/dcr-test/streams/Custom-DrsWatchAlerts?api-version=2023-01-01"
			}
			if token == "" {
				token = "tok"
			}
			if ctype == "" {
				ctype = "application/json"
			}
			req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(tc.body))
			require.NoError(t, err)
			if token != "-" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			req.Header.Set("Content-Type", ctype)
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tc.want, resp.StatusCode, "body %s", body)
			if tc.want != 204 {
				var eb struct {
					Error struct{ Code, Message string }
				}
				require.NoError(t, json.Unmarshal(body, &eb), "error body %s", body)
				require.NotEmpty(t, eb.Error.Message)
				require.Equal(t, eb.Error.Code, resp.Header.Get("x-ms-error-code"))
				if tc.wantCode != "" {
					require.Equal(t, tc.wantCode, eb.Error.Code)
				}
				require.Empty(t, srv.Rows())
			} else {
				require.NotEmpty(t, srv.Rows())
			}
			calls := srv.Calls()
			require.Len(t, calls, 1)
			require.Equal(t, tc.want, calls[0].Status)
		})
	}
}

func TestManagedIdentityEndpoint(t *testing.T) {
	mi := testenv.NewManagedIdentity(t)
	get := func(header, query string) int {
		req, err := http.NewRequest(http.MethodGet, mi.URL+"?"+query, nil)
		require.NoError(t, err)
		if header != "" {
			req.Header.Set("X-IDENTITY-HEADER", header)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			var tok struct {
				AccessToken string `json:"access_token"`
				ExpiresOn   string `json:"expires_on"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
			require.Equal(t, mi.Token, tok.AccessToken)
			require.NotEmpty(t, tok.ExpiresOn)
		}
		return resp.StatusCode
	}
	require.Equal(t, 200, get(mi.Header, "api-version=2019-08-01&resource=https://monitor.azure.com/"))
	require.Equal(t, 401, get("", "api-version=2019-08-01&resource=x"))
	require.Equal(t, 401, get("wrong", "api-version=2019-08-01&resource=x"))
	require.Equal(t, 400, get(mi.Header, "api-version=2017-09-01&resource=x"))
	require.Equal(t, 400, get(mi.Header, "api-version=2019-08-01"))
	require.Len(t, mi.Requests(), 5)
}
