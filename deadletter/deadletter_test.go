package deadletter_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/deadletter"
	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/testenv"
)

var (
	_ handler.DeadLetters = (*deadletter.Blob)(nil)
	_ handler.DeadLetters = (*deadletter.Dir)(nil)
)

// kind is one implementation with a way to read back what it stored.
type kind struct {
	name string
	open func(t *testing.T) (handler.DeadLetters, func(t *testing.T) map[string][]byte)
}

func kinds() []kind {
	return []kind{
		{"dir", func(t *testing.T) (handler.DeadLetters, func(*testing.T) map[string][]byte) {
			root := t.TempDir()
			return deadletter.NewDir(root), func(t *testing.T) map[string][]byte {
				out := map[string][]byte{}
				require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					b, err := os.ReadFile(p)
					rel, _ := filepath.Rel(root, p)
					out[filepath.ToSlash(rel)] = b
					return err
				}))
				return out
			}
		}},
		{"blob", func(t *testing.T) (handler.DeadLetters, func(*testing.T) map[string][]byte) {
			conn := testenv.StartAzurite(t, testenv.Blob()).ConnectionString()
			testenv.CreateContainer(t, conn, "deadletters")
			b, err := deadletter.NewBlobFromConnectionString(conn, "deadletters", nil)
			require.NoError(t, err)
			return b, func(t *testing.T) map[string][]byte { return testenv.Blobs(t, conn, "deadletters") }
		}},
	}
}

// TestPutKeepsTheBodyUnderItsName: what was put is read back byte for byte
// under the name the handler chose, also past the blob block size.
func TestPutKeepsTheBodyUnderItsName(t *testing.T) {
	at := time.Date(2026, 11, 3, 9, 33, 20, 4e6, time.UTC)
	large := bytes.Repeat([]byte(`{"Data":{"events":"[]"}} `), 500_000) // 12 MB: three blocks
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			dl, read := k.open(t)
			want := map[string][]byte{
				handler.DeadLetterName(at, "3", handler.ReasonMalformed, "0f6e9c1a-1d2b-4c3d-8e4f-5a6b7c8d9e0f"): []byte("this is not json"),
				handler.DeadLetterName(at, "", handler.ReasonTooLarge, "inv/../2"):                               large,
				handler.DeadLetterName(at, "3", handler.ReasonNoData, ""):                                        {},
			}
			for name, body := range want {
				require.NoError(t, dl.Put(context.Background(), name, bytes.NewReader(body)))
			}
			got := read(t)
			require.Len(t, got, len(want))
			for name, body := range want {
				require.True(t, bytes.Equal(body, got[name]), "%s: %d bytes back, want %d", name, len(got[name]), len(body))
			}
		})
	}
}

func TestDeadLetterName(t *testing.T) {
	at := time.Date(2026, 11, 3, 9, 33, 20, 4e6, time.FixedZone("CET", 3600))
	require.Equal(t, "2026/11/03/083320.004Z-p3-malformed_invocation-0f6e9c1a-1d2b.json",
		handler.DeadLetterName(at, "3", handler.ReasonMalformed, "0f6e9c1a-1d2b"))
	require.Equal(t, "2026/11/03/083320.004Z-p-too_large-inv_.._2.json",
		handler.DeadLetterName(at, "", handler.ReasonTooLarge, "inv/../2"), "the id cannot leave the day's folder")
	require.Equal(t, "2026/11/03/083320.004Z-p-no_data-none.json", handler.DeadLetterName(at, "", handler.ReasonNoData, ""))
}

func TestDirRefusesNamesOutsideIt(t *testing.T) {
	d := deadletter.NewDir(t.TempDir())
	for _, name := range []string{"../x.json", "/abs.json", "a//b.json", ""} {
		require.Error(t, d.Put(context.Background(), name, strings.NewReader("x")), name)
	}
}

// TestBlobMissingContainerSaysSo: the container is the template's to make;
// a put into a missing one fails (the handler answers 500, the host
// retries) and the error names the container.
func TestBlobMissingContainerSaysSo(t *testing.T) {
	conn := testenv.StartAzurite(t, testenv.Blob()).ConnectionString()
	b, err := deadletter.NewBlobFromConnectionString(conn, "missing", &deadletter.Options{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: -1}}})
	require.NoError(t, err)
	err = b.Put(context.Background(), "x.json", strings.NewReader("{}"))
	require.ErrorContains(t, err, "container missing does not exist")
}
