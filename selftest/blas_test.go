package selftest

import (
	"context"
	"strings"
	"testing"

	"enrollstation/internal/blas"
)

// The BLAS check reads the running process's OpenBLAS (this test binary links dlib, as
// the station does): one thread after internal/blas's start-up setting; when more
// threads run, a warning (the check still passes) that says what to do.
func TestBLASCheckReadsTheRunningOpenBLAS(t *testing.T) {
	in := blas.Probe()
	if !in.OpenBLAS {
		t.Fatalf("no OpenBLAS found in a binary that links dlib (libblas.so.3 is %+v): scripts/setup installs libopenblas0-pthread", in)
	}
	if !blas.Limited || in.Threads != 1 {
		t.Fatalf("OpenBLAS threads %d after the start-up setting (found the setter: %v)", in.Threads, blas.Limited)
	}
	r := Run(context.Background(), []Check{{"blas", func(context.Context) (Text, error) { return checkBLAS(blas.Probe()) }}}, nil)[0]
	if !r.OK || r.Warning || !strings.HasPrefix(r.Detail, "BLAS: OpenBLAS, 1 thread") {
		t.Fatalf("one thread: %+v", r)
	}

	// The probe asks OpenBLAS, not the setting: two threads show as a warning.
	if !blas.SetThreads(2) {
		t.Fatal("setter not found")
	}
	defer blas.SetThreads(1)
	r = Run(context.Background(), []Check{{"blas", func(context.Context) (Text, error) { return checkBLAS(blas.Probe()) }}}, nil)[0]
	if !r.OK || !r.Warning || !strings.Contains(r.Detail, "runs 2 threads") || !strings.Contains(r.Hint, "OPENBLAS_NUM_THREADS=1") {
		t.Fatalf("two threads: %+v", r)
	}
	if !Passed([]Result{r}) {
		t.Error("a warning failed the selftest")
	}
}

func TestBLASCheckWithoutOpenBLAS(t *testing.T) {
	if d, err := checkBLAS(blas.Info{Other: true}); err != nil || !strings.Contains(d.String(), "single-threaded") {
		t.Errorf("reference BLAS: %q, %v", d, err)
	}
	_, err := checkBLAS(blas.Info{})
	if w, ok := err.(*WarningError); !ok || !strings.Contains(w.Hint.String(), "apt-get install") {
		t.Errorf("no BLAS at all: %v", err)
	}
}
