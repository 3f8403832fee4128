package swtpm

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(context.Background(), Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, sp, _ := net.SplitHostPort(p.ServerAddr)
	_, cp, _ := net.SplitHostPort(p.CtrlAddr)
	s, _ := strconv.Atoi(sp)
	c, _ := strconv.Atoi(cp)
	if c != s+1 {
		t.Errorf("control port %d is not server port %d + 1", c, s)
	}
	// swtpm locks its state directory: a second instance on it must fail, not share it.
	if q, err := Start(context.Background(), Config{StateDir: dir}); !errors.Is(err, ErrInUse) {
		if err == nil {
			q.Stop()
		}
		t.Fatalf("second swtpm on a state directory in use: %v, want ErrInUse", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	<-p.Exited()
	if err := p.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := net.Dial("tcp", p.ServerAddr); err == nil {
		t.Fatal("swtpm still accepting connections after Stop")
	}
	// The state directory is free again.
	q, err := Start(context.Background(), Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	q.Stop()
}

func TestNotInstalled(t *testing.T) {
	_, err := Start(context.Background(), Config{StateDir: t.TempDir(), Binary: "/nonexistent/swtpm"})
	if err != ErrNotInstalled {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
}

// Manufacture makes a TPM state with EK certificates from a CA it creates in the given
// directory, and leaves an existing state alone.
func TestManufacture(t *testing.T) {
	state, ca := t.TempDir(), t.TempDir()
	if HasState(state) {
		t.Fatal("an empty directory has a TPM state")
	}
	if err := Manufacture(context.Background(), state, ca); err != nil {
		t.Fatal(err)
	}
	if !HasState(state) {
		t.Fatal("no TPM state after Manufacture")
	}
	for _, f := range []string{"issuercert.pem", "swtpm-localca-rootca-cert.pem"} {
		if _, err := os.Stat(filepath.Join(ca, f)); err != nil {
			t.Errorf("CA file %s: %v", f, err)
		}
	}
	before, _ := os.ReadFile(filepath.Join(state, stateFile))
	if err := Manufacture(context.Background(), state, ca); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(state, stateFile)); !bytes.Equal(before, after) {
		t.Fatal("Manufacture changed an existing TPM state")
	}
	p, err := Start(context.Background(), Config{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	p.Stop()
}
