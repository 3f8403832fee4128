package app

// showCapture is step 2 (live capture). Being built: for now it says so.
func (e *enrollment) showCapture() {
	e.sh.showError(tr("Capture"), errNotYet)
}
