package app

import (
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// Fyne 2.7 has no window-level hook that sees every input event: the canvas's key
// callbacks only fire when no widget has the focus, and pointer events go straight to the
// deepest widget under the pointer. So operator activity is observed in three ways that
// never take an event away from the widget it is meant for:
//
//   - activityRoot, the root of the window content, is a desktop.Cursorable: the desktop
//     driver asks every object under the pointer for its cursor on each pointer move, root
//     first (children then override the cursor), so any mouse movement over the window is
//     seen. It is also the tap, mouse and scroll target of last resort (background clicks
//     and scrolls that no widget takes).
//   - instrument walks the content and chains a touch in front of the handlers of the
//     interactive widgets (buttons, entries incl. typing in a focused entry, checks,
//     selects, radios, sliders, tables, lists), in the window and in its pop-ups. It runs
//     when a screen is shown and again after activity (at most once a second), so widgets a
//     screen adds later (a detail pane, a dialog) are covered too.
//   - the canvas key callbacks (installActivityHooks) for keys pressed with no focus.

// activityRoot wraps the window content and reports pointer activity to touch.
type activityRoot struct {
	widget.BaseWidget
	content fyne.CanvasObject
	touch   func()
	// warning is the idle lock's "locks in 30 s" strip above the content (hidden unless
	// warned): in the content, not a pop-up, so the pointer moving anywhere still counts.
	warning *fyne.Container
}

func newActivityRoot(content fyne.CanvasObject, touch func()) *activityRoot {
	r := &activityRoot{content: content, touch: touch, warning: container.NewStack()}
	r.warning.Hide()
	r.ExtendBaseWidget(r)
	return r
}

func (r *activityRoot) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewBorder(r.warning, nil, nil, nil, r.content))
}

// Cursor is asked on every pointer move over the window (see above); the default cursor
// changes nothing, as the widgets under the pointer set theirs after it.
func (r *activityRoot) Cursor() desktop.Cursor {
	r.touch()
	return desktop.DefaultCursor
}

func (r *activityRoot) Tapped(*fyne.PointEvent)          { r.touch() }
func (r *activityRoot) Scrolled(*fyne.ScrollEvent)       { r.touch() }
func (r *activityRoot) MouseDown(*desktop.MouseEvent)    { r.touch() }
func (r *activityRoot) MouseUp(*desktop.MouseEvent)      {}
func (r *activityRoot) TappedSecondary(*fyne.PointEvent) { r.touch() }

// instrumenter chains touch into the handlers of interactive widgets, once per widget.
type instrumenter struct {
	touch  func()
	now    func() time.Time
	canvas func() fyne.Canvas

	mu       sync.Mutex
	done     map[any]bool // widgets already instrumented (those still on show)
	last     time.Time
	overlays int // pop-ups on show at the last walk
}

// walk instruments the widgets of the window content and pop-ups (UI thread).
func (in *instrumenter) walk(c fyne.Canvas) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.last = in.now()
	seen := map[any]bool{}
	visit := func(o fyne.CanvasObject) { in.visit(o, seen) }
	if c == nil {
		return
	}
	visit(c.Content())
	for _, o := range c.Overlays().List() {
		visit(o)
	}
	in.overlays = len(c.Overlays().List())
	// Widgets no longer on show are forgotten, so the set does not grow screen by screen.
	in.done = seen
}

// around records activity, runs a widget's own handler, then instruments what the
// handler may have added (e.g. the detail pane of a selected row).
func (in *instrumenter) around(handler func()) {
	in.touch()
	handler()
	in.walkSoon(in.canvas())
}

// walkSoon walks again when the last walk is more than a second old (after activity,
// which may have added widgets), or at once when a pop-up (dialog) opened or closed, so
// typing and taps in a dialog count as activity from its first key.
func (in *instrumenter) walkSoon(c fyne.Canvas) {
	if c == nil {
		return
	}
	in.mu.Lock()
	d := in.now().Sub(in.last)
	stale := d > time.Second || d < 0 || len(c.Overlays().List()) != in.overlays // or the clock was set back
	in.mu.Unlock()
	if stale {
		in.walk(c)
	}
}

func (in *instrumenter) visit(o fyne.CanvasObject, seen map[any]bool) {
	if o == nil {
		return
	}
	in.hook(o, seen)
	switch t := o.(type) {
	case *escEntry:
		in.hook(&t.Entry, seen)
	case *activityRoot:
		in.visit(t.content, seen)
	case *fyne.Container:
		for _, c := range t.Objects {
			in.visit(c, seen)
		}
	case *container.Scroll:
		in.visit(t.Content, seen)
	case *container.Split:
		in.visit(t.Leading, seen)
		in.visit(t.Trailing, seen)
	case *container.AppTabs:
		for _, it := range t.Items {
			in.visit(it.Content, seen)
		}
	case *container.DocTabs:
		for _, it := range t.Items {
			in.visit(it.Content, seen)
		}
	case *widget.PopUp:
		in.visit(t.Content, seen)
	case *widget.Card:
		in.visit(t.Content, seen)
	case *widget.Form:
		for _, it := range t.Items {
			in.visit(it.Widget, seen)
		}
	case *widget.Accordion:
		for _, it := range t.Items {
			in.visit(it.Detail, seen)
		}
	}
}

// hook chains touch in front of the handler of one interactive widget, once per widget.
func (in *instrumenter) hook(o any, seen map[any]bool) {
	switch o.(type) {
	case *widget.Button, *widget.Entry, *widget.Check, *widget.Select, *widget.RadioGroup,
		*widget.Slider, *widget.Table, *widget.List:
		seen[o] = true
	default:
		return
	}
	if in.done[o] {
		return
	}
	switch w := o.(type) {
	case *widget.Button:
		prev := w.OnTapped
		w.OnTapped = func() {
			in.around(func() {
				if prev != nil {
					prev()
				}
			})
		}
	case *widget.Entry:
		w.OnChanged = observed(in, w.OnChanged)
	case *widget.Check:
		w.OnChanged = observed(in, w.OnChanged)
	case *widget.Select:
		w.OnChanged = observed(in, w.OnChanged)
	case *widget.RadioGroup:
		w.OnChanged = observed(in, w.OnChanged)
	case *widget.Slider:
		w.OnChanged = observed(in, w.OnChanged)
	case *widget.Table:
		w.OnSelected = observed(in, w.OnSelected)
	case *widget.List:
		w.OnSelected = observed(in, w.OnSelected)
	}
}

// observed wraps a one-argument handler so that it counts as activity first; a nil
// handler stays a no-op.
func observed[T any](in *instrumenter, prev func(T)) func(T) {
	return func(v T) {
		in.around(func() {
			if prev != nil {
				prev(v)
			}
		})
	}
}
