// Command mkdemo makes the demo camera video from a test photo: a "cooperative subject"
// who first stands too far and off-centre (guidance: move closer), then steps into place
// with the head level and holds still, so that the capture step can auto-capture.
//
//	go run ./internal/tools/mkdemo -faces DIR -out testdata/demo.mp4
//
// It picks the photo whose in-place frames pass the quality checks best (or -photo),
// writes 1280x720 MPEG-4 Part 2 ("mp4v") video, then reads the file back with OpenCV and
// assesses frames of both parts, failing if the in-place part does not pass.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var cfg Config
	flag.StringVar(&cfg.Faces, "faces", "../shared/testdata/faces", "directory of test photos")
	flag.StringVar(&cfg.Out, "out", "testdata/demo.mp4", "output video (.mp4: mp4v, .avi: MJPG)")
	flag.StringVar(&cfg.Models, "models", "models", "dlib models directory")
	flag.StringVar(&cfg.Photo, "photo", "", "photo file name to use (default: the one that passes best)")
	flag.Float64Var(&cfg.Seconds, "seconds", 8, "video length in seconds")
	flag.Parse()
	res, err := Make(cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdemo:", err)
		os.Exit(1)
	}
	fmt.Printf("mkdemo: wrote %s from %s: %d frames; approach frames guided %q, %d/%d in-place frames checked pass\n",
		cfg.Out, res.Photo, res.Frames, res.ApproachGuidance, res.InPlacePass, res.InPlaceChecked)
	for _, f := range res.InPlaceFailed {
		fmt.Println("  failed:", f)
	}
}
