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

	all  []vault.AuditEntry
	rows []vault.AuditEntry
	// details are the entries' details in the screen language, by sequence number.
	details map[uint64]string
	// apps are the application numbers an entry's record stands for (an enrollment's
	// own, or those of a batch's enrollments), by record ID, so the log can be searched
	// by application number as well as by enrollment ID.
	apps map[string][]string
	// actionCodes maps the action filter's labels back to the log's codes.
	actionCodes map[string]string
	table       *widget.Table
	actor       *widget.Select
	action      *widget.Select
	text        *widget.Entry
	count       *widget.Label
	verdict     *widget.Label
}

const anyChoice = "—"

func newAuditScreen(sh *shell) *auditScreen {
	a := &auditScreen{sh: sh}
	a.text = widget.NewEntry()
	a.text.SetPlaceHolder(tr("Search by application number, enrollment ID or detail"))
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

	cols := []string{"#", tr("Time"), tr("Operator"), tr("Action"), tr("Application"), tr("Record"), tr("Detail")}
	a.table = headedTable(cols, func() int { return len(a.rows) }, func(l *widget.Label, id widget.TableCellID) {
		e := a.rows[id.Row]
		app := ""
		if n := a.apps[e.Object]; len(n) == 1 {
			app = n[0]
		} else if len(n) > 1 {
			app = tr("%d applications", len(n))
		}
		l.SetText([]string{fmt.Sprint(e.Seq), e.Time.Local().Format("2006-01-02 15:04:05"), e.Actor, auditActionLabel(e.Action), app, e.Object, a.details[e.Seq]}[id.Col])
	})
	for i, w := range []float32{60, 170, 110, 170, 160, 250, 360} {
		a.table.SetColumnWidth(i, w)
	}
	filters := container.NewBorder(nil, nil, nil, container.NewHBox(a.actor, a.action, a.count), a.text)
	top := container.NewVBox(container.NewBorder(nil, nil, nil, verify, a.verdict), filters)
	a.content = container.NewBorder(top, nil, nil, nil, a.table)
	a.reload()
	sh.onOpen(a.content, a.reload)
	sh.emit("audit-screen", a)
	return a
}

func (a *auditScreen) reload() {
	all, err := enroll.AuditLog(a.sh.station)
	if err == nil {
		a.apps, err = enroll.AuditApplications(a.sh.station)
	}
	if err != nil {
		a.verdict.SetText(errText(err))
	}
	a.all = all
	a.details = make(map[uint64]string, len(all))
	actors, actions := map[string]bool{}, map[string]bool{}
	for _, e := range a.all {
		actors[e.Actor], actions[e.Action] = true, true
		a.details[e.Seq] = auditDetail(e)
	}
	a.actor.SetOptions(append([]string{anyChoice}, sortedKeys(actors)...))
	a.actionCodes = map[string]string{}
	labels := []string{}
	for _, code := range sortedKeys(actions) {
		l := auditActionLabel(code)
		a.actionCodes[l] = code
		labels = append(labels, l)
	}
	a.action.SetOptions(append([]string{anyChoice}, labels...))
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
		if s := a.action.Selected; s != "" && s != anyChoice && e.Action != a.actionCodes[s] {
			continue
		}
		if text != "" && !a.matches(e, text) {
			continue
		}
		a.rows = append(a.rows, e)
	}
	a.count.SetText(tr("%d of %d entries", len(a.rows), len(a.all)))
	a.table.Refresh()
}

// matches says whether an entry's record ID, detail (as stored or as shown) or
// application numbers contain the lower-case search text; application numbers also
// match typed without their dashes.
func (a *auditScreen) matches(e vault.AuditEntry, text string) bool {
	if strings.Contains(strings.ToLower(e.Object+" "+e.Detail+" "+a.details[e.Seq]), text) {
		return true
	}
	bare := strings.NewReplacer("-", "", " ", "").Replace(text)
	for _, no := range a.apps[e.Object] {
		no = strings.ToLower(no)
		if strings.Contains(no, text) || bare != "" && strings.Contains(strings.ReplaceAll(no, "-", ""), bare) {
			return true
		}
	}
	return false
}

// verify checks the hash chain and the signed checkpoints.
func (a *auditScreen) verify() *vault.AuditReport {
	rep, err := a.sh.station.VerifyAudit()
	a.showVerdict(rep, err)
	return rep
}

// showVerdict shows a verification's report (or, without one, its error).
func (a *auditScreen) showVerdict(rep *vault.AuditReport, err error) {
	if rep == nil {
		a.verdict.SetText(errText(err))
		a.verdict.Importance = widget.DangerImportance
		a.verdict.Refresh()
		return
	}
	if rep.OK() {
		a.verdict.SetText(tr("Chain intact: %d entries, %d signed checkpoints (signed up to entry %d).", rep.Entries, rep.Checkpoints, rep.LastSigned))
		a.verdict.Importance = widget.SuccessImportance
	} else {
		var b strings.Builder
		b.WriteString(tr("THE AUDIT LOG HAS BEEN TAMPERED WITH:"))
		for _, p := range rep.Problems {
			fmt.Fprintf(&b, "\n#%d: %s", p.Seq, auditProblemText(p))
		}
		a.verdict.SetText(b.String())
		a.verdict.Importance = widget.DangerImportance
	}
	a.verdict.Refresh()
}

// auditProblemText words one finding of the audit verification in the screens'
// language from its kind and data (vault's English Problem is for the command line).
func auditProblemText(p vault.AuditProblem) string {
	switch p.Kind {
	case vault.AuditEntryUnreadable:
		return tr("entry %s cannot be read (%s)", p.Key, p.Err)
	case vault.AuditEntryMoved:
		return tr("the entry stored under %s claims sequence %d (moved or swapped)", p.Key, p.Seq)
	case vault.AuditEntriesMissing:
		return tr("entries %d to %d are missing or out of order (found %d)", p.From, p.To-1, p.To)
	case vault.AuditChainBroken:
		return tr("does not chain to the previous entry (an entry before it was removed, edited or reordered)")
	case vault.AuditEntryEdited:
		return tr("its content does not match its hash (edited)")
	case vault.AuditHeadMismatch:
		return tr("the log ends at entry %d but its head records entry %d (entries removed or added at the end)", p.From, p.To)
	case vault.AuditCheckpointUnreadable:
		return tr("checkpoint %s cannot be read (%s)", p.Key, p.Err)
	case vault.AuditCheckpointForged:
		return tr("the checkpoint's signature is not the station's")
	case vault.AuditCheckpointMismatch:
		return tr("the signed checkpoint does not match the entry it covers (log rewritten)")
	case vault.AuditAnchorsMissing:
		return tr("the signed checkpoints with TPM anchors %d to %d are missing (removed)", p.From, p.To)
	case vault.AuditAnchorRollback:
		return tr("the TPM's anchor does not vouch for the log (the store was rolled back or replaced)")
	}
	return p.Problem
}
