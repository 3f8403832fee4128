// Package workflow is the clerk's side of an enrollment as plain Go, testable without a
// window: details validation and the application number, the capture session (camera
// pump, preview-rate face tracking, quality assessment, auto-capture), the review data
// (ICAO portrait, quality report, duplicate search on this station) and the submission
// to the supervisor's queue in the vault. The screens in app/ and the scripted
// `enrollstation enroll` command both drive it.
//
// States: details → capture → review → pending (then approved → exported, by the
// supervisor's side). Events from running work are published through callbacks that
// may be called from any goroutine; the UI adapts them.
package enroll
