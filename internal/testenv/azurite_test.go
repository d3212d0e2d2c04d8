package testenv_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/testenv"
)

func createTable(t *testing.T, conn, name string) error {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(conn, &aztables.ClientOptions{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	require.NoError(t, err)
	_, err = svc.CreateTable(context.Background(), name, nil)
	return err
}

func isStatus(err error, code int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

func TestStartServes(t *testing.T) {
	srv := testenv.StartAzurite(t)
	require.NoError(t, createTable(t, srv.ConnectionString(), "probe"))
	require.True(t, isStatus(createTable(t, srv.ConnectionString(), "probe"), http.StatusConflict))
}

func TestRestart(t *testing.T) {
	cases := []struct {
		name     string
		opts     []testenv.AzuriteOption
		survives bool
	}{
		{"in memory loses data", nil, false},
		{"persistent keeps data", []testenv.AzuriteOption{testenv.Persistent()}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.StartAzurite(t, tc.opts...)
			if srv.External() {
				t.Skip("restart needs an Azurite started by the test")
			}
			conn := srv.ConnectionString()
			require.NoError(t, createTable(t, conn, "survivor"))
			require.NoError(t, srv.Restart())
			require.Equal(t, conn, srv.ConnectionString(), "same port after restart")
			err := createTable(t, conn, "survivor")
			if tc.survives {
				require.True(t, isStatus(err, http.StatusConflict), "CreateTable after restart = %v, want 409", err)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestStopWhileInUse(t *testing.T) {
	srv := testenv.StartAzurite(t)
	if srv.External() {
		t.Skip("needs an Azurite started by the test")
	}
	conn := srv.ConnectionString()
	require.NoError(t, srv.Stop())
	require.Error(t, createTable(t, conn, "afterstop"))
	require.NoError(t, srv.Stop(), "a second stop is harmless")
}
