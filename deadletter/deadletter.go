// Package deadletter keeps the raw bodies of invocations that no retry can
// fix (handler.DeadLetters): Blob in a blob container of the state storage
// account (the Function's managed identity in Azure, Azurite locally), Dir
// in a local directory (replay and development without Azure).
//
// A dead letter is the invocation exactly as the host sent it, so that a
// person can read it and, once the cause is understood, replay it with
// `drswatch replay --invocation FILE`.
package deadletter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
)

// Blob keeps dead letters as block blobs in one container. It is safe for
// concurrent use. The container must exist: the template creates it in
// Azure (the app's role is scoped to it and cannot create containers), and
// tests create it in Azurite.
type Blob struct {
	container string
	client    func(name string) (*blockblob.Client, error)
}

// Options configures a Blob.
type Options struct {
	// ClientOptions are passed to the blob client (transport, retries).
	ClientOptions azcore.ClientOptions
}

func (o *Options) client() *blockblob.ClientOptions {
	if o == nil {
		return nil
	}
	return &blockblob.ClientOptions{ClientOptions: o.ClientOptions}
}

// NewBlob returns the container name at serviceURL
// (https://<account>.blob.core.windows.net) with a token credential, such as
// the managed identity. It does no I/O.
func NewBlob(serviceURL, name string, cred azcore.TokenCredential, opts *Options) (*Blob, error) {
	u, err := url.Parse(serviceURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("deadletter: blob service URL %q is not a URL", serviceURL)
	}
	base := strings.TrimRight(serviceURL, "/") + "/" + name + "/"
	return &Blob{container: name, client: func(blob string) (*blockblob.Client, error) {
		return blockblob.NewClient(base+blob, cred, opts.client())
	}}, nil
}

// NewBlobFromConnectionString returns the container name with a connection
// string (Azurite: include BlobEndpoint). It does no I/O.
func NewBlobFromConnectionString(conn, name string, opts *Options) (*Blob, error) {
	if _, err := blockblob.NewClientFromConnectionString(conn, name, "probe", opts.client()); err != nil {
		return nil, fmt.Errorf("deadletter: container %s: %w", name, err)
	}
	return &Blob{container: name, client: func(blob string) (*blockblob.Client, error) {
		return blockblob.NewClientFromConnectionString(conn, name, blob, opts.client())
	}}, nil
}

// Put uploads body as the block blob name, streaming it in blocks of 4 MiB
// (at most two in memory at a time). The blob exists once Put returns nil.
func (b *Blob) Put(ctx context.Context, name string, body io.Reader) error {
	c, err := b.client(name)
	if err != nil {
		return fmt.Errorf("deadletter: put %s: %w", name, err)
	}
	ct := "application/json"
	_, err = c.UploadStream(ctx, body, &blockblob.UploadStreamOptions{
		BlockSize:   4 << 20,
		Concurrency: 2,
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: &ct},
	})
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return fmt.Errorf("deadletter: put %s: container %s does not exist (the template creates it): %w", name, b.container, err)
	}
	if err != nil {
		return fmt.Errorf("deadletter: put %s: %w", name, err)
	}
	return nil
}

// Dir keeps dead letters as files under a directory, name's slashes as
// subdirectories. It is safe for concurrent use.
type Dir struct {
	root string
}

// NewDir returns the directory root; it is created when the first dead
// letter is written.
func NewDir(root string) *Dir { return &Dir{root: root} }

// Put writes body to a temporary file, syncs it and renames it into place,
// so a dead letter is either whole or absent.
func (d *Dir) Put(_ context.Context, name string, body io.Reader) (err error) {
	clean := path.Clean("/" + name)[1:]
	if clean == "" || clean != name {
		return fmt.Errorf("deadletter: put %q: not a clean relative name", name)
	}
	dst := filepath.Join(d.root, filepath.FromSlash(clean))
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("deadletter: put %s: %w", name, err)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".put-*")
	if err != nil {
		return fmt.Errorf("deadletter: put %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, body); err != nil {
		return fmt.Errorf("deadletter: put %s: %w", name, err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("deadletter: put %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("deadletter: put %s: %w", name, err)
	}
	return nil
}
