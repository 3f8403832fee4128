package app

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNoDisplay means there is no graphical display to open the window on. GLFW would
// panic with a stack trace instead, so Run checks first and says it in one sentence.
var ErrNoDisplay = errors.New("there is no display to open the station window on: start it from the station's desktop session, or run a command such as `enrollstation selftest` (see `enrollstation help`)")

// checkDisplay reports ErrNoDisplay unless a Wayland or X11 display can be reached.
// It only dials the display's socket: enough to tell "nothing there" from "there".
func checkDisplay(getenv func(string) string) error {
	if w := getenv("WAYLAND_DISPLAY"); w != "" {
		p := w
		if !filepath.IsAbs(p) {
			p = filepath.Join(getenv("XDG_RUNTIME_DIR"), w)
		}
		if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
			c.Close()
			return nil
		}
	}
	d := getenv("DISPLAY")
	if d == "" {
		return ErrNoDisplay
	}
	host, num, ok := parseDisplay(d)
	if !ok {
		return fmt.Errorf("%w (DISPLAY=%q is not a display name)", ErrNoDisplay, d)
	}
	var addrs [][2]string
	if host == "" || host == "unix" {
		sock := "/tmp/.X11-unix/X" + strconv.Itoa(num)
		addrs = append(addrs, [2]string{"unix", sock}, [2]string{"unix", "@" + sock})
	}
	if host != "unix" {
		h := host
		if h == "" {
			h = "localhost"
		}
		addrs = append(addrs, [2]string{"tcp", net.JoinHostPort(h, strconv.Itoa(6000+num))})
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout(a[0], a[1], time.Second); err == nil {
			c.Close()
			return nil
		}
	}
	return fmt.Errorf("%w (nothing answers on DISPLAY=%s)", ErrNoDisplay, d)
}

// parseDisplay splits an X11 display name "[host]:N[.screen]" (a path such as
// /tmp/launch-x/org.xquartz:0 counts as a local socket).
func parseDisplay(d string) (host string, num int, ok bool) {
	i := strings.LastIndex(d, ":")
	if i < 0 {
		return "", 0, false
	}
	host, rest := d[:i], d[i+1:]
	if strings.HasPrefix(host, "/") {
		host = "unix"
	}
	if j := strings.Index(rest, "."); j >= 0 {
		rest = rest[:j]
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return host, n, true
}
