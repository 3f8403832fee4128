package app

import (
	"fmt"
	"image/color"
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// CJKFontPath is the font that covers Simplified Chinese (Debian's fonts-droid-fallback,
// installed by scripts/setup). Fyne's bundled font has no CJK glyphs, and the PDF receipt
// embeds the same file.
const CJKFontPath = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"

// stationTheme is Fyne's default theme with a font that renders Chinese, and a larger
// text size for counter screens read at arm's length.
type stationTheme struct {
	font fyne.Resource // nil: Fyne's default font
	bold fyne.Resource // bold face with CJK glyphs; nil: bold text uses font
}

// CJKBoldCollection is Debian's bold CJK face (fonts-noto-cjk, installed by
// scripts/setup): without it, bold Chinese titles render in the regular weight.
const CJKBoldCollection = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"

// newStationTheme loads the CJK font. Without it the station still works, in English;
// the error says how to fix it.
func newStationTheme() (*stationTheme, error) {
	b, err := os.ReadFile(CJKFontPath)
	if err != nil {
		return &stationTheme{}, fmt.Errorf("font for Chinese text missing (%s): Chinese names and the Chinese screens will show boxes; run scripts/setup (installs fonts-droid-fallback)", CJKFontPath)
	}
	th := &stationTheme{font: fyne.NewStaticResource("DroidSansFallbackFull.ttf", b)}
	if ttc, err := os.ReadFile(CJKBoldCollection); err == nil {
		if otf, err := fontFromCollection(ttc, "CJK SC"); err == nil {
			th.bold = fyne.NewStaticResource("NotoSansCJKsc-Bold.otf", otf)
		}
	}
	return th, nil
}

func (t *stationTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	// Fyne draws low-importance text (hints, captions, inactive steps) and disabled
	// widgets in the disabled colour, which is nearly the background colour in both
	// variants (contrast about 1.6:1): unreadable at a counter. These greys keep disabled
	// things visibly dimmer than normal text while still readable (about 5:1).
	if n == theme.ColorNameDisabled {
		if v == theme.VariantLight {
			return color.NRGBA{R: 0x76, G: 0x76, B: 0x76, A: 0xff}
		}
		return color.NRGBA{R: 0x8a, G: 0x8a, B: 0x8a, A: 0xff}
	}
	return theme.DefaultTheme().Color(n, v)
}

func (t *stationTheme) Font(s fyne.TextStyle) fyne.Resource {
	if t.bold != nil && s.Bold && !s.Monospace && !s.Symbol {
		return t.bold
	}
	if t.font != nil && !s.Monospace && !s.Symbol {
		return t.font
	}
	return theme.DefaultTheme().Font(s)
}

func (t *stationTheme) Icon(n fyne.ThemeIconName) fyne.Resource {
	return theme.DefaultTheme().Icon(n)
}

func (t *stationTheme) Size(n fyne.ThemeSizeName) float32 {
	if n == theme.SizeNameText {
		return 15
	}
	return theme.DefaultTheme().Size(n)
}
