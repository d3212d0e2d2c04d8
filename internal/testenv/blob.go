package testenv

import (
	"context"
	"io"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// CreateContainer creates the blob container name (as the template does in
// Azure) with a connection string.
func CreateContainer(tb testing.TB, conn, name string) {
	tb.Helper()
	c, err := container.NewClientFromConnectionString(conn, name, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Create(context.Background(), nil); err != nil {
		tb.Fatalf("testenv: create container %s: %v", name, err)
	}
}

// Blobs returns every blob of the container, by name, read back through the
// blob API.
func Blobs(tb testing.TB, conn, name string) map[string][]byte {
	tb.Helper()
	ctx := context.Background()
	c, err := container.NewClientFromConnectionString(conn, name, nil)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for p := c.NewListBlobsFlatPager(nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			tb.Fatalf("testenv: list %s: %v", name, err)
		}
		for _, it := range page.Segment.BlobItems {
			resp, err := c.NewBlobClient(*it.Name).DownloadStream(ctx, nil)
			if err != nil {
				tb.Fatalf("testenv: download %s: %v", *it.Name, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				tb.Fatalf("testenv: read %s: %v", *it.Name, err)
			}
			out[*it.Name] = b
		}
	}
	return out
}
