//go:build !race

package handler_test

// allocSlack widens allocation bounds under the race detector.
const allocSlack = 1
