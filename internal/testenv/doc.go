// Package testenv is the one test-support package for what drswatch talks
// to: a real Azurite table service started on a free loopback port
// (StartAzurite, SharedAzurite), a fake Azure Monitor Logs Ingestion
// endpoint (NewIngest) with a fake App Service managed identity endpoint
// (NewManagedIdentity), and a LogBuffer that collects JSON logs.
//
// It imports testing and net/http/httptest and holds Azurite's published
// development key, so nothing that ships may import it: the repository
// checks fail if it appears in `go list -deps ./cmd/drswatch`. Its users
// are tests, the e2e suites and the developer command (drswatch-dev bench).
package testenv
