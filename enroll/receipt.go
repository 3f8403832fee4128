package enroll

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"enrollstation/internal/printer"
	"enrollstation/internal/receipt"
	"enrollstation/vault"
)

// ReceiptText is the wording of a receipt, in the language it is printed in.
type ReceiptText struct {
	Title, Note string
	Labels      receipt.Labels
}

// EnglishReceipt is the receipt's wording for the command line.
var EnglishReceipt = ReceiptText{
	Title:  "Enrollment receipt",
	Note:   "Keep this receipt. Quote the application number when you collect your card.",
	Labels: receipt.EnglishLabels,
}

// ErrNoApplication means no enrollment on this station has the application number.
var ErrNoApplication = errors.New("no enrollment on this station has that application number")

// FindApplication returns the enrollment (with its portrait, while the station still
// keeps it) that carries the application number.
func FindApplication(st *vault.Station, appNo string) (*vault.Enrollment, error) {
	no, err := ParseApplicationNumber(appNo)
	if err != nil {
		return nil, err
	}
	var id string
	err = st.Store().View(func(tx *vault.Tx) error {
		for _, s := range vault.Statuses {
			for _, cand := range tx.EnrollmentsByStatus(s) {
				e, err := tx.EnrollmentMeta(cand)
				if err != nil {
					return err
				}
				if e.Demographics.ApplicationNumber == no {
					id = cand
					return nil
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("%w: %s", ErrNoApplication, no)
	}
	return st.Enrollment(id)
}

// ReceiptPDF is the receipt of a stored enrollment as a PDF (A5): the one definition of
// what a receipt shows, for the clerk's screen and for `receipt print`.
func ReceiptPDF(st *vault.Station, e *vault.Enrollment, t ReceiptText) ([]byte, error) {
	fonts, err := receipt.LoadFonts()
	if err != nil {
		return nil, err
	}
	set, err := Settings(st)
	if err != nil {
		return nil, err
	}
	d := e.Demographics
	r := receipt.Receipt{
		Title:             t.Title,
		ApplicationNumber: d.ApplicationNumber,
		Name:              FullName(d),
		DateOfBirth:       d.DateOfBirth,
		Station:           set.StationName, Site: set.Site,
		Clerk: e.CapturedBy, At: e.CreatedAt, Portrait: e.Portrait,
		Note:   t.Note,
		Labels: t.Labels,
	}
	var b bytes.Buffer
	if err := receipt.Write(&b, r, fonts); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ReceiptPrinter is the CUPS queue the technician chose for receipts ("" = the CUPS default).
func ReceiptPrinter(st *vault.Station) (string, error) {
	s, err := Settings(st)
	return s.ReceiptPrinter, err
}

// SetReceiptPrinter records the station's receipt printer (technician or administrator).
func SetReceiptPrinter(st *vault.Station, who *vault.Session, queue string) error {
	if !who.Has(vault.RoleTechnician) && !who.Has(vault.RoleAdmin) {
		return fmt.Errorf("%w (%s is not a technician)", vault.ErrForbidden, who.Name)
	}
	return st.Store().Update(func(tx *vault.Tx) error {
		s, err := tx.Settings()
		if err != nil {
			return err
		}
		s.ReceiptPrinter = queue
		if err := tx.PutSettings(s); err != nil {
			return err
		}
		return tx.Audit(who.Name, "station.printer", "", "receipt printer "+printerName(queue))
	})
}

func printerName(q string) string {
	if q == "" {
		return "(CUPS default)"
	}
	return q
}

// PrintReceipt prints the receipt PDF of e on queue ("" = the station's receipt printer)
// and records it in the audit log. Clerks, supervisors and administrators may print.
func PrintReceipt(ctx context.Context, st *vault.Station, who *vault.Session, e *vault.Enrollment, pdf []byte, queue string) (job string, err error) {
	if !who.Has(vault.RoleClerk) && !who.Has(vault.RoleSupervisor) && !who.Has(vault.RoleAdmin) {
		return "", fmt.Errorf("%w (%s may not print receipts)", vault.ErrForbidden, who.Name)
	}
	if queue == "" {
		if queue, err = ReceiptPrinter(st); err != nil {
			return "", err
		}
	}
	job, err = printer.Print(ctx, queue, "receipt "+e.Demographics.ApplicationNumber, pdf)
	if err != nil {
		return "", err
	}
	err = st.Store().Update(func(tx *vault.Tx) error {
		return tx.Audit(who.Name, "receipt.print", e.ID,
			fmt.Sprintf("application %s, printer %s, job %s", e.Demographics.ApplicationNumber, printerName(queue), job))
	})
	return job, err
}
