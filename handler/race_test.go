//go:build race

package handler_test

// allocSlack widens allocation bounds: the race detector allocates more.
const allocSlack = 2
