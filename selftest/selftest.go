// Package selftest checks that a station can work: models, face recognition, OpenCV,
// cameras, TPM, data directory and encrypted store. The `selftest` command and the
// diagnostics screen both run it.
package selftest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Result is the outcome of one check. Hint says what to do when it failed, or when it
// passed with a warning (the station works, but not as it should, e.g. slower).
// DetailText and HintText are Detail and Hint as an English format and its arguments,
// so a screen can translate the wording and keep the data (numbers, paths, versions).
type Result struct {
	Name       string        `json:"name"`
	OK         bool          `json:"ok"`
	Warning    bool          `json:"warning,omitempty"`
	Detail     string        `json:"detail"`
	Hint       string        `json:"hint,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
	DetailText Text          `json:"-"`
	HintText   Text          `json:"-"`
}

// Text is a message as an English format (fmt verbs, never %w) and its arguments.
// Arguments that are errors keep their type, so a screen can word known ones itself.
type Text struct {
	Format string
	Args   []any
}

// Textf is the message format with args.
func Textf(format string, args ...any) Text {
	return Text{Format: strings.ReplaceAll(format, "%w", "%v"), Args: args}
}

// String is the message in English. A format without arguments is taken as it is.
func (t Text) String() string {
	if len(t.Args) == 0 {
		return t.Format
	}
	return fmt.Sprintf(t.Format, t.Args...)
}

// Check is one named check. Run returns what it found, or an error with a hint.
type Check struct {
	Name string
	Run  func(ctx context.Context) (detail Text, err error)
}

// TextError is a check's failure worded by selftest (format and arguments, so the
// screen can translate it); it unwraps to Cause.
type TextError struct {
	Text  Text
	Cause error
}

func (e *TextError) Error() string { return e.Text.String() }
func (e *TextError) Unwrap() error { return e.Cause }

// Errorf is fmt.Errorf whose message stays translatable (see TextError).
func Errorf(format string, args ...any) error {
	return &TextError{Text: Textf(format, args...), Cause: errors.Unwrap(fmt.Errorf(format, args...))}
}

// because is a failure worded by selftest in place of cause's own words (still
// errors.Is/As cause).
func because(cause error, format string, args ...any) error {
	return &TextError{Text: Textf(format, args...), Cause: cause}
}

// errText is an error's message as a Text: its own when selftest worded it, else the
// error itself as the one argument.
func errText(err error) Text {
	var te *TextError
	if errors.As(err, &te) && te.Error() == err.Error() {
		return te.Text
	}
	return Text{Format: "%v", Args: []any{err}}
}

// HintError is an error that carries the action that fixes it.
type HintError struct {
	Err  error
	Hint string
	Text Text // Hint as format and arguments
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// WarningError is what a check found that does not stop the station but should be
// fixed: the check passes with Warning set, Detail from Msg and the Hint.
type WarningError struct {
	Msg  Text
	Hint Text
}

func (e *WarningError) Error() string { return e.Msg.String() }

// Warn is a check's warning: what is wrong, and what to do (a format and its args).
func Warn(msg Text, hint string, args ...any) error {
	return &WarningError{Msg: msg, Hint: Textf(hint, args...)}
}

// Hint wraps err with the action that fixes it (a format and its args).
func Hint(err error, hint string, args ...any) error {
	if err == nil {
		return nil
	}
	t := Textf(hint, args...)
	return &HintError{Err: err, Hint: t.String(), Text: t}
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
			r.OK, r.DetailText, r.HintText = false, Textf("check crashed: %v", p), Textf("report this as a bug with the selftest output")
		}
		r.Detail, r.Hint = r.DetailText.String(), r.HintText.String()
		r.Duration = time.Since(start)
	}()
	if err := ctx.Err(); err != nil {
		r.DetailText = Textf("not run: %v", err)
		return r
	}
	detail, err := c.Run(ctx)
	var w *WarningError
	if errors.As(err, &w) {
		r.OK, r.Warning, r.DetailText, r.HintText = true, true, w.Msg, w.Hint
		return r
	}
	if err != nil {
		r.DetailText = errText(err)
		var h *HintError
		if errors.As(err, &h) {
			r.HintText = h.Text
		}
		return r
	}
	r.OK, r.DetailText = true, detail
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
