//go:build unix

// Package diskfree reports the free space of a file system, for the free-space checks of
// vault (the store), exporter (target media) and the full-disk tests.
package diskfree

import "golang.org/x/sys/unix"

// Free is the space available to this process (not root's reserve) on dir's file system,
// in bytes.
func Free(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
