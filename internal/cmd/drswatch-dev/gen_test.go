package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"-bogus"}},
		{"bad start", []string{"-start", "yesterday"}},
		{"bad size", []string{"-size", "lots"}},
		{"share over one", []string{"-match-share", "2"}},
		{"zero bodies", []string{"-bodies", "0"}},
		{"argument", []string{"extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"gen"}, tc.args...), &out, &stderr)
			require.ErrorIs(t, err, errUsage)
			require.Zero(t, out.Len())
		})
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"1GB", 1e9}, {"100MB", 100e6}, {"512KiB", 512 << 10}, {"2048", 2048}, {"1.5 GB", 1.5e9}} {
		got, err := parseSize(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, "parseSize(%q)", tc.in)
	}
}
