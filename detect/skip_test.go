package detect

import "testing"

func TestSkipNames(t *testing.T) {
	if len(skipNames) != int(numSkips) {
		t.Fatalf("len(skipNames) = %d, want %d: a Skip constant has no name", len(skipNames), numSkips)
	}
	seen := map[string]bool{}
	for s := SkipNone; s < numSkips; s++ {
		name := s.String()
		if seen[name] {
			t.Errorf("Skip(%d).String() = %q, used twice", s, name)
		}
		seen[name] = true
	}
	if got := Skip(200).String(); got != "skip(200)" {
		t.Errorf("Skip(200).String() = %q", got)
	}
}
