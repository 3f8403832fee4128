package capture

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdNode is a real V4L2 node.
type fdNode struct{ fd int }

func openNode(path string) (ioctler, error) {
	// Non-blocking: a camera busy in another program must not hang discovery.
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &fdNode{fd: fd}, nil
}

func (n *fdNode) ioctl(req uint, buf []byte) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(n.fd), uintptr(req), uintptr(unsafe.Pointer(&buf[0])))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

func (n *fdNode) Close() error { return unix.Close(n.fd) }
