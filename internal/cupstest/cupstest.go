// Package cupstest gives tests a real CUPS server: cupsd running as root in a temporary
// directory with its own configuration, loopback port and spool, and one cups-pdf virtual
// printer that writes each job as a PDF into a folder the test reads. The test's
// environment gets CUPS_SERVER pointing at it, so lp and lpstat talk to it alone.
package cupstest

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Server is a running cupsd with one cups-pdf printer.
type Server struct {
	Addr    string // host:port of the server (also in CUPS_SERVER)
	Printer string // name of the cups-pdf queue
	Out     string // folder cups-pdf writes the printed PDFs to
	conf    string
}

const cupsPDFBackend = "/usr/lib/cups/backend/cups-pdf"

// Start runs cupsd and adds the printer, or skips the test with the reason when it cannot
// (not root, or cups / printer-driver-cups-pdf missing: run scripts/setup). It is
// stopped, and its files removed, when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("cupstest: cupsd with the cups-pdf backend needs root (cups-pdf runs as root)")
	}
	cupsd, err := exec.LookPath("cupsd")
	if err != nil {
		if cupsd, err = exec.LookPath("/usr/sbin/cupsd"); err != nil {
			t.Skip("cupstest: cupsd missing (install cups: run scripts/setup)")
		}
	}
	ppd := "/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd"
	for _, f := range []string{cupsPDFBackend, ppd} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("cupstest: %s missing (install printer-driver-cups-pdf: run scripts/setup)", f)
		}
	}
	for _, tool := range []string{"lp", "lpadmin"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("cupstest: %s missing (install cups-client: run scripts/setup)", tool)
		}
	}
	// cupsd runs filters as user lp: its folders must be reachable, so not t.TempDir()'s 0700.
	dir, err := os.MkdirTemp("", "cupstest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"spool", "spool/tmp", "cache", "state", "logs", "out", "cups-pdf"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, "spool", "tmp"), 0o1777)
	port := freePort(t)
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Printer: fmt.Sprintf("cupstest%d", port), Out: filepath.Join(dir, "out")}
	write(t, filepath.Join(dir, "cupsd.conf"), fmt.Sprintf(`Listen %s
LogLevel info
WebInterface No
Browsing No
DefaultAuthType None
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order allow,deny
    Allow all
  </Limit>
</Policy>
`, s.Addr))
	write(t, filepath.Join(dir, "cups-files.conf"), strings.ReplaceAll(`ServerRoot DIR
RequestRoot DIR/spool
TempDir DIR/spool/tmp
CacheDir DIR/cache
StateDir DIR/state
AccessLog DIR/logs/access_log
ErrorLog DIR/logs/error_log
PageLog DIR/logs/page_log
Printcap DIR/printcap
ServerBin /usr/lib/cups
DataDir /usr/share/cups
SystemGroup root
`, "DIR", dir))
	// cups-pdf reads its configuration from /etc/cups only; a per-queue file named after
	// this server's queue keeps the system's own cups-pdf queue untouched.
	s.conf = fmt.Sprintf("/etc/cups/cups-pdf-%s.conf", s.Printer)
	write(t, s.conf, strings.ReplaceAll("Out DIR/out\nAnonDirName DIR/out\nSpool DIR/cups-pdf\nLog DIR/logs\nUserUMask 0022\nGrp root\n", "DIR", dir))
	t.Cleanup(func() { os.Remove(s.conf) })

	cmd := exec.Command(cupsd, "-f", "-c", filepath.Join(dir, "cupsd.conf"), "-s", filepath.Join(dir, "cups-files.conf"))
	logf, err := os.Create(filepath.Join(dir, "logs", "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("cupstest: starting cupsd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	// Wait until the scheduler answers on its port.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "logs", "stdout"))
			t.Fatalf("cupstest: cupsd exited: %s", log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("cupstest: cupsd did not start listening in 20 s")
		}
	}
	t.Setenv("CUPS_SERVER", s.Addr)
	if out, err := exec.Command("lpadmin", "-h", s.Addr, "-p", s.Printer, "-E", "-v", "cups-pdf:/"+s.Printer, "-P", ppd).CombinedOutput(); err != nil {
		t.Fatalf("cupstest: lpadmin: %v: %s", err, out)
	}
	return s
}

// WaitPDF waits (up to timeout) for n PDFs to arrive from the printer and returns their paths.
func (s *Server) WaitPDF(t testing.TB, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m, _ := filepath.Glob(filepath.Join(s.Out, "*.pdf"))
		if len(m) >= n {
			// cups-pdf writes in place: wait until ghostscript has finished the file.
			if complete(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("cupstest: %d PDF(s) arrived in %v, want %d", len(m), timeout, n)
		}
		time.Sleep(100 * time.Millisecond) // polling a folder another process writes
	}
}

func complete(files []string) bool {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b[max(0, len(b)-64):]), "%%EOF") {
			return false
		}
	}
	return true
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Text is the text of a PDF (pdftotext).
func Text(t testing.TB, pdf string) string {
	t.Helper()
	out, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("cupstest: pdftotext %s: %v", pdf, err)
	}
	return string(out)
}

// PageJPEG renders the first page of a PDF as a JPEG (pdftoppm, 150 dpi), e.g. to look
// for the portrait's face in what was printed.
func PageJPEG(t testing.TB, pdf string) []byte {
	t.Helper()
	out, err := exec.Command("pdftoppm", "-jpeg", "-r", "150", "-singlefile", "-f", "1", "-l", "1", pdf).Output()
	if err != nil {
		t.Fatalf("cupstest: pdftoppm %s: %v", pdf, err)
	}
	return out
}

// PageQR decodes the QR code on the first page of a PDF (the receipt's application
// number): cups-pdf re-distils the job through Ghostscript, which turns text into
// outlines, so the printed page's QR code is what can be read back.
func PageQR(t testing.TB, pdf string) string {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(PageJPEG(t, pdf)))
	if err != nil {
		t.Fatalf("cupstest: rendered page: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("cupstest: %v", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("cupstest: no QR code readable on the printed page: %v", err)
	}
	return res.GetText()
}
