//go:build !unix

// Package diskfree reports the free space of a file system.
package diskfree

import "errors"

// Free is not implemented on this system.
func Free(string) (uint64, error) { return 0, errors.New("diskfree: not supported on this system") }
