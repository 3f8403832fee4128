// Package selftest checks that a station can work: models, face recognition, OpenCV,
// cameras, TPM, data directory and encrypted store. The `selftest` command and the
// diagnostics screen both run it.
package selftest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Result is the outcome of one check. Hint says what to do when it failed, or when it
// passed with a warning (the station works, but not as it should, e.g. slower).
type Result struct {
	Name     string        `json:"name"`
	OK       bool          `json:"ok"`
	Warning  bool          `json:"warning,omitempty"`
	Detail   string        `json:"detail"`
	Hint     string        `json:"hint,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Check is one named check. Run returns what it found, or an error with a hint.
type Check struct {
	Name string
	Run  func(ctx context.Context) (detail string, err error)
}

// HintError is an error that carries the action that fixes it.
type HintError struct {
	Err  error
	Hint string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// WarningError is what a check found that does not stop the station but should be
// fixed: the check passes with Warning set, Detail from Msg and the Hint.
type WarningError struct {
	Msg  string
	Hint string
}

func (e *WarningError) Error() string { return e.Msg }

// Warn is a check's warning: what is wrong, and what to do.
func Warn(msg, hint string) error { return &WarningError{Msg: msg, Hint: hint} }

// Hint wraps err with the action that fixes it.
func Hint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &HintError{Err: err, Hint: hint}
}

// Run runs the checks in order. report, when not nil, is called after each check from the
// calling goroutine, so a screen can show results as they come.
func Run(ctx context.Context, checks []Check, report func(Result)) []Result {
	out := make([]Result, 0, len(checks))
	for _, c := range checks {
		r := run1(ctx, c)
		out = append(out, r)
		if report != nil {
			report(r)
		}
	}
	return out
}

func run1(ctx context.Context, c Check) (r Result) {
	start := time.Now()
	r.Name = c.Name
	defer func() {
		if p := recover(); p != nil {
			r.OK, r.Detail, r.Hint = false, fmt.Sprintf("check crashed: %v", p), "report this as a bug with the selftest output"
		}
		r.Duration = time.Since(start)
	}()
	if err := ctx.Err(); err != nil {
		r.Detail = "not run: " + err.Error()
		return r
	}
	detail, err := c.Run(ctx)
	var w *WarningError
	if errors.As(err, &w) {
		r.OK, r.Warning, r.Detail, r.Hint = true, true, w.Msg, w.Hint
		return r
	}
	if err != nil {
		r.Detail = err.Error()
		var h *HintError
		if errors.As(err, &h) {
			r.Hint = h.Hint
		}
		return r
	}
	r.OK, r.Detail = true, detail
	return r
}

// Passed reports whether every result is OK.
func Passed(rs []Result) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return len(rs) > 0
}
