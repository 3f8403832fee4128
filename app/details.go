package app

import (
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
)

// detailsForm is step 1: the citizen's details with inline validation.
type detailsForm struct {
	e       *enrollment
	entries map[string]*escEntry // by workflow field name
	sex     *widget.RadioGroup
	errs    map[string]*widget.Label
	next    *widget.Button
	summary *widget.Label
	shown   bool // validation messages are on show (after the first Continue)
	body    *fyne.Container
}

// detailsFields are the form's entries in tab order: field, label, placeholder.
func detailsFields() [][3]string {
	return [][3]string{
		{enroll.FieldFamilyName, tr("Family name"), tr("e.g. 陈 or Chen")},
		{enroll.FieldGivenNames, tr("Given names"), tr("e.g. 美玲 or Mei Ling")},
		{enroll.FieldDateOfBirth, tr("Date of birth"), "YYYY-MM-DD"},
		{enroll.FieldNationality, tr("Nationality"), tr("ICAO code, e.g. CHN")},
		{enroll.FieldPlaceOfBirth, tr("Place of birth"), ""},
		{enroll.FieldPreviousID, tr("Previous ID number"), tr("optional")},
		{enroll.FieldPhone, tr("Phone"), tr("optional, e.g. +85291234567")},
		{enroll.FieldAddressLines + ".0", tr("Address line 1"), ""},
		{enroll.FieldAddressLines + ".1", tr("Address line 2"), tr("optional")},
		{enroll.FieldLocality, tr("Town or city"), ""},
		{enroll.FieldPostalCode, tr("Postal code"), tr("optional")},
		{enroll.FieldCountry, tr("Country"), tr("ICAO code, e.g. HKG")},
	}
}

func (e *enrollment) showDetails() {
	f := &detailsForm{e: e, entries: map[string]*escEntry{}, errs: map[string]*widget.Label{}}
	errLabel := func(field string) *widget.Label {
		l := widget.NewLabel("")
		l.Importance = widget.DangerImportance
		l.Hide()
		f.errs[field] = l
		return l
	}
	row := func(label string, input fyne.CanvasObject, field string) fyne.CanvasObject {
		return container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(170, 36), widget.NewLabel(label)), nil,
			container.NewVBox(input, errLabel(field)))
	}
	var left, right []fyne.CanvasObject
	for i, fd := range detailsFields() {
		en := newEscEntry(e.cancel)
		en.SetPlaceHolder(fd[2])
		en.OnSubmitted = func(string) { f.submit() }
		en.OnChanged = func(string) { e.sh.touch(); f.revalidate() }
		f.entries[fd[0]] = en
		field := fd[0]
		if strings.HasPrefix(field, enroll.FieldAddressLines) {
			field = enroll.FieldAddressLines
			if strings.HasSuffix(fd[0], ".1") {
				field = enroll.FieldAddressLines + ".extra" // errors show under line 1
			}
		}
		r := row(fd[1], en, field)
		if i < 7 {
			left = append(left, r)
		} else {
			right = append(right, r)
		}
		if fd[0] == enroll.FieldDateOfBirth {
			f.sex = widget.NewRadioGroup([]string{"F", "M", "X"}, func(string) { e.sh.touch(); f.revalidate() })
			f.sex.Horizontal = true
			left = append(left, row(tr("Sex"), f.sex, enroll.FieldSex))
		}
	}
	f.load(e.details)
	f.next = widget.NewButtonWithIcon(tr("Continue to capture"), theme.NavigateNextIcon(), f.submit)
	f.next.Importance = widget.HighImportance
	back := widget.NewButtonWithIcon(tr("Cancel"), theme.CancelIcon(), e.cancel)
	f.summary = widget.NewLabel("")
	f.summary.Importance = widget.DangerImportance
	hint := widget.NewLabel(tr("Tab moves between fields; Enter continues; Esc cancels."))
	hint.TextStyle.Italic = true // the disabled-grey low importance was unreadable on the dark theme
	cols := container.NewGridWithColumns(2, container.NewVBox(left...), container.NewVBox(right...))
	bottom := container.NewHBox(back, hint, layout.NewSpacer(), f.summary, f.next)
	f.body = container.NewBorder(nil, bottom, nil, nil, container.NewVScroll(cols))
	e.stepView = f
	e.sh.setCurrent(f)
	e.sh.show(e.frame(1, f.body))
	e.setKeys(f.submit, e.cancel)
	e.sh.win.Canvas().Focus(f.entries[enroll.FieldFamilyName])
}

// cancel drops the enrollment in progress and goes home.
func (e *enrollment) cancel() { e.sh.home() }

// read collects the form.
func (f *detailsForm) read() enroll.Details {
	g := func(k string) string { return f.entries[k].Text }
	return enroll.Details{
		FamilyName: g(enroll.FieldFamilyName), GivenNames: g(enroll.FieldGivenNames),
		DateOfBirth: g(enroll.FieldDateOfBirth), Sex: f.sex.Selected,
		Nationality: g(enroll.FieldNationality), PlaceOfBirth: g(enroll.FieldPlaceOfBirth),
		AddressLines: []string{g(enroll.FieldAddressLines + ".0"), g(enroll.FieldAddressLines + ".1")},
		Locality:     g(enroll.FieldLocality), PostalCode: g(enroll.FieldPostalCode),
		Country: g(enroll.FieldCountry), PreviousID: g(enroll.FieldPreviousID), Phone: g(enroll.FieldPhone),
	}.Normalize()
}

// load fills the form (when coming back from a later step).
func (f *detailsForm) load(d enroll.Details) {
	set := func(k, v string) { f.entries[k].SetText(v) }
	set(enroll.FieldFamilyName, d.FamilyName)
	set(enroll.FieldGivenNames, d.GivenNames)
	set(enroll.FieldDateOfBirth, d.DateOfBirth)
	set(enroll.FieldNationality, d.Nationality)
	set(enroll.FieldPlaceOfBirth, d.PlaceOfBirth)
	set(enroll.FieldPreviousID, d.PreviousID)
	set(enroll.FieldPhone, d.Phone)
	for i := 0; i < 2 && i < len(d.AddressLines); i++ {
		set(enroll.FieldAddressLines+"."+string(rune('0'+i)), d.AddressLines[i])
	}
	set(enroll.FieldLocality, d.Locality)
	set(enroll.FieldPostalCode, d.PostalCode)
	set(enroll.FieldCountry, d.Country)
	f.sex.SetSelected(d.Sex)
}

// validate shows the messages of every bad field; it returns the details when all pass.
func (f *detailsForm) validate() (enroll.Details, bool) {
	d := f.read()
	err := d.Validate(f.e.sh.now())
	var de *enroll.DetailsError
	bad := map[string]string{}
	if errors.As(err, &de) {
		bad = de.Fields
	} else if err != nil {
		f.summary.SetText(err.Error())
		return d, false
	}
	for field, l := range f.errs {
		if msg, ok := bad[field]; ok {
			l.SetText(tr(msg))
			l.Show()
		} else {
			l.Hide()
		}
	}
	if len(bad) > 0 {
		f.summary.SetText(tr("%d fields need attention", len(bad)))
	} else {
		f.summary.SetText("")
	}
	// Messages change the rows' heights and the summary's width: lay out again.
	if f.body != nil {
		f.body.Refresh()
	}
	return d, len(bad) == 0
}

// revalidate updates the messages as the clerk types, once they have been shown.
func (f *detailsForm) revalidate() {
	if f.shown {
		f.validate()
	}
}

// submit validates and goes on to capture, or focuses the first bad field.
func (f *detailsForm) submit() {
	f.shown = true
	d, ok := f.validate()
	if !ok {
		for _, fd := range detailsFields() {
			field := fd[0]
			if strings.HasPrefix(field, enroll.FieldAddressLines) {
				field = enroll.FieldAddressLines
			}
			if l := f.errs[field]; l != nil && l.Visible() {
				f.e.sh.win.Canvas().Focus(f.entries[fd[0]])
				return
			}
		}
		return
	}
	f.e.details = d
	f.load(d) // show the cleaned form (codes in capitals, phone without spaces) on return
	if f.e.appNo == "" {
		no, err := enroll.NewApplicationNumber(f.e.sh.now())
		if err != nil {
			f.summary.SetText(err.Error())
			return
		}
		f.e.appNo = no
	}
	f.e.showCapture()
}

// escEntry is an entry on which Esc runs onEsc (going back), as it does where no entry has
// the focus: Fyne's Entry keeps Esc to itself.
type escEntry struct {
	widget.Entry
	onEsc func()
}

func newEscEntry(onEsc func()) *escEntry {
	e := &escEntry{onEsc: onEsc}
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey runs onEsc for Esc and edits as usual otherwise.
func (e *escEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape && e.onEsc != nil {
		e.onEsc()
		return
	}
	e.Entry.TypedKey(k)
}
