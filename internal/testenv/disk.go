package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"enrollstation/internal/diskfree"
)

// SmallDisk mounts a tmpfs of mib MiB for the test and returns its directory: a real file
// system that fills up, for full-disk tests. Mounting needs CAP_SYS_ADMIN (the setup
// machine and CI run as root); without it the test is skipped.
func SmallDisk(t testing.TB, mib int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(mib)+"m,mode=0700"); err != nil {
		t.Skipf("cannot mount a small tmpfs (%v): run as root to test a full disk", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// FillDisk writes a ballast file into dir so that its file system keeps about left bytes
// free, and returns the ballast's path (remove it to give the space back).
func FillDisk(t testing.TB, dir string, left uint64) string {
	t.Helper()
	free, err := diskfree.Free(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ballast")
	if free > left {
		if err := os.WriteFile(path, make([]byte, free-left), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
