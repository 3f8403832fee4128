package app

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
)

func TestCheckDisplay(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "wayland-9")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name string
		env  map[string]string
		ok   bool
	}{
		{"nothing set", map[string]string{}, false},
		{"bad name", map[string]string{"DISPLAY": "nonsense"}, false},
		{"nobody on X display", map[string]string{"DISPLAY": ":987"}, false},
		{"wayland socket", map[string]string{"WAYLAND_DISPLAY": "wayland-9", "XDG_RUNTIME_DIR": dir}, true},
		{"dead wayland, no X", map[string]string{"WAYLAND_DISPLAY": "wayland-1", "XDG_RUNTIME_DIR": dir}, false},
	} {
		err := checkDisplay(env(tc.env))
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrNoDisplay) {
			t.Errorf("%s: got %v, want ErrNoDisplay", tc.name, err)
		}
	}
}

func TestParseDisplay(t *testing.T) {
	for in, want := range map[string]struct {
		host string
		n    int
	}{":0": {"", 0}, ":16.0": {"", 16}, "localhost:10.0": {"localhost", 10}, "unix:3": {"unix", 3}} {
		h, n, ok := parseDisplay(in)
		if !ok || h != want.host || n != want.n {
			t.Errorf("parseDisplay(%q) = %q %d %v", in, h, n, ok)
		}
	}
}
