package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// headedTable is a table of labels whose first row holds the bold column heads. rows
// reports the number of data rows; cell fills the label of a data cell, with id.Row
// counted from 0 at the first data row. Labels come to cell reset to plain text, normal
// importance and ellipsis truncation, since Fyne reuses them between cells.
func headedTable(heads []string, rows func() int, cell func(l *widget.Label, id widget.TableCellID)) *widget.Table {
	return widget.NewTable(
		func() (int, int) { return rows() + 1, len(heads) },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(id widget.TableCellID, o fyne.CanvasObject) {
			l := o.(*widget.Label)
			l.Truncation = fyne.TextTruncateEllipsis
			l.Importance = widget.MediumImportance
			if id.Row == 0 {
				l.TextStyle = fyne.TextStyle{Bold: true}
				l.SetText(heads[id.Col])
				return
			}
			l.TextStyle = fyne.TextStyle{}
			id.Row--
			cell(l, id)
		})
}
