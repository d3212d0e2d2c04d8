// Package detect is the detection core of drswatch: it maps raw Entra ID
// sign-in records to the fields Elastic's ingest pipeline produces, applies
// the rule "Entra ID OAuth Flow by Microsoft Authentication Broker to Device
// Registration Service (DRS)" (Elastic rule 375132c6-25d5-11f0-8745-f661ea17fbcd),
// keeps per-group window state and builds alerts.
//
// The package is pure: it uses only the standard library, performs no I/O and
// reads no clock; callers pass the current time where it matters. Everything
// that talks to Azure lives in other packages and reuses this core unchanged.
//
// The ES|QL query it implements, in short: successful Member sign-ins with an
// identity, a UPN and a source address, app = Microsoft Authentication Broker,
// resource = Device Registration Service; grouped by 30-minute UTC window of
// @timestamp, UPN and session id; alert when a group has at least 2 distinct
// source addresses, exactly one session id, at least one browser sign-in
// (lower-cased browser matching the anchored regex (chrome|firefox|edge|safari).*)
// and at least 2 events.
package detect
