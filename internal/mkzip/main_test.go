package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestZipKeepsModes(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "SignInLogs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "drswatch"), []byte("\x7fELF"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "host.json"), []byte("{}"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "SignInLogs", "function.json"), []byte("{}"), 0o644))
	out := filepath.Join(t.TempDir(), "app.zip")
	require.NoError(t, write(dir, out))

	zr, err := zip.OpenReader(out)
	require.NoError(t, err)
	defer zr.Close()
	modes := map[string]os.FileMode{}
	for _, f := range zr.File {
		modes[f.Name] = f.Mode().Perm()
	}
	require.Equal(t, map[string]os.FileMode{"drswatch": 0o755, "host.json": 0o644, "SignInLogs/function.json": 0o644}, modes)
}
