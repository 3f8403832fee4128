// Package assets holds the files the station ships inside its binary: the icon now,
// translations and fonts as the screens need them. The dlib models are not here:
// scripts/setup installs them.
package assets

import "embed"

// IconPNG is the application icon (256x256), drawn from icon.svg.
//
//go:embed icon.png
var IconPNG []byte

// Translations are the screens' translations for Fyne's lang package, one JSON file per
// language (English strings are the keys).
//
//go:embed translations/*.json
var Translations embed.FS
