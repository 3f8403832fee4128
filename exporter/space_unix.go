//go:build unix

package exporter

import "golang.org/x/sys/unix"

// diskFree is the space available to this process on dir's file system, in bytes.
func diskFree(dir string) (uint64, bool) {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}
