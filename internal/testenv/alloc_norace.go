//go:build !race

package testenv

// AllocSlack widens allocation bounds in tests; it is 1 without the race
// detector.
const AllocSlack = 1
