//go:build !linux

package capture

import "fmt"

func openNode(path string) (ioctler, error) {
	return nil, fmt.Errorf("%w: V4L2 discovery needs Linux", ErrUnsupported)
}
