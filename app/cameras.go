package app

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/capture"
	"enrollstation/enroll"
)

// cameraScreen is the technician's camera bench: pick a source, watch it live with its
// luminance histogram and sharpness trace, adjust controls, run the calibration test and
// save the set-up as the station's camera profile.
type cameraScreen struct {
	sh      *shell
	tech    *techState
	content fyne.CanvasObject

	source     *widget.SelectEntry
	sources    []string
	resolution *widget.Select
	fps        *widget.Select
	autoExp    *widget.Check
	exposure   *widget.Slider
	gain       *widget.Slider
	autoWB     *widget.Check
	wb         *widget.Slider
	autoFocus  *widget.Check
	focus      *widget.Slider
	name       *widget.Entry

	preview   *canvas.Image
	histogram *canvas.Image
	trace     *canvas.Image
	stats     *widget.Label
	camState  *widget.Label // the camera's state, from the pump's events
	verdict   *fyne.Container
	left      *container.Scroll
	status    *widget.Label

	// Preview hand-off, as on the capture step: the newest frame waits in slot and at
	// most one UI update is queued, so a UI thread slower than the camera shows fewer
	// frames instead of queueing every one (which grew the CPU and memory without bound).
	slotMu  sync.Mutex
	slot    *image.RGBA
	pending atomic.Bool

	mu        sync.Mutex
	bench     *capture.Bench         // the camera engine; nil when no camera runs
	calibDone chan<- capture.Verdict // told the next calibration verdict (tests); may be nil
	profile   capture.CameraProfile
	loadedID  string // ID of the profile loaded at start ("" none)
}

// techState is shared by the technician's tabs (camera stats for diagnostics).
type techState struct {
	mu    sync.Mutex
	stats func() capture.Stats // nil when no camera runs
}

func (t *techState) cameraStats() (capture.Stats, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stats == nil {
		return capture.Stats{}, false
	}
	return t.stats(), true
}

var resolutions = []string{"640x480", "1280x720", "1920x1080"}
var rates = []string{"15", "25", "30"}

func newCameraScreen(sh *shell, tech *techState) *cameraScreen {
	c := &cameraScreen{sh: sh, tech: tech}
	var sources []string
	if devs, err := capture.ListDevices(); err == nil {
		for _, d := range devs {
			sources = append(sources, d.Path)
		}
	}
	if sh.cfg.Camera != "" {
		sources = append(sources, sh.cfg.Camera)
	}
	if demo := enroll.DemoCamera(); demo != "" {
		sources = append(sources, demo)
	}
	sources = append(sources, "synthetic:1280x720@30")
	c.sources = dedupe(sources)
	c.source = widget.NewSelectEntry(c.sources)
	// A verdict is about the camera it was measured on: another camera clears it.
	c.source.OnChanged = func(string) { c.clearVerdict() }
	c.resolution = widget.NewSelect(resolutions, nil)
	c.fps = widget.NewSelect(rates, nil)
	c.autoExp = widget.NewCheck(tr("auto"), nil)
	c.exposure = widget.NewSlider(1, 2000)
	c.gain = widget.NewSlider(0, 255)
	c.autoWB = widget.NewCheck(tr("auto"), nil)
	c.wb = widget.NewSlider(2800, 6500)
	c.wb.Step = 50
	c.autoFocus = widget.NewCheck(tr("auto"), nil)
	c.focus = widget.NewSlider(0, 255)
	c.name = widget.NewEntry()
	c.name.SetPlaceHolder(tr("profile name"))

	c.preview = canvas.NewImageFromImage(image.NewRGBA(image.Rect(0, 0, 640, 360)))
	c.preview.FillMode = canvas.ImageFillContain
	c.preview.SetMinSize(fyne.NewSize(560, 315))
	c.histogram = canvas.NewImageFromImage(image.NewRGBA(image.Rect(0, 0, 256, 80)))
	c.histogram.FillMode = canvas.ImageFillStretch
	c.histogram.ScaleMode = canvas.ImageScalePixels
	c.histogram.SetMinSize(fyne.NewSize(270, 90))
	c.trace = canvas.NewImageFromImage(image.NewRGBA(image.Rect(0, 0, 256, 80)))
	c.trace.FillMode = canvas.ImageFillStretch
	c.trace.ScaleMode = canvas.ImageScalePixels
	c.trace.SetMinSize(fyne.NewSize(270, 90))
	c.stats = widget.NewLabel("")
	c.camState = widget.NewLabel("")
	c.camState.Truncation = fyne.TextTruncateEllipsis
	c.verdict = container.NewVBox()
	c.status = widget.NewLabel("")
	c.status.Wrapping = fyne.TextWrapWord

	c.loadProfile()

	start := widget.NewButtonWithIcon(tr("Open camera"), theme.MediaPlayIcon(), func() { c.start() })
	start.Importance = widget.HighImportance
	apply := widget.NewButtonWithIcon(tr("Apply controls"), theme.ConfirmIcon(), func() { c.applyControls() })
	test := widget.NewButtonWithIcon(tr("Calibration test"), theme.SearchIcon(), func() { c.runCalibration() })
	save := widget.NewButtonWithIcon(tr("Save as station profile"), theme.DocumentSaveIcon(), func() { c.save() })
	save.Importance = widget.HighImportance

	controls := widget.NewForm(
		widget.NewFormItem(tr("Camera"), c.source),
		widget.NewFormItem(tr("Resolution / fps"), container.NewGridWithColumns(2, c.resolution, c.fps)),
		widget.NewFormItem(tr("Exposure"), container.NewBorder(nil, nil, nil, c.autoExp, c.exposure)),
		widget.NewFormItem(tr("Gain"), c.gain),
		widget.NewFormItem(tr("White balance"), container.NewBorder(nil, nil, nil, c.autoWB, c.wb)),
		widget.NewFormItem(tr("Focus"), container.NewBorder(nil, nil, nil, c.autoFocus, c.focus)),
		widget.NewFormItem(tr("Profile"), c.name),
	)
	buttons := container.NewGridWithColumns(2, start, apply, test, save)
	left := container.NewVBox(controls, buttons, c.status, c.verdict)
	graphs := container.NewGridWithColumns(2,
		container.NewBorder(widget.NewLabel(tr("Luminance histogram")), nil, nil, nil, c.histogram),
		container.NewBorder(widget.NewLabel(tr("Sharpness trace")), nil, nil, nil, c.trace))
	right := container.NewBorder(c.camState, container.NewVBox(graphs, c.stats), nil, nil, c.preview)
	c.left = container.NewVScroll(left)
	split := container.NewHSplit(c.left, right)
	split.Offset = 0.4
	c.content = split
	sh.onLogoutDo(c.stopPreview)
	sh.current = c
	return c
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// loadProfile fills the controls from the station's active camera profile.
func (c *cameraScreen) loadProfile() {
	p, id, err := enroll.ActiveCameraProfile(c.sh.station)
	if errors.Is(err, enroll.ErrNoProfile) {
		yes, exp, gain, wb, focus := true, 300.0, 32.0, 4500.0, 64.0
		p = capture.CameraProfile{Name: "station", Source: c.defaultSource(), Width: 1280, Height: 720, FPS: 30,
			Controls: capture.Controls{AutoExposure: &yes, Exposure: &exp, Gain: &gain, AutoWhiteBalance: &yes, WBTemperature: &wb, AutoFocus: &yes, Focus: &focus}}
	} else if err != nil {
		c.status.SetText(errText(err))
		return
	} else {
		c.loadedID = id
		c.status.SetText(tr("Station profile %q loaded.", p.Name))
	}
	c.setProfile(p)
}

func (c *cameraScreen) defaultSource() string {
	if c.sh.cfg.Camera != "" {
		return c.sh.cfg.Camera
	}
	if len(c.sources) > 0 {
		return c.sources[0]
	}
	return "synthetic:1280x720@30"
}

func (c *cameraScreen) setProfile(p capture.CameraProfile) {
	c.source.SetText(p.Source)
	c.name.SetText(p.Name)
	if p.Width > 0 {
		c.resolution.SetSelected(fmt.Sprintf("%dx%d", p.Width, p.Height))
	}
	if p.FPS > 0 {
		c.fps.SetSelected(strconv.Itoa(int(p.FPS)))
	}
	ct := p.Controls
	setB := func(ch *widget.Check, v *bool) {
		if v != nil {
			ch.SetChecked(*v)
		}
	}
	setF := func(s *widget.Slider, v *float64) {
		if v != nil {
			s.SetValue(*v)
		}
	}
	setB(c.autoExp, ct.AutoExposure)
	setF(c.exposure, ct.Exposure)
	setF(c.gain, ct.Gain)
	setB(c.autoWB, ct.AutoWhiteBalance)
	setF(c.wb, ct.WBTemperature)
	setB(c.autoFocus, ct.AutoFocus)
	setF(c.focus, ct.Focus)
	c.profile = p
}

// readProfile builds a profile from the controls.
func (c *cameraScreen) readProfile() capture.CameraProfile {
	p := capture.CameraProfile{Name: strings.TrimSpace(c.name.Text), Source: strings.TrimSpace(c.source.Text), Thresholds: capture.DefaultThresholds()}
	if w, h, ok := strings.Cut(c.resolution.Selected, "x"); ok {
		p.Width, _ = strconv.Atoi(w)
		p.Height, _ = strconv.Atoi(h)
	}
	if f, err := strconv.ParseFloat(c.fps.Selected, 64); err == nil {
		p.FPS = f
	}
	b := func(v bool) *bool { return &v }
	f := func(v float64) *float64 { return &v }
	p.Controls = capture.Controls{AutoExposure: b(c.autoExp.Checked), AutoWhiteBalance: b(c.autoWB.Checked), AutoFocus: b(c.autoFocus.Checked), Gain: f(c.gain.Value)}
	if !c.autoExp.Checked {
		p.Controls.Exposure = f(c.exposure.Value)
	}
	if !c.autoWB.Checked {
		p.Controls.WBTemperature = f(c.wb.Value)
	}
	if !c.autoFocus.Checked {
		p.Controls.Focus = f(c.focus.Value)
	}
	if p.Name == "" {
		p.Name = "station"
	}
	return p
}

// start opens the camera with the current settings on capture's bench engine; the
// screen only draws what the bench publishes.
func (c *cameraScreen) start() error {
	c.stopPreview()
	c.clearVerdict()
	p := c.readProfile()
	b, err := capture.StartBench(c.sh.ctx, p, capture.BenchOptions{}, capture.BenchEvents{
		Camera:  func(ev capture.Event) { ui(func() { c.showCamera(ev) }) },
		Preview: c.onPreview,
		Sampled: func(s capture.BenchSample) {
			hImg, tImg := histogramImage(s.Histogram), traceImage(s.Trace)
			ui(func() { c.showSample(s, hImg, tImg) })
		},
		Calibrated: func(v capture.Verdict) { ui(func() { c.calibrated(v) }) },
	})
	if err != nil {
		c.status.SetText(errText(err))
		return err
	}
	c.mu.Lock()
	c.bench, c.profile = b, p
	c.mu.Unlock()
	c.tech.mu.Lock()
	c.tech.stats = b.Stats
	c.tech.mu.Unlock()
	return nil
}

// onPreview runs on the bench's goroutine: keep the newest frame, queue one UI update.
func (c *cameraScreen) onPreview(img *image.RGBA) {
	c.slotMu.Lock()
	c.slot = img
	c.slotMu.Unlock()
	if !c.pending.CompareAndSwap(false, true) {
		return
	}
	ui(func() {
		c.pending.Store(false)
		c.slotMu.Lock()
		img := c.slot
		c.slot = nil
		c.slotMu.Unlock()
		if img != nil {
			c.preview.Image = img
			c.preview.Refresh()
		}
	})
}

func (c *cameraScreen) showCamera(ev capture.Event) {
	if ev.Err != nil {
		c.camState.SetText(tr("Camera %s: %v", ev.State, ev.Err))
	} else {
		c.camState.SetText(tr("Camera %s: %s %dx%d", ev.State, ev.Info.Spec, ev.Info.Width, ev.Info.Height))
	}
}

func (c *cameraScreen) showSample(s capture.BenchSample, hImg, tImg image.Image) {
	c.histogram.Image, c.trace.Image = hImg, tImg
	c.histogram.Refresh()
	c.trace.Refresh()
	c.stats.SetText(tr("%.1f fps shown · %d dropped · sharpness %.0f · mean luma %.0f", s.Stats.RecentFPS, s.Stats.Dropped, s.Measures.SharpnessNorm, s.Measures.MeanLuma))
}

// stopPreview stops the camera (UI thread; waits for the bench to end).
func (c *cameraScreen) stopPreview() {
	c.mu.Lock()
	b := c.bench
	c.bench = nil
	c.mu.Unlock()
	if b == nil {
		return
	}
	b.Stop()
	c.tech.mu.Lock()
	c.tech.stats = nil
	c.tech.mu.Unlock()
}

// histogramImage draws a 256-bin luminance histogram.
func histogramImage(h []float64) image.Image {
	const H = 80
	img := image.NewRGBA(image.Rect(0, 0, 256, H))
	// Square-root scale, so a large flat background does not flatten everything else.
	peak := 0.0
	for _, v := range h {
		peak = max(peak, math.Sqrt(v))
	}
	for x := 0; x < 256 && x < len(h); x++ {
		top := H - int(math.Sqrt(h[x])/max(peak, 1e-9)*float64(H-1))
		for y := 0; y < H; y++ {
			c := color.RGBA{0xf4, 0xf4, 0xf4, 0xff}
			if y >= top {
				c = color.RGBA{0x30, 0x30, 0x30, 0xff}
			}
			if x <= 8 || x >= 247 { // clipped levels
				if y >= top {
					c = color.RGBA{0xc0, 0x20, 0x20, 0xff}
				}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

// traceImage draws the recent sharpness values as a line, scaled to their maximum.
func traceImage(v []float64) image.Image {
	const W, H = 256, 80
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			img.Set(x, y, color.RGBA{0xf4, 0xf4, 0xf4, 0xff})
		}
	}
	peak := 0.0
	for _, x := range v {
		peak = max(peak, x)
	}
	// Filled area from the baseline, the scale's top 25% above the highest value seen,
	// so a steady camera reads as a steady band rather than a line at the edge.
	for i, x := range v {
		x0 := i * W / max(len(v), 1)
		x1 := (i + 1) * W / max(len(v), 1)
		top := H - 1 - int(x/max(peak*1.25, 1e-9)*float64(H-1))
		for px := x0; px < x1; px++ {
			for py := top; py < H; py++ {
				img.Set(px, py, color.RGBA{0x1f, 0x6f, 0xb5, 0xff})
			}
		}
	}
	return img
}

// applyControls sends the exposure, gain, white balance and focus to the running
// camera; resolution and rate need Open camera again.
func (c *cameraScreen) applyControls() error {
	c.mu.Lock()
	b := c.bench
	c.mu.Unlock()
	if b == nil {
		c.status.SetText(tr("Open the camera first."))
		return errors.New("no camera")
	}
	got, err := b.Apply(c.sh.ctx, c.readProfile())
	if err != nil {
		c.status.SetText(tr("The camera refused the controls: %v", err))
		return err
	}
	c.status.SetText(tr("Controls applied (the camera reports %s).", controlsText(got)))
	return nil
}

func controlsText(ct capture.Controls) string {
	var parts []string
	if ct.Exposure != nil {
		parts = append(parts, fmt.Sprintf("exposure %.0f", *ct.Exposure))
	}
	if ct.Gain != nil {
		parts = append(parts, fmt.Sprintf("gain %.0f", *ct.Gain))
	}
	if ct.WBTemperature != nil {
		parts = append(parts, fmt.Sprintf("white balance %.0f K", *ct.WBTemperature))
	}
	if ct.Focus != nil {
		parts = append(parts, fmt.Sprintf("focus %.0f", *ct.Focus))
	}
	if len(parts) == 0 {
		return tr("no values")
	}
	return strings.Join(parts, ", ")
}

// runCalibration measures the next frames of the running camera (the bench takes the
// median of a few) and shows pass/fail per measure against the profile's thresholds.
func (c *cameraScreen) runCalibration() {
	c.calibrate(nil)
}

// calibrate starts a calibration; done (may be nil) receives the verdict once shown.
func (c *cameraScreen) calibrate(done chan<- capture.Verdict) {
	c.mu.Lock()
	b := c.bench
	c.mu.Unlock()
	if b == nil {
		c.status.SetText(tr("Open the camera first."))
		return
	}
	if err := b.Calibrate(c.readProfile().Thresholds); err != nil {
		c.status.SetText(errText(err))
		return
	}
	c.mu.Lock()
	c.calibDone = done
	c.mu.Unlock()
	c.status.SetText(tr("Measuring %d frames… point the camera at the grey card or the empty background.", capture.DefaultCalibrationFrames))
}

// calibrated shows a calibration verdict (UI thread).
func (c *cameraScreen) calibrated(v capture.Verdict) {
	c.showVerdict(v)
	c.mu.Lock()
	done := c.calibDone
	c.calibDone = nil
	c.mu.Unlock()
	if done != nil {
		done <- v
	}
}

// clearVerdict removes the last calibration result (UI thread).
func (c *cameraScreen) clearVerdict() {
	if len(c.verdict.Objects) == 0 {
		return
	}
	c.verdict.RemoveAll()
	c.left.Refresh()
	c.sh.emit("verdict-cleared", c)
}

func (c *cameraScreen) showVerdict(v capture.Verdict) {
	c.verdict.RemoveAll()
	head := widget.NewLabelWithStyle(tr("Calibration: PASS"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.Importance = widget.SuccessImportance
	if !v.Pass {
		head.SetText(tr("Calibration: FAIL"))
		head.Importance = widget.DangerImportance
	}
	c.verdict.Add(head)
	grid := container.NewGridWithColumns(2)
	for _, ch := range v.Checks {
		op := "≥"
		if ch.Max {
			op = "≤"
		}
		mark := "✓"
		if !ch.Pass {
			mark = "✗"
		}
		l := widget.NewLabel(fmt.Sprintf("%s %s %.2f (%s %.2f)", mark, ch.Name, ch.Value, op, ch.Limit))
		if !ch.Pass {
			l.Importance = widget.DangerImportance
		}
		grid.Add(l)
	}
	c.verdict.Add(grid)
	c.status.SetText("")
	c.left.Refresh() // the verdict changed the column's height
}

// save stores the current settings as the station's camera profile.
func (c *cameraScreen) save() error {
	p := c.readProfile()
	if err := enroll.SaveCameraProfile(c.sh.station, c.sh.sess, p); err != nil {
		c.status.SetText(errText(err))
		return err
	}
	c.profile = p
	c.status.SetText(tr("Saved as the station's camera profile %q; it is applied whenever the camera opens.", p.Name))
	return nil
}
