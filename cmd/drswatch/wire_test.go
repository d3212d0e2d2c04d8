package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/testenv"
)

// TestLoggerSplitsByLevel: info and debug lines on stdout, warn and error
// on stderr, each warning's line containing "warn" (the host logs a stderr
// line at Error unless it does: functions-host-contract.md, "Logs").
func TestLoggerSplitsByLevel(t *testing.T) {
	var stdout, stderr bytes.Buffer
	log := newLogger(&stdout, &stderr, slog.LevelDebug).With("function", "SignInLogs")
	log.Debug("d")
	log.Info("i", "k", 1)
	log.Warn("w")
	log.Error("e")
	levels := func(s string) []string {
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
			var v struct{ Level, Msg, Function string }
			require.NoError(t, json.Unmarshal([]byte(line), &v), line)
			require.Equal(t, "SignInLogs", v.Function, "attributes reach both streams")
			out = append(out, v.Level)
		}
		return out
	}
	require.Equal(t, []string{"debug", "info"}, levels(stdout.String()))
	require.Equal(t, []string{"warn", "error"}, levels(stderr.String()))
	require.Contains(t, strings.Split(stderr.String(), "\n")[0], "warn")

	stdout.Reset()
	quiet := newLogger(&stdout, &stderr, slog.LevelWarn)
	quiet.Info("hidden")
	require.Empty(t, stdout.String(), "the level applies")
}

// TestLazyRetriesUntilOpen: until the dependency opens, get says it is not
// ready and why; then it returns the value, and open is not called again.
func TestLazyRetriesUntilOpen(t *testing.T) {
	var calls atomic.Int32
	l := openLazy(t.Context(), slog.New(slog.NewJSONHandler(&testenv.LogBuffer{}, nil)), "state store",
		func(context.Context) (int, error) {
			if calls.Add(1) < 3 {
				return 0, errors.New("403 AuthorizationPermissionMismatch")
			}
			return 42, nil
		})
	_, err := l.get()
	require.ErrorIs(t, err, handler.ErrNotReady)
	require.Eventually(t, func() bool {
		_, err := l.get()
		return err != nil && strings.Contains(err.Error(), "403 AuthorizationPermissionMismatch")
	}, 5*time.Second, 10*time.Millisecond, "the last failure is the reason")
	select {
	case <-l.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("not open after 10 s")
	}
	v, err := l.get()
	require.NoError(t, err)
	require.Equal(t, 42, v)
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, int32(3), calls.Load())
}
