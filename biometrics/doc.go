// Package biometrics finds faces in images, judges their quality after ISO/IEC 29794-5
// (the OFIQ measures), tells the citizen the one thing to change, picks the best frame of
// a capture window, crops the ICAO full-frontal portrait, and makes and matches dlib
// ResNet face templates.
//
// It takes images (encoded bytes, gocv.Mat, image.Image), never cameras or widgets.
// dlib's models are not safe to share between goroutines: Recognizer owns them on one
// goroutine and serves requests over a channel, so a *Recognizer may be used from
// anywhere. The fast per-frame Tracker (OpenCV cascade) is owned by its caller.
//
// Measure definitions, thresholds and the matching calibration are in docs/quality.md.
package biometrics
