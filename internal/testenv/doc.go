// Package testenv is the one test-support package for what drswatch talks
// to and what talks to it:
//
//   - Azurite, started on a free loopback port (StartAzurite, SharedAzurite;
//     the blob service too with Blob, CreateContainer and Blobs);
//   - a fake Azure Monitor Logs Ingestion endpoint (NewIngest) and a fake
//     App Service managed identity endpoint (NewManagedIdentity);
//   - the Functions host's call of a handler (Invoke), an in-memory
//     dead-letter store (DeadLetters), a LogBuffer that collects JSON logs,
//     and AllocSlack for allocation bounds under the race detector.
//
// It imports testing and net/http/httptest and holds Azurite's published
// development key, so nothing that ships may import it: repocheck_test.go
// fails if it appears in `go list -deps ./cmd/drswatch`. Its users are
// tests, the e2e suites and the developer command (drswatch-dev bench).
package testenv
