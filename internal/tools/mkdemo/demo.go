package main

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"enrollstation/biometrics"
	"enrollstation/enroll"
	"gocv.io/x/gocv"
)

// Config says what to make.
type Config struct {
	Faces, Out, Models, Photo string
	Seconds                   float64
}

// Result describes the video made and what the assessment of its frames found.
type Result struct {
	Photo            string
	Frames           int
	ApproachGuidance string // guidance key on the first frames
	InPlaceChecked   int
	InPlacePass      int
	InPlaceFailed    []string // which checked in-place frames failed, and why
}

const (
	width, height = 1280, 720
	fps           = 30
	approachEnd   = 1.2 // seconds standing too far and off-centre
	settleEnd     = 2.0 // seconds to step into place
	inPlaceIED    = 120.0
	farIED        = 70.0
)

// backdrop fills the frame outside the photo: the light grey of a station backdrop.
var backdrop = color.RGBA{R: 214, G: 216, B: 218, A: 255}

// pose is where the face is drawn: eye midpoint, inter-eye distance, remaining roll.
type pose struct{ x, y, ied, roll float64 }

func poseAt(t, roll0 float64) pose {
	far := pose{420, 330, farIED, roll0}
	near := pose{width / 2, 325, inPlaceIED, 0}
	switch {
	case t < approachEnd:
		// A little sway while waiting.
		far.x += 6 * math.Sin(t*3)
		return far
	case t < settleEnd:
		k := (t - approachEnd) / (settleEnd - approachEnd)
		k = k * k * (3 - 2*k) // smoothstep
		return pose{far.x + k*(near.x-far.x), far.y + k*(near.y-far.y), far.ied + k*(near.ied-far.ied), far.roll + k*(near.roll-far.roll)}
	default:
		// Holding still: sub-pixel breathing only.
		near.y += 0.8 * math.Sin(t*2)
		return near
	}
}

type subject struct {
	name  string
	img   gocv.Mat
	m     biometrics.Point // eye midpoint in the photo
	ied   float64
	roll  float64
	score int
	pass  bool
	turn  float64 // largest |yaw| or |pitch| in place, degrees
}

// render draws the photo so its eye midpoint lands at p with the given IED and roll.
func render(s *subject, p pose, dst *gocv.Mat) {
	scale := p.ied / s.ied
	// Rotate by (p.roll - s.roll) in OpenCV's convention (counter-clockwise positive).
	a := (p.roll - s.roll) * math.Pi / 180
	al, be := scale*math.Cos(a), scale*math.Sin(a)
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	tx := p.x - (al*s.m.X + be*s.m.Y)
	ty := p.y - (-be*s.m.X + al*s.m.Y)
	for i, v := range []float64{al, be, tx, -be, al, ty} {
		m.SetDoubleAt(i/3, i%3, v)
	}
	gocv.WarpAffineWithParams(s.img, dst, m, image.Pt(width, height), gocv.InterpolationArea, gocv.BorderConstant, backdrop)
}

func loadSubject(a *biometrics.Assessor, path string) (*subject, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, err := biometrics.DecodeImage(data)
	if err != nil {
		return nil, err
	}
	rep, err := a.Assess(img)
	if err != nil || len(rep.Faces) != 1 {
		img.Close()
		if err == nil {
			err = fmt.Errorf("%d faces", len(rep.Faces))
		}
		return nil, err
	}
	l, r := rep.Eyes[0], rep.Eyes[1]
	return &subject{
		name: filepath.Base(path), img: img,
		m:    biometrics.Point{X: (l.X + r.X) / 2, Y: (l.Y + r.Y) / 2},
		ied:  math.Hypot(r.X-l.X, r.Y-l.Y),
		roll: rep.Pose.Roll,
	}, nil
}

// Make writes the demo video and checks it; progress goes to log.
func Make(cfg Config, log io.Writer) (*Result, error) {
	if cfg.Seconds < settleEnd+1 {
		return nil, fmt.Errorf("-seconds %g: need at least %g", cfg.Seconds, settleEnd+1)
	}
	rec, err := biometrics.NewRecognizer(cfg.Models)
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	// Judged as a demo station judges (enroll.DemoQuality: the candid photos are not
	// frontal within ISO's ±5°).
	live, final := biometrics.LiveConfig(), biometrics.DefaultConfig()
	live.Thresholds, final.Thresholds = enroll.DemoThresholds(), enroll.DemoThresholds()
	a := biometrics.NewAssessor(rec, live)
	defer a.Close()
	still := biometrics.NewAssessor(rec, final)
	defer still.Close()

	var paths []string
	if cfg.Photo != "" {
		paths = []string{filepath.Join(cfg.Faces, cfg.Photo)}
	} else {
		paths, _ = filepath.Glob(filepath.Join(cfg.Faces, "*.jpg"))
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no photos in %s", cfg.Faces)
	}
	// Try every photo in the in-place pose and keep the best.
	var subs []*subject
	frame := gocv.NewMat()
	defer frame.Close()
	for _, p := range paths {
		s, err := loadSubject(still, p)
		if err != nil {
			fmt.Fprintf(log, "  %s: skipped (%v)\n", filepath.Base(p), err)
			continue
		}
		// Judge a few in-place frames after a lossy round trip, as the video will be.
		s.pass, s.score = true, 100
		var failed []biometrics.MeasureID
		for _, t := range []float64{settleEnd + 1, settleEnd + 1.4, settleEnd + 1.8} {
			render(s, poseAt(t, s.roll), &frame)
			rep, err := assessLossy(a, frame)
			if err != nil {
				s.pass, s.score = false, 0
				break
			}
			s.pass = s.pass && rep.Pass
			s.score = min(s.score, rep.Score)
			s.turn = max(s.turn, math.Abs(rep.Pose.Yaw), math.Abs(rep.Pose.Pitch))
			failed = append(failed, rep.Failed...)
		}
		fmt.Fprintf(log, "  %s: in place pass=%v score %d head turned up to %.1f° failing %v\n", s.name, s.pass, s.score, s.turn, failed)
		subs = append(subs, s)
	}
	defer func() {
		for _, s := range subs {
			s.img.Close()
		}
	}()
	sort.SliceStable(subs, func(i, j int) bool {
		if subs[i].pass != subs[j].pass {
			return subs[i].pass
		}
		return subs[i].score > subs[j].score
	})
	if len(subs) == 0 || !subs[0].pass {
		return nil, errors.New("no photo passes the quality checks in place; pick one with -photo")
	}
	s := subs[0]

	codec := "mp4v"
	if strings.EqualFold(filepath.Ext(cfg.Out), ".avi") {
		codec = "MJPG"
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Out), 0o755); err != nil {
		return nil, err
	}
	tmp := cfg.Out + ".tmp" + filepath.Ext(cfg.Out)
	vw, err := gocv.VideoWriterFile(tmp, codec, fps, width, height, true)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", tmp, err)
	}
	n := int(cfg.Seconds * fps)
	for i := 0; i < n; i++ {
		render(s, poseAt(float64(i)/fps, s.roll), &frame)
		if err := vw.Write(frame); err != nil {
			vw.Close()
			os.Remove(tmp)
			return nil, fmt.Errorf("writing frame %d: %w", i, err)
		}
	}
	if err := vw.Close(); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	res, err := check(a, tmp, n)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	res.Photo = s.name
	if err := os.Rename(tmp, cfg.Out); err != nil {
		return nil, err
	}
	return res, nil
}

func assessLossy(a *biometrics.Assessor, frame gocv.Mat) (*biometrics.Report, error) {
	jpg, err := biometrics.EncodeJPEG(frame, 70)
	if err != nil {
		return nil, err
	}
	return a.AssessBytes(jpg)
}

// check reads the video back with OpenCV and assesses frames of each part.
func check(a *biometrics.Assessor, path string, want int) (*Result, error) {
	vc, err := gocv.VideoCaptureFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading back %s: %w", path, err)
	}
	defer vc.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	res := &Result{}
	for i := 0; vc.Read(&frame) && !frame.Empty(); i++ {
		res.Frames++
		if frame.Cols() != width || frame.Rows() != height {
			return nil, fmt.Errorf("frame %d is %dx%d", i, frame.Cols(), frame.Rows())
		}
		t := float64(i) / fps
		switch {
		case i == 5:
			rep, err := a.Assess(frame)
			if err != nil {
				return nil, fmt.Errorf("approach frame: %w", err)
			}
			res.ApproachGuidance = rep.Guidance.Key
			if rep.Pass {
				return nil, errors.New("approach frame passes: the subject should be too far away")
			}
		case t >= settleEnd && i%10 == 0:
			rep, err := a.Assess(frame)
			res.InPlaceChecked++
			if err == nil && rep.Pass {
				res.InPlacePass++
			} else if err == nil {
				res.InPlaceFailed = append(res.InPlaceFailed, fmt.Sprintf("frame %d: %v", i, rep.Failed))
			} else {
				res.InPlaceFailed = append(res.InPlaceFailed, fmt.Sprintf("frame %d: %v", i, err))
			}
		}
	}
	if res.Frames != want {
		return nil, fmt.Errorf("read back %d frames, wrote %d", res.Frames, want)
	}
	if res.InPlaceChecked == 0 || res.InPlacePass < res.InPlaceChecked*9/10 {
		return nil, fmt.Errorf("only %d of %d in-place frames pass", res.InPlacePass, res.InPlaceChecked)
	}
	return res, nil
}
