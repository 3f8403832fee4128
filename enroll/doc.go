// Package enroll is the enrollment workflow: the one API the window (app) and the
// command line (cli) call, as plain Go testable without a window. It owns an
// enrollment's life: details, capture, review, pending, approved or rejected, batched,
// exported, acknowledged.
//
//   - Configuration and composition: Config (the one configuration, built in main),
//     Opener (main's way to open the TPM, store and models), Service (an open station
//     with its recognizer).
//   - Provisioning: Provision, ProvisionDemo, DemoExtras, SetIssuerKey.
//   - Settings: Settings, UpdateSettings, the quality thresholds (SetQuality,
//     QualitySettings, QualityThresholds) and camera profiles.
//   - The clerk's side: Details (the one citizen-record type, with its documented
//     mappings), the application number, StationCapture (the capture-session setup from
//     the station's settings), CaptureSession (camera pump, preview, face tracking, live
//     assessment, auto-capture, force), Finalize, review with the one duplicate gallery
//     (LoadGallery, ReviewCapture), Submit, and EnrollPhoto for the scripted path.
//   - The supervisor's side: PendingQueue, Duplicates (the same gallery), Reject (reason
//     codes checked here), ApproveClean, batches, export, acknowledgements, statistics.
//
// The vault keeps what must sit in the same transaction as the data (four-eyes, status
// transitions, audit). Events from running work are published through callbacks that may
// be called from any goroutine; the UI adapts them. See docs/ARCHITECTURE.md.
package enroll
