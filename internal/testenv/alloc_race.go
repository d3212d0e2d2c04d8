//go:build race

package testenv

// AllocSlack widens allocation bounds in tests: the race detector allocates
// more, so it is 2 under -race.
const AllocSlack = 2
