package receipt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os/exec"
)

// ErrNoRenderer means pdftoppm (poppler-utils) is missing, so a receipt cannot be shown.
var ErrNoRenderer = errors.New("receipt: showing the receipt needs pdftoppm (install poppler-utils: run scripts/setup)")

// Render draws the first page of a receipt PDF as an image whose longer side is size
// pixels (pdftoppm), so the screen shows exactly what the printer gets.
func Render(ctx context.Context, pdf []byte, size int) (image.Image, error) {
	bin, err := exec.LookPath("pdftoppm")
	if err != nil {
		return nil, ErrNoRenderer
	}
	cmd := exec.CommandContext(ctx, bin, "-png", "-f", "1", "-l", "1", "-singlefile", "-scale-to", fmt.Sprint(size), "-")
	cmd.Stdin = bytes.NewReader(pdf)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("receipt: rendering: %v: %s", err, bytes.TrimSpace(errb.Bytes()))
	}
	img, err := png.Decode(&out)
	if err != nil {
		return nil, fmt.Errorf("receipt: rendering: %w", err)
	}
	return img, nil
}
