package app

import "fyne.io/fyne/v2"

// onOpen registers reload to run each time the home tab whose content is c is opened,
// so a tab built at login shows the data of when it is looked at (UI thread).
func (sh *shell) onOpen(c fyne.CanvasObject, reload func()) {
	if sh.reloaders == nil {
		sh.reloaders = map[fyne.CanvasObject]func(){}
	}
	sh.reloaders[c] = reload
}

// opened runs the reload of the tab content just opened.
func (sh *shell) opened(c fyne.CanvasObject) {
	if f := sh.reloaders[c]; f != nil {
		sh.touch()
		f()
	}
}
