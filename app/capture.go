package app

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/enroll"
)

// captureView is step 2: live preview, guidance, chips and the capture controls.
type captureView struct {
	e    *enrollment
	sess *enroll.CaptureSession
	cam  string

	preview  *canvas.Image
	guide    *canvas.Text
	count    *canvas.Text
	camState *widget.Label
	fps      *widget.Label
	attempts *widget.Label
	chips    map[string]*chip
	captureB *widget.Button
	retakeB  *widget.Button
	reason   *widget.Entry
	forceB   *widget.Button
	forceBox *fyne.Container
	msg      *widget.Label
	picker   *widget.Select

	// Preview hand-off: the newest frame waits in slot; at most one UI update (show) is
	// queued. shownPv is the frame on screen, handed back to the session (Release) once
	// the next one is up; a frame replaced in the slot before it was shown goes back at
	// once. So the session's few buffers cycle and no frame allocates.
	slotMu  sync.Mutex
	slot    enroll.Preview
	pending atomic.Bool
	show    func() // showLatest, made once (a method value allocates each time)
	shownPv enroll.Preview

	// Figures for docs/PERFORMANCE.md: frames shown, since when, and when the step opened.
	opened    time.Time
	shown     atomic.Int64
	firstShow atomic.Int64 // unix nanos of the first frame shown
	lastShow  atomic.Int64

	mu       sync.Mutex
	canForce bool
	done     bool // captured or left: late events are ignored

	// captured is closed when a capture has been accepted (for tests).
	captured chan struct{}
}

// chip is one pass/fail indicator.
type chip struct {
	bg   *canvas.Rectangle
	text *canvas.Text
}

// chipGroups are the main measures shown as chips: label → measures that must all pass.
func chipGroups() []struct {
	Label string
	IDs   []biometrics.MeasureID
} {
	return []struct {
		Label string
		IDs   []biometrics.MeasureID
	}{
		{tr("One face"), []biometrics.MeasureID{biometrics.SingleFacePresent}},
		{tr("Size"), []biometrics.MeasureID{biometrics.InterEyeDistance, biometrics.HeadSize}},
		{tr("Position"), []biometrics.MeasureID{biometrics.LeftwardCropOfTheFaceImage, biometrics.RightwardCropOfTheFaceImage, biometrics.MarginAboveOfTheFaceImage, biometrics.MarginBelowOfTheFaceImage}},
		{tr("Head pose"), []biometrics.MeasureID{biometrics.HeadPoseYaw, biometrics.HeadPosePitch, biometrics.HeadPoseRoll}},
		{tr("Eyes open"), []biometrics.MeasureID{biometrics.EyesOpen}},
		{tr("Sharpness"), []biometrics.MeasureID{biometrics.Sharpness}},
		{tr("Exposure"), []biometrics.MeasureID{biometrics.LuminanceMean, biometrics.UnderExposurePrevention, biometrics.OverExposurePrevention, biometrics.DynamicRange}},
		{tr("Even light"), []biometrics.MeasureID{biometrics.IlluminationUniformity}},
		{tr("Background"), []biometrics.MeasureID{biometrics.BackgroundUniformity}},
		{tr("Colour"), []biometrics.MeasureID{biometrics.NaturalColour}},
	}
}

var (
	colPass    = color.NRGBA{R: 0x1b, G: 0x8a, B: 0x3c, A: 0xff}
	colFail    = color.NRGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff}
	colAdvice  = color.NRGBA{R: 0xb8, G: 0x6e, B: 0x00, A: 0xff}
	colUnknown = color.NRGBA{R: 0x75, G: 0x75, B: 0x75, A: 0xff}
)

// legend explains the chip colours in one line.
func legend() fyne.CanvasObject {
	l := widget.NewLabel(tr("Green passes · red blocks capture · amber is advice only"))
	l.Importance = widget.LowImportance
	l.Wrapping = fyne.TextWrapWord
	return l
}

// cameraOpener opens a camera spec (tests replace sh.openCamera to inject faults).
func (sh *shell) cameraOpener(spec string, opts capture.Options) capture.Opener {
	if sh.openCamera != nil {
		return sh.openCamera(spec, opts)
	}
	return capture.SpecOpener(spec, opts)
}

// cameraChoices are the cameras the clerk may pick: the configured one first, then the
// other V4L2 devices.
func (sh *shell) cameraChoices() []string { return enroll.CameraChoices(sh.cfg.Camera) }

func (e *enrollment) showCapture() {
	v := &captureView{e: e, chips: map[string]*chip{}, captured: make(chan struct{}), opened: time.Now()}
	v.show = v.showLatest
	cams := e.sh.cameraChoices()
	if e.camera == "" && len(cams) > 0 {
		e.camera = cams[0]
	}
	v.cam = e.camera

	v.preview = canvas.NewImageFromImage(image.NewRGBA(image.Rect(0, 0, 16, 9)))
	v.preview.FillMode = canvas.ImageFillContain
	v.preview.ScaleMode = canvas.ImageScaleFastest
	v.preview.SetMinSize(fyne.NewSize(800, 450))
	v.guide = canvas.NewText(tr("Starting the camera…"), theme.Color(theme.ColorNameForeground))
	v.guide.TextSize = 30
	v.guide.TextStyle = fyne.TextStyle{Bold: true}
	v.guide.Alignment = fyne.TextAlignCenter
	v.count = canvas.NewText("", colPass)
	v.count.TextSize = 30
	v.count.TextStyle = fyne.TextStyle{Bold: true}
	v.camState = widget.NewLabel("")
	v.camState.Importance = widget.DangerImportance
	v.fps = widget.NewLabel("")
	v.fps.Importance = widget.LowImportance
	v.attempts = widget.NewLabel("")
	v.msg = widget.NewLabel("")
	v.msg.Wrapping = fyne.TextWrapWord
	v.msg.Importance = widget.WarningImportance

	var chipObjs []fyne.CanvasObject
	for _, g := range chipGroups() {
		c := &chip{bg: canvas.NewRectangle(colUnknown), text: canvas.NewText(g.Label, color.White)}
		c.bg.CornerRadius = 6
		c.text.TextStyle = fyne.TextStyle{Bold: true}
		c.text.Alignment = fyne.TextAlignCenter
		v.chips[g.Label] = c
		chipObjs = append(chipObjs, container.NewStack(c.bg, container.NewPadded(c.text)))
	}
	v.captureB = widget.NewButtonWithIcon(tr("Capture now"), theme.MediaRecordIcon(), v.captureNow)
	v.captureB.Importance = widget.HighImportance
	v.retakeB = widget.NewButtonWithIcon(tr("Start again"), theme.MediaReplayIcon(), v.retake)
	v.reason = widget.NewEntry()
	v.reason.SetPlaceHolder(tr("Reason (required), e.g. medical condition"))
	v.forceB = widget.NewButtonWithIcon(tr("Force capture"), theme.WarningIcon(), func() { v.force(v.reason.Text) })
	v.forceB.Importance = widget.DangerImportance
	v.reason.OnSubmitted = func(s string) { v.force(s) }
	forceHint := widget.NewLabel(tr("The photo keeps failing. You may accept the best one with a reason; the supervisor will see it."))
	forceHint.Wrapping = fyne.TextWrapWord
	v.forceBox = container.NewVBox(widget.NewSeparator(), forceHint, v.reason, v.forceB)
	v.forceBox.Hide()

	back := widget.NewButtonWithIcon(tr("Back to details"), theme.NavigateBackIcon(), func() { v.leave(); e.showDetails() })
	side := container.NewVBox(
		widget.NewLabelWithStyle(tr("Checks"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewGridWithColumns(2, chipObjs...),
		legend(),
		v.attempts,
		v.captureB, v.retakeB,
		v.forceBox,
		v.msg,
	)
	if len(cams) > 1 {
		v.picker = widget.NewSelect(cams, func(c string) {
			if c != v.cam {
				v.leave()
				e.camera = c
				e.showCapture()
			}
		})
		v.picker.Selected = v.cam
		side.Objects = append([]fyne.CanvasObject{widget.NewLabel(tr("Camera")), v.picker}, side.Objects...)
	}
	left := container.NewBorder(
		container.NewStack(v.guide),
		container.NewHBox(v.camState, layout.NewSpacer(), v.fps),
		nil, nil,
		container.NewStack(v.preview, container.NewCenter(v.count)))
	bottom := container.NewHBox(back, layout.NewSpacer(), widget.NewLabel(tr("Enter captures now; Esc goes back.")))
	body := container.NewBorder(nil, bottom, nil, container.NewGridWrap(fyne.NewSize(400, 560), container.NewVScroll(side)), left)

	e.stepView = v
	e.sh.setCurrent(v)
	e.sh.show(e.frame(2, body))
	e.setKeys(v.captureNow, func() { v.leave(); e.showDetails() })
	e.sh.onLogoutDo(v.leave)
	v.start()
}

// start opens the camera and the analysis on a goroutine (loading the models takes a
// moment the first time).
func (v *captureView) start() {
	sh := v.e.sh
	go func() {
		rec, err := sh.recognizer()
		if err != nil {
			ui(func() { v.showProblem(tr("Face models could not be loaded"), err) })
			return
		}
		// The technician's camera profile and the administrator's quality limits apply.
		set, err := enroll.StationCapture(sh.station, v.cam, enroll.DefaultCameraOptions(v.cam))
		if err != nil {
			ui(func() { v.showProblem(tr("The station's capture settings could not be read"), err) })
			return
		}
		cfg := enroll.CaptureConfig{
			Open:     sh.cameraOpener(v.cam, set.Camera),
			Live:     biometrics.NewAssessor(rec, set.Live),
			Final:    biometrics.NewAssessor(rec, set.Final),
			Camera:   v.cam,
			Attempts: v.e.attempts,
			Now:      sh.now,
		}
		s, err := enroll.StartCapture(sh.ctx, cfg, enroll.CaptureEvents{
			Preview:  v.onPreview,
			Assessed: func(l enroll.Live) { ui(func() { v.onLive(l) }) },
			Camera:   func(ev capture.Event) { ui(func() { v.onCamera(ev) }) },
			Captured: func(c *enroll.Capture) { ui(func() { v.onCaptured(c) }) },
			Failed:   func(a enroll.Attempt) { ui(func() { v.onFailed(a) }) },
			Ended:    func(err error) { ui(func() { v.onEnded(err) }) },
		})
		if err != nil {
			ui(func() { v.showProblem(tr("The camera could not be opened"), err) })
			return
		}
		v.mu.Lock()
		if v.done {
			v.mu.Unlock()
			s.Stop()
			return
		}
		v.sess = s
		v.mu.Unlock()
	}()
}

// onPreview runs on the session's goroutine: keep the newest frame and queue one UI
// update unless one is already queued, so the UI thread never falls behind the camera.
func (v *captureView) onPreview(p enroll.Preview) {
	v.slotMu.Lock()
	old := v.slot
	v.slot = p
	v.slotMu.Unlock()
	old.Release() // never shown: nobody reads it
	if !v.pending.CompareAndSwap(false, true) {
		return
	}
	ui(v.show)
}

// showLatest runs on the UI thread: it puts the newest frame up and hands the one it
// replaces back to the session. Fyne paints (and uploads the image into its GL
// texture) on this same thread, so once preview.Image is the new frame the old
// pixels are not read again.
func (v *captureView) showLatest() {
	v.pending.Store(false)
	v.slotMu.Lock()
	p := v.slot
	v.slot = enroll.Preview{}
	v.slotMu.Unlock()
	if p.Image == nil {
		return
	}
	v.preview.Image = p.Image
	v.preview.Refresh()
	prev := v.shownPv
	v.shownPv = p
	prev.Release()
	now := time.Now().UnixNano()
	n := v.shown.Add(1)
	v.firstShow.CompareAndSwap(0, now)
	v.lastShow.Store(now)
	if n%30 == 0 {
		v.fps.SetText(fmt.Sprintf(tr("Preview %.0f fps"), v.displayedFPS()))
	}
}

// displayedFPS is the rate at which preview frames were put on screen.
func (v *captureView) displayedFPS() float64 {
	n := v.shown.Load()
	d := time.Duration(v.lastShow.Load() - v.firstShow.Load())
	if n < 2 || d <= 0 {
		return 0
	}
	return float64(n-1) / d.Seconds()
}

func (v *captureView) onLive(l enroll.Live) {
	if v.isDone() {
		return
	}
	v.guide.Text = tr(l.Guidance.Text)
	switch {
	case l.Report != nil && l.Report.Pass:
		v.guide.Color = colPass
	case l.Report == nil || l.Report.Face == nil:
		v.guide.Color = theme.Color(theme.ColorNameForeground)
	default:
		v.guide.Color = color.NRGBA{R: 0xe6, G: 0x8a, B: 0x00, A: 0xff}
	}
	v.guide.Refresh()
	if l.Countdown > 0 && l.Streak > 0 {
		v.count.Text = fmt.Sprint(l.Countdown)
	} else {
		v.count.Text = ""
	}
	v.count.Refresh()
	for _, g := range chipGroups() {
		c := v.chips[g.Label]
		col := colUnknown
		if l.Report != nil {
			// Red only for what blocks a capture; an advisory measure that fails (e.g.
			// a busy background) is amber, so the clerk does not chase it.
			col = colPass
			for _, id := range g.IDs {
				if m, ok := l.Report.Measure(id); ok && !m.Pass {
					if m.Mandatory {
						col = colFail
					} else if col == colPass {
						col = colAdvice
					}
				}
			}
			if l.Report.Face == nil && g.IDs[0] != biometrics.SingleFacePresent {
				col = colUnknown
			}
		}
		c.bg.FillColor = col
		c.bg.Refresh()
	}
	v.setAttempts(l.Attempts, l.CanForce)
	v.e.sh.emit("assessed", l)
}

func (v *captureView) setAttempts(n int, canForce bool) {
	if n > 0 {
		v.attempts.SetText(tr("Failed attempts: %d", n))
	}
	v.mu.Lock()
	v.canForce = canForce
	v.mu.Unlock()
	if canForce {
		v.forceBox.Show()
	}
}

func (v *captureView) onCamera(ev capture.Event) {
	switch ev.State {
	case capture.StateDisconnected:
		v.camState.SetText(tr("Camera disconnected — reconnecting… Check the cable."))
		v.guide.Text = tr("Camera disconnected")
		v.guide.Refresh()
	case capture.StateReconnected, capture.StateStreaming:
		v.camState.SetText("")
	}
	v.e.sh.emit("camera", ev)
}

func (v *captureView) onFailed(a enroll.Attempt) {
	if v.isDone() {
		return
	}
	switch {
	case errors.Is(a.Err, enroll.ErrForceNotAllowed):
		v.msg.SetText(tr("A forced capture needs a reason."))
	case errors.Is(a.Err, enroll.ErrNothingToCapture):
		v.msg.SetText(tr("No face seen yet. Ask the citizen to look into the camera."))
	case a.Err != nil:
		v.msg.SetText(errText(a.Err))
	case a.Report != nil:
		v.msg.SetText(tr("That photo does not pass: %s", tr(a.Report.Guidance.Text)))
	}
	v.setAttempts(a.Attempts, a.CanForce)
	v.e.sh.emit("failed", a)
}

func (v *captureView) onEnded(err error) {
	if v.isDone() || err == nil {
		return
	}
	v.showProblem(tr("The camera stopped"), err)
}

// showProblem shows a camera problem with a button to try again.
func (v *captureView) showProblem(title string, err error) {
	if v.isDone() {
		return
	}
	v.guide.Text = title
	v.guide.Refresh()
	v.msg.SetText(errText(err))
	v.camState.SetText(tr("Press “Start again” to retry."))
	v.retakeB.OnTapped = func() { v.leave(); v.e.showCapture() }
}

func (v *captureView) onCaptured(c *enroll.Capture) {
	if v.isDone() {
		return
	}
	if dt := time.Since(v.opened); c.Auto {
		fmt.Fprintf(v.e.sh.stderr, "capture: auto-capture %.2fs after opening the step; preview shown at %.1f fps\n", dt.Seconds(), v.displayedFPS())
	}
	v.e.attempts = c.Attempts
	v.e.sh.emit("captured", c)
	v.leave()
	close(v.captured)
	v.e.result = c
	v.e.showReview()
}

func (v *captureView) isDone() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.done
}

// leave stops the camera (when leaving the step, logging out or closing).
func (v *captureView) leave() {
	v.mu.Lock()
	if v.done {
		v.mu.Unlock()
		return
	}
	v.done = true
	s := v.sess
	v.mu.Unlock()
	if n := v.shown.Load(); n > 1 {
		fmt.Fprintf(v.e.sh.stderr, "capture: %d preview frames shown at %.1f fps over %.1fs\n",
			n, v.displayedFPS(), time.Duration(v.lastShow.Load()-v.firstShow.Load()).Seconds())
	}
	if s != nil {
		go s.Stop() // Stop waits for the session's goroutines, which may be queuing UI work
	}
}

func (v *captureView) session() *enroll.CaptureSession {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.sess
}

func (v *captureView) captureNow() {
	v.e.sh.touch()
	if s := v.session(); s != nil {
		v.msg.SetText(tr("Checking the photo…"))
		s.CaptureNow()
	}
}

func (v *captureView) retake() {
	v.e.sh.touch()
	if s := v.session(); s != nil {
		v.msg.SetText("")
		s.Retake()
	}
}

func (v *captureView) force(reason string) {
	v.e.sh.touch()
	if reason == "" {
		v.msg.SetText(tr("A forced capture needs a reason."))
		v.e.sh.win.Canvas().Focus(v.reason)
		return
	}
	if s := v.session(); s != nil {
		s.Force(reason)
	}
}
