package app

import (
	"fmt"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
	"enrollstation/vault"
)

// auditScreen lists the audit log, newest first, with filters and a chain check.
type auditScreen struct {
	sh      *shell
	content fyne.CanvasObject

	all     []vault.AuditEntry
	rows    []vault.AuditEntry
	table   *widget.Table
	actor   *widget.Select
	action  *widget.Select
	text    *widget.Entry
	count   *widget.Label
	verdict *widget.Label
}

const anyChoice = "—"

func newAuditScreen(sh *shell) *auditScreen {
	a := &auditScreen{sh: sh}
	a.text = widget.NewEntry()
	a.text.SetPlaceHolder(tr("Filter by record ID or detail"))
	a.text.OnChanged = func(string) { a.apply() }
	a.actor = widget.NewSelect(nil, func(string) { a.apply() })
	a.actor.PlaceHolder = tr("Any operator")
	a.action = widget.NewSelect(nil, func(string) { a.apply() })
	a.action.PlaceHolder = tr("Any action")
	a.count = widget.NewLabel("")
	a.verdict = widget.NewLabel("")
	a.verdict.Wrapping = fyne.TextWrapWord
	verify := widget.NewButtonWithIcon(tr("Verify chain"), theme.ConfirmIcon(), func() { a.verify() })
	verify.Importance = widget.HighImportance

	cols := []string{"#", tr("Time"), tr("Operator"), tr("Action"), tr("Record"), tr("Detail")}
	a.table = headedTable(cols, func() int { return len(a.rows) }, func(l *widget.Label, id widget.TableCellID) {
		e := a.rows[id.Row]
		l.SetText([]string{fmt.Sprint(e.Seq), e.Time.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Action, e.Object, e.Detail}[id.Col])
	})
	for i, w := range []float32{60, 170, 120, 180, 260, 480} {
		a.table.SetColumnWidth(i, w)
	}
	filters := container.NewBorder(nil, nil, nil, container.NewHBox(a.actor, a.action, a.count), a.text)
	top := container.NewVBox(container.NewBorder(nil, nil, nil, verify, a.verdict), filters)
	a.content = container.NewBorder(top, nil, nil, nil, a.table)
	a.reload()
	return a
}

func (a *auditScreen) reload() {
	all, err := enroll.AuditLog(a.sh.station)
	if err != nil {
		a.verdict.SetText(errText(err))
	}
	a.all = all
	actors, actions := map[string]bool{}, map[string]bool{}
	for _, e := range a.all {
		actors[e.Actor], actions[e.Action] = true, true
	}
	a.actor.SetOptions(append([]string{anyChoice}, sortedKeys(actors)...))
	a.action.SetOptions(append([]string{anyChoice}, sortedKeys(actions)...))
	a.apply()
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (a *auditScreen) apply() {
	text := strings.ToLower(strings.TrimSpace(a.text.Text))
	a.rows = a.rows[:0]
	for _, e := range a.all {
		if s := a.actor.Selected; s != "" && s != anyChoice && e.Actor != s {
			continue
		}
		if s := a.action.Selected; s != "" && s != anyChoice && e.Action != s {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(e.Object+" "+e.Detail), text) {
			continue
		}
		a.rows = append(a.rows, e)
	}
	a.count.SetText(tr("%d of %d entries", len(a.rows), len(a.all)))
	a.table.Refresh()
}

// verify checks the hash chain and the signed checkpoints.
func (a *auditScreen) verify() *vault.AuditReport {
	rep, err := a.sh.station.VerifyAudit()
	if rep == nil {
		a.verdict.SetText(errText(err))
		a.verdict.Importance = widget.DangerImportance
		a.verdict.Refresh()
		return nil
	}
	if rep.OK() {
		a.verdict.SetText(tr("Chain intact: %d entries, %d signed checkpoints (signed up to entry %d).", rep.Entries, rep.Checkpoints, rep.LastSigned))
		a.verdict.Importance = widget.SuccessImportance
	} else {
		var b strings.Builder
		b.WriteString(tr("THE AUDIT LOG HAS BEEN TAMPERED WITH:"))
		for _, p := range rep.Problems {
			fmt.Fprintf(&b, "\n#%d: %s", p.Seq, p.Problem)
		}
		a.verdict.SetText(b.String())
		a.verdict.Importance = widget.DangerImportance
	}
	a.verdict.Refresh()
	return rep
}
