// Package blas keeps OpenBLAS (which dlib uses through Debian's libopenblas0-pthread) to
// one thread: its worker threads otherwise spin in sched_yield waiting for work and took
// 37–52 % of a core on a 2-core counter PC (issue 16). The library may be loaded or not,
// and under either name, so the setter is looked up at run time; importing this package
// (for its init) is enough. Probe says what the running binary really got, for the
// selftest and the technician's diagnostics.
package blas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

static void *sym(const char *a, const char *b) {
	void *f = dlsym(RTLD_DEFAULT, a);
	return f ? f : (b ? dlsym(RTLD_DEFAULT, b) : NULL);
}

static int set_threads(int n) {
	void (*f)(int) = (void (*)(int))sym("openblas_set_num_threads", "goto_set_num_threads");
	if (!f) return 0;
	f(n);
	return 1;
}

// -1: no OpenBLAS loaded.
static int get_threads(void) {
	int (*f)(void) = (int (*)(void))sym("openblas_get_num_threads", "goto_get_num_threads");
	return f ? f() : -1;
}

// 0 serial build, 1 pthreads, 2 OpenMP; -1 unknown.
static int get_parallel(void) {
	int (*f)(void) = (int (*)(void))sym("openblas_get_parallel", NULL);
	return f ? f() : -1;
}

static const char *get_config(void) {
	char *(*f)(void) = (char *(*)(void))sym("openblas_get_config", NULL);
	return f ? f() : NULL;
}

// Whether any BLAS (OpenBLAS or another) is loaded, by its standard entry point.
static int have_blas(void) { return sym("cblas_dgemm", "dgemm_") != NULL; }
*/
import "C"

import (
	"os"
	"strings"
)

// Limited reports whether an OpenBLAS was found and set to one thread at start-up.
var Limited bool

func init() {
	// For libraries loaded later (or read at their start) the environment says the same.
	os.Setenv("OPENBLAS_NUM_THREADS", "1")
	os.Setenv("GOTO_NUM_THREADS", "1")
	Limited = SetThreads(1)
}

// SetThreads sets OpenBLAS's thread count; false when no OpenBLAS is loaded.
func SetThreads(n int) bool { return C.set_threads(C.int(n)) == 1 }

// Info is the BLAS the running process uses.
type Info struct {
	// OpenBLAS is true when an OpenBLAS is loaded (its functions are found).
	OpenBLAS bool `json:"openblas"`
	// Threads is the number of threads OpenBLAS uses now (0 when there is no OpenBLAS).
	Threads int `json:"threads"`
	// Parallel is OpenBLAS's build: "serial", "pthreads", "openmp" or "" when unknown.
	Parallel string `json:"parallel,omitempty"`
	// Config is OpenBLAS's own description (version, target CPU).
	Config string `json:"config,omitempty"`
	// Other is true when a BLAS other than OpenBLAS is loaded (e.g. the reference BLAS,
	// single-threaded).
	Other bool `json:"other,omitempty"`
}

// Probe asks the loaded OpenBLAS, if any, how it runs now: whether the one-thread
// setting took.
func Probe() Info {
	n := int(C.get_threads())
	if n < 0 {
		return Info{Other: C.have_blas() == 1}
	}
	in := Info{OpenBLAS: true, Threads: n}
	switch C.get_parallel() {
	case 0:
		in.Parallel = "serial"
	case 1:
		in.Parallel = "pthreads"
	case 2:
		in.Parallel = "openmp"
	}
	if c := C.get_config(); c != nil {
		in.Config = strings.TrimSpace(C.GoString(c))
	}
	return in
}
