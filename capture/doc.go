// Package capture turns cameras into a leak-free stream of frames and measures how good
// those frames are.
//
// A [Source] is one camera-like thing read frame by frame: a V4L2 device through gocv,
// a video file (paced at its own frame rate, like a camera), a GStreamer pipeline, or a
// deterministic synthetic pattern for tests. [Open] turns a source spec ("/dev/video0",
// "0", "demo.mp4", "file:demo.avi", "gst:PIPELINE", "synthetic:1280x720@30") into one.
//
// A [Pump] owns one source in one goroutine and hands the latest frame to its consumer
// through a one-slot hand-off: a frame the consumer has not taken when the next one
// arrives is dropped and counted, never queued, so a slow consumer sees fresh frames and
// never slows the camera. When reads fail (a camera unplugged) the pump reports
// [StateDisconnected], reopens the source with bounded backoff, and reports
// [StateReconnected] when frames flow again.
//
// [Measure] computes calibration measures (sharpness, luminance, clipping, dynamic
// range, colour cast, noise) on a frame; [Thresholds.Evaluate] turns them into a
// pass/fail verdict. [Controls] and [CameraProfile] carry the technician's settings;
// [ListDevices] discovers V4L2 capture devices.
//
// Ownership: every gocv.Mat in this package has exactly one owner. A [Frame] returned by
// [Pump.Next] belongs to the caller, who must Close it (Close is idempotent). Sources
// read into a Mat the caller owns. capture knows nothing of faces or of the GUI.
package capture
