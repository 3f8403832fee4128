// Package printer sends PDFs to a CUPS print queue through the CUPS client tools
// (lp, lpstat), which honour the system's and the user's CUPS configuration and the
// CUPS_SERVER environment variable (tests point it at their own cupsd).
package printer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
)

// ErrNoCUPS means the CUPS client tools are not installed.
var ErrNoCUPS = errors.New("printer: printing needs CUPS (install the cups and cups-client packages)")

// ErrNoPrinter means no printer was named and CUPS has no default printer.
var ErrNoPrinter = errors.New("printer: no receipt printer is set up (a technician chooses it under Station settings)")

// Error is a refusal from CUPS, with what lp said.
type Error struct {
	Printer string
	Msg     string
}

func (e *Error) Error() string {
	return fmt.Sprintf("printer: %s refused the job: %s", e.Printer, e.Msg)
}

var jobRe = regexp.MustCompile(`request id is (\S+)`)

// Print sends the PDF to the named queue ("" = the CUPS default queue) with title as the
// job name, and returns the CUPS job ID.
func Print(ctx context.Context, queue, title string, pdf []byte) (string, error) {
	lp, err := exec.LookPath("lp")
	if err != nil {
		return "", ErrNoCUPS
	}
	args := []string{"-t", title}
	if queue != "" {
		args = append(args, "-d", queue)
	}
	cmd := exec.CommandContext(ctx, lp, append(args, "--", "-")...)
	cmd.Stdin = bytes.NewReader(pdf)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(errb.String()), "lp: "))
		if queue == "" && strings.Contains(msg, "No default destination") {
			return "", ErrNoPrinter
		}
		if msg == "" {
			msg = err.Error()
		}
		name := queue
		if name == "" {
			name = "the default printer"
		}
		return "", &Error{Printer: name, Msg: msg}
	}
	m := jobRe.FindStringSubmatch(out.String())
	if m == nil {
		return "", fmt.Errorf("printer: lp printed no job ID: %q", out.String())
	}
	return m[1], nil
}

// Queues lists the print queues CUPS offers, sorted, and the default one ("" if none).
func Queues(ctx context.Context) (names []string, def string, err error) {
	lpstat, err := exec.LookPath("lpstat")
	if err != nil {
		return nil, "", ErrNoCUPS
	}
	out, err := exec.CommandContext(ctx, lpstat, "-e").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(bytes.TrimSpace(ee.Stderr)) > 0 {
			// "No destinations added." is not an error: there are none.
			if bytes.Contains(ee.Stderr, []byte("No destinations")) {
				return nil, "", nil
			}
			return nil, "", fmt.Errorf("printer: listing printers: %s", bytes.TrimSpace(ee.Stderr))
		}
		return nil, "", fmt.Errorf("printer: listing printers: %w", err)
	}
	names = strings.Fields(string(out))
	sort.Strings(names)
	if d, err := exec.CommandContext(ctx, lpstat, "-d").Output(); err == nil {
		if _, after, ok := strings.Cut(string(d), ": "); ok {
			def = strings.TrimSpace(after)
		}
	}
	return names, def, nil
}
