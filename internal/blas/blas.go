// Package blas keeps OpenBLAS (which dlib uses through Debian's libopenblas0-pthread) to
// one thread: its worker threads otherwise spin in sched_yield waiting for work and took
// 37–52 % of a core on a 2-core counter PC (issue 16). The library may be loaded or not,
// and under either name, so the setter is looked up at run time; importing this package
// (for its init) is enough.
package blas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

static int set_threads(int n) {
	const char *names[] = {"openblas_set_num_threads", "goto_set_num_threads", NULL};
	for (int i = 0; names[i]; i++) {
		void (*f)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, names[i]);
		if (f) { f(n); return 1; }
	}
	return 0;
}
*/
import "C"

import "os"

// Limited reports whether an OpenBLAS was found and set to one thread.
var Limited bool

func init() {
	// For libraries loaded later (or read at their start) the environment says the same.
	os.Setenv("OPENBLAS_NUM_THREADS", "1")
	os.Setenv("GOTO_NUM_THREADS", "1")
	Limited = C.set_threads(1) == 1
}
