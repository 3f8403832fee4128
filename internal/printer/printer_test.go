package printer_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"enrollstation/internal/cupstest"
	"enrollstation/internal/printer"
)

// TestPrintToCUPSPDF prints a PDF through a real cupsd to the cups-pdf printer and reads
// the text of the PDF that arrives.
func TestPrintToCUPSPDF(t *testing.T) {
	srv := cupstest.Start(t)
	ctx := context.Background()
	names, _, err := printer.Queues(ctx)
	if err != nil || len(names) != 1 || names[0] != srv.Printer {
		t.Fatalf("Queues = %q, %v; want [%s]", names, err, srv.Printer)
	}
	pdf, err := exec.Command("gs", "-q", "-sDEVICE=pdfwrite", "-o", "-", "-c",
		"/Helvetica findfont 20 scalefont setfont 72 700 moveto (PRINTER-TEST-4711) show showpage").Output()
	if err != nil {
		t.Fatal(err)
	}
	job, err := printer.Print(ctx, srv.Printer, "test job", pdf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(job, srv.Printer+"-") {
		t.Errorf("job ID %q", job)
	}
	got := srv.WaitPDF(t, 1, 60*time.Second)
	text, err := exec.Command("pdftotext", got[0], "-").Output()
	if err != nil || !strings.Contains(string(text), "PRINTER-TEST-4711") {
		t.Errorf("printed PDF text %q, %v", text, err)
	}

	// A queue that does not exist is a clear refusal, not a job.
	_, err = printer.Print(ctx, "no-such-printer", "x", pdf)
	var pe *printer.Error
	if !errors.As(err, &pe) {
		t.Errorf("unknown printer: %v", err)
	}
	// No queue named and no default: ErrNoPrinter.
	if _, err := printer.Print(ctx, "", "x", pdf); !errors.Is(err, printer.ErrNoPrinter) {
		t.Errorf("no default: %v", err)
	}
}
