package app

import "fyne.io/fyne/v2"

// ui runs f on the Fyne UI thread. Every widget change made from a background goroutine
// (checks, camera frames, exports) goes through here, so this file is the one place that
// knows about fyne.Do.
func ui(f func()) { fyne.Do(f) }
