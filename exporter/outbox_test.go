package exporter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"enrollstation/internal/testenv"
)

// builtOutbox is a new outbox holding one bundle of recs.
func builtOutbox(t *testing.T, f fixture, recs []Record) (*Outbox, BundleFile) {
	t.Helper()
	ob, err := OpenOutbox(filepath.Join(t.TempDir(), "outbox"))
	if err != nil {
		t.Fatal(err)
	}
	bf, err := ob.Build(f.params(recs, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	return ob, bf
}

// esbFiles lists the bundle files (not dot-files) in dir.
func esbFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+FileExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOutboxDirTarget(t *testing.T) {
	f := newFixture(t)
	ob, bf := builtOutbox(t, f, f.synthRecords(t, 3, 64))
	pend, err := ob.Pending()
	if err != nil || len(pend) != 1 || pend[0] != bf {
		t.Fatalf("pending = %+v, %v; want [%+v]", pend, err, bf)
	}
	if _, err := ob.Receipt(bf.ID); !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("receipt before delivery: %v", err)
	}
	usb := t.TempDir()
	target := &DirTarget{Dir: usb}
	r, err := ob.Deliver(context.Background(), target, bf.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Location != filepath.Join(usb, bf.ID+FileExt) || r.Size != bf.Size {
		t.Errorf("receipt %+v", r)
	}
	data, err := os.ReadFile(r.Location)
	if err != nil || sha256.Sum256(data) != bf.SHA256 {
		t.Fatalf("delivered copy differs: %v", err)
	}
	if _, err := f.open(data, OpenOptions{}); err != nil {
		t.Fatalf("delivered copy does not verify: %v", err)
	}
	if pend, _ := ob.Pending(); len(pend) != 0 {
		t.Errorf("still pending after delivery: %+v", pend)
	}
	// Delivering again neither copies nor fails: the receipt stands.
	os.Remove(r.Location)
	r2, err := ob.Deliver(context.Background(), target, bf.ID)
	if err != nil || r2 != r {
		t.Fatalf("second delivery: %+v, %v", r2, err)
	}
	if len(esbFiles(t, usb)) != 0 {
		t.Errorf("second delivery copied again")
	}
	// A different bundle under the same name at the target is refused, not overwritten.
	other := &DirTarget{Dir: t.TempDir()}
	os.WriteFile(filepath.Join(other.Dir, bf.ID+FileExt), []byte("not it"), 0o600)
	if _, err := other.Deliver(context.Background(), bf); !errors.Is(err, ErrNotDelivered) {
		t.Errorf("conflicting file at target: %v", err)
	}
	// A missing medium is a clear error.
	if _, err := (&DirTarget{Dir: filepath.Join(usb, "absent")}).Deliver(context.Background(), bf); !errors.Is(err, ErrNotDelivered) {
		t.Errorf("absent target: %v", err)
	}
}

// TestHelperKilledChild is the child process of the kill tests; it does nothing unless
// started by them.
func TestHelperKilledChild(t *testing.T) {
	mode := os.Getenv("EXPORTER_CHILD")
	if mode == "" {
		t.Skip("child process of the kill tests")
	}
	stop := func(step string) {
		if step == os.Getenv("EXPORTER_KILL_AT") {
			os.Stdout.WriteString("ready\n")
			io.ReadAll(os.Stdin) // the parent kills us while we wait here
		}
	}
	switch mode {
	case "deliver":
		bf := BundleFile{ID: os.Getenv("EXPORTER_ID"), Path: os.Getenv("EXPORTER_SRC")}
		bf.SHA256, bf.Size, _ = hashFile(bf.Path)
		d := &DirTarget{Dir: os.Getenv("EXPORTER_DIR"), hook: stop}
		if _, err := d.Deliver(context.Background(), bf); err != nil {
			t.Fatal(err)
		}
	case "build":
		f := newFixture(t)
		ob, err := OpenOutbox(os.Getenv("EXPORTER_DIR"))
		if err != nil {
			t.Fatal(err)
		}
		ob.hook = stop
		if _, err := ob.Build(f.params(f.synthRecords(t, 2, 64), 1, nil)); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("not killed") // the parent only accepts death by SIGKILL
}

// runKilled starts the helper child and SIGKILLs it when it reports reaching the step.
func runKilled(t *testing.T, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledChild$")
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
	}
	if !ready {
		cmd.Wait()
		t.Fatalf("child never reached the kill point")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v", err)
	}
}

func TestKilledDeliveryLeavesNothingPartial(t *testing.T) {
	f := newFixture(t)
	ob, bf := builtOutbox(t, f, f.synthRecords(t, 3, 200))
	for _, step := range []string{"partial-written", "renamed"} {
		t.Run(step, func(t *testing.T) {
			usb := t.TempDir()
			runKilled(t, "EXPORTER_CHILD=deliver", "EXPORTER_KILL_AT="+step, "EXPORTER_ID="+bf.ID,
				"EXPORTER_SRC="+bf.Path, "EXPORTER_DIR="+usb)
			for _, p := range esbFiles(t, usb) {
				// Only a complete bundle may carry the final name.
				if sum, _, _ := hashFile(p); sum != bf.SHA256 {
					t.Fatalf("killed at %s: partial bundle %s at the target", step, p)
				}
			}
			if step == "partial-written" && len(esbFiles(t, usb)) != 0 {
				t.Fatalf("killed before rename but a bundle is visible")
			}
			r, err := ob.Deliver(context.Background(), &DirTarget{Dir: usb}, bf.ID)
			if err != nil {
				t.Fatalf("re-running delivery: %v", err)
			}
			got, err := os.ReadFile(r.Location)
			if err != nil || sha256.Sum256(got) != bf.SHA256 {
				t.Fatalf("re-run did not complete the bundle: %v", err)
			}
			if ents, _ := os.ReadDir(usb); len(ents) != 1 {
				t.Errorf("target holds %d entries after the re-run, want just the bundle", len(ents))
			}
			os.Remove(filepath.Join(ob.Dir(), bf.ID+receiptSuffix)) // next subtest delivers again
		})
	}
}

func TestKilledBuildLeavesNothingPartial(t *testing.T) {
	dir := t.TempDir()
	runKilled(t, "EXPORTER_CHILD=build", "EXPORTER_KILL_AT=partial-written", "EXPORTER_DIR="+dir)
	if len(esbFiles(t, dir)) != 0 {
		t.Fatal("a killed build left a bundle in the outbox")
	}
	ob, err := OpenOutbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("reopening the outbox left %d entries", len(ents))
	}
	f := newFixture(t)
	if _, err := ob.Build(f.params(f.synthRecords(t, 2, 64), 1, nil)); err != nil {
		t.Fatal(err)
	}
	if pend, _ := ob.Pending(); len(pend) != 1 {
		t.Fatalf("re-run: %d pending, want 1", len(pend))
	}
}

// flakyFront sits in front of the receiver and fails requests in turn: a 503, a dropped
// connection before the body is read, a stored bundle whose response is lost, then it lets
// requests through.
type flakyFront struct {
	next http.Handler
	mu   sync.Mutex
	n    int
	log  []int // status the receiver gave per request that reached it
}

type recorder struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
	hdr    http.Header
}

func (r *recorder) Header() http.Header         { return r.hdr }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(b []byte) (int, error) { return r.buf.Write(b) }

func (f *flakyFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	hang := func() {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}
	switch n {
	case 1:
		http.Error(w, "try later", http.StatusServiceUnavailable)
	case 2:
		hang()
	case 3:
		rec := &recorder{hdr: http.Header{}}
		f.next.ServeHTTP(rec, r)
		f.mu.Lock()
		f.log = append(f.log, rec.status)
		f.mu.Unlock()
		hang() // stored, but the station never hears so
	case 4:
		http.Error(w, "overloaded", http.StatusBadGateway)
	default:
		rec := &recorder{hdr: http.Header{}}
		f.next.ServeHTTP(rec, r)
		f.mu.Lock()
		f.log = append(f.log, rec.status)
		f.mu.Unlock()
		for k, v := range rec.hdr {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		w.Write(rec.buf.Bytes())
	}
}

func TestUploadExactlyOnce(t *testing.T) {
	f := newFixture(t)
	ob, bf := builtOutbox(t, f, f.synthRecords(t, 3, 200))
	store := t.TempDir()
	rc := NewReceiver(store, &f.station.PublicKey)
	front := &flakyFront{next: rc}
	srv, target := startReceiver(t, front, rc, f.station)
	target.Attempts, target.Backoff, target.MaxBackoff = 10, time.Millisecond, 5*time.Millisecond
	r, err := ob.Deliver(context.Background(), target, bf.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Location != srv.URL+"/bundles/"+bf.ID {
		t.Errorf("location %s", r.Location)
	}
	if want := []int{http.StatusCreated, http.StatusOK}; len(front.log) != 2 || front.log[0] != want[0] || front.log[1] != want[1] {
		t.Errorf("receiver statuses %v, want %v (stored once, then confirmed the copy it had)", front.log, want)
	}
	files := esbFiles(t, store)
	if len(files) != 1 {
		t.Fatalf("receiver holds %d bundles, want 1", len(files))
	}
	if ents, _ := os.ReadDir(store); len(ents) != 1 {
		t.Errorf("receiver directory has %d entries (partials left?)", len(ents))
	}
	got, _ := os.ReadFile(files[0])
	if sha256.Sum256(got) != bf.SHA256 {
		t.Fatal("stored bundle differs")
	}
	if _, err := f.open(got, OpenOptions{}); err != nil {
		t.Fatalf("uploaded bundle does not verify: %v", err)
	}
	// Delivering again uses the receipt: nothing reaches the server.
	before := front.n
	if _, err := ob.Deliver(context.Background(), target, bf.ID); err != nil || front.n != before {
		t.Errorf("re-delivery contacted the server (%d→%d requests): %v", before, front.n, err)
	}
}

func TestUploadFailures(t *testing.T) {
	f := newFixture(t)
	ob, bf := builtOutbox(t, f, f.synthRecords(t, 1, 32))
	// A plain-http server that would confirm anything: a redirect to it must not count.
	confirm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		w.Write([]byte(`{"bundle_id":"` + bf.ID + `","sha256":"` + hexs(bf.SHA256[:]) + `","size":` + fmt.Sprint(bf.Size) + `}`))
	}))
	defer confirm.Close()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantReq int
		reason  string
	}{
		{"always 500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }, 3, "error"},
		{"403 is final", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 403) }, 1, CodeUnregisteredClient},
		{"wrong hash confirmed", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(201)
			w.Write([]byte(`{"bundle_id":"` + bf.ID + `","sha256":"00","size":1}`))
		}, 1, "error"},
		{"redirect to plain http", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, confirm.URL+r.URL.Path, http.StatusFound)
		}, 1, CodeRedirect},
		{"permanent redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, confirm.URL+r.URL.Path, http.StatusPermanentRedirect)
		}, 1, CodeRedirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				mu.Unlock()
				tt.handler(w, r)
			}))
			defer srv.Close()
			target := &HTTPTarget{URL: srv.URL, Client: srv.Client(), Attempts: 3, Backoff: time.Millisecond}
			_, err := ob.Deliver(context.Background(), target, bf.ID)
			if !errors.Is(err, ErrNotDelivered) || n != tt.wantReq || Reason(err) != tt.reason {
				t.Fatalf("got %v (%s) after %d requests, want ErrNotDelivered (%s) after %d", err, Reason(err), n, tt.reason, tt.wantReq)
			}
			if _, err := ob.Receipt(bf.ID); !errors.Is(err, ErrNotDelivered) {
				t.Fatalf("a receipt was written for a failed upload")
			}
		})
	}
}

func TestReceiverRejects(t *testing.T) {
	f := newFixture(t)
	store := t.TempDir()
	rc := NewReceiver(store, &f.station.PublicKey)
	srv, target := startReceiver(t, rc, rc, f.station)
	client, err := target.client()
	if err != nil {
		t.Fatal(err)
	}
	put := func(id, hash, body string) int {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/bundles/"+id, strings.NewReader(body))
		req.Header.Set(headerBundleHash, hash)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	sum := sha256.Sum256([]byte("abc"))
	good := hexs(sum[:])
	for _, tc := range []struct {
		id, hash, body string
		want           int
	}{
		{"b1", good, "abd", http.StatusUnprocessableEntity},
		{"b1", "zz", "abc", http.StatusBadRequest},
		{"..", good, "abc", http.StatusNotFound},
		{"b1", good, "abc", http.StatusCreated},
		{"b1", good, "abc", http.StatusOK},
		{"b1", hexs(make([]byte, 32)), "xyz", http.StatusConflict},
	} {
		if got := put(tc.id, tc.hash, tc.body); got != tc.want {
			t.Errorf("PUT %s %q: %d, want %d", tc.id, tc.body, got, tc.want)
		}
	}
	if ents, _ := os.ReadDir(store); len(ents) != 1 {
		t.Errorf("receiver dir has %d entries, want 1", len(ents))
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		http bool
	}{
		{"https://issuer.example/upload", true, true},
		{"http://127.0.0.1:8080", false, false}, // mutual TLS only
		{"http://issuer.example", false, false},
		{"https://user:secret@issuer.example/upload", false, false},
		{"https://issuer.example/upload?token=secret", false, false},
		{"https://issuer.example/upload#secret", false, false},
		{"/media/usb", true, false},
		{"", false, false},
	} {
		tg, err := ParseTarget(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: the error repeats the secret: %v", tc.in, err)
		}
		if strings.Contains(tc.in, "secret") && Reason(err) != CodeCredentialsInURL {
			t.Errorf("%q: reason %s", tc.in, Reason(err))
		}
		if err == nil {
			_, isHTTP := tg.(*HTTPTarget)
			if isHTTP != tc.http {
				t.Errorf("%q: %T", tc.in, tg)
			}
		}
	}
}

func TestDirTargetRejectsCorruptCopy(t *testing.T) {
	f := newFixture(t)
	ob, bf := builtOutbox(t, f, f.synthRecords(t, 1, 32))
	usb := t.TempDir()
	// The medium corrupts the file after it is written: the re-read must catch it.
	d := &DirTarget{Dir: usb, hook: func(step string) {
		if step == "renamed" {
			p := filepath.Join(usb, bf.ID+FileExt)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 1
			os.WriteFile(p, b, 0o600)
		}
	}}
	if _, err := ob.Deliver(context.Background(), d, bf.ID); !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("corrupt copy: got %v, want ErrNotDelivered", err)
	}
	if len(esbFiles(t, usb)) != 0 {
		t.Fatal("a corrupt bundle was left at the target")
	}
	if _, err := ob.Receipt(bf.ID); !errors.Is(err, ErrNotDelivered) {
		t.Fatal("a receipt was written for a corrupt copy")
	}
	// The next attempt, on a sound medium, completes.
	if _, err := ob.Deliver(context.Background(), &DirTarget{Dir: usb}, bf.ID); err != nil {
		t.Fatal(err)
	}
}

// A USB medium too small for the bundle is refused before copying, with how much space
// there is and how much is needed, and nothing is left on it; a larger medium then takes
// the same bundle. The medium is a real 2 MB tmpfs.
func TestDirTargetFullMedium(t *testing.T) {
	f := newFixture(t)
	ob, bf := builtOutbox(t, f, f.photoRecords(t, 10))
	if bf.Size < 3<<20 || bf.Size > 7<<20 {
		t.Fatalf("bundle of %d bytes: too small for this test", bf.Size)
	}
	usb := testenv.SmallDisk(t, 2)
	_, err := ob.Deliver(context.Background(), &DirTarget{Dir: usb}, bf.ID)
	var full *NoSpaceError
	if !errors.As(err, &full) || !errors.Is(err, ErrNotDelivered) || full.Need <= uint64(bf.Size) || full.Free > 2<<20 {
		t.Fatalf("delivery to a full medium: %v", err)
	}
	if !strings.Contains(err.Error(), "MB free but the bundle needs") {
		t.Errorf("error %q does not say the sizes", err)
	}
	if ents, _ := os.ReadDir(usb); len(ents) != 0 {
		t.Errorf("left on the medium: %v", ents)
	}
	if pend, _ := ob.Pending(); len(pend) != 1 {
		t.Fatalf("the bundle is no longer pending: %v", pend)
	}
	if err := syscall.Mount("tmpfs", usb, "tmpfs", syscall.MS_REMOUNT, "size=8m"); err != nil {
		t.Fatal(err)
	}
	r, err := ob.Deliver(context.Background(), &DirTarget{Dir: usb}, bf.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(r.Location)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.open(data, OpenOptions{}); err != nil {
		t.Fatalf("delivered copy does not verify: %v", err)
	}
}

// A receiver whose disk is full answers 507, keeps nothing (no partial file), and the
// station keeps the bundle pending, naming the status; with room again the upload succeeds.
func TestUploadToFullReceiver(t *testing.T) {
	f := newFixture(t)
	ob, bf := builtOutbox(t, f, f.photoRecords(t, 10))
	store := testenv.SmallDisk(t, 2)
	rc := NewReceiver(store, &f.station.PublicKey)
	_, target := startReceiver(t, rc, rc, f.station)
	target.Attempts, target.Backoff = 2, time.Millisecond
	_, err := ob.Deliver(context.Background(), target, bf.ID)
	if !errors.Is(err, ErrNotDelivered) || !strings.Contains(err.Error(), "507") {
		t.Fatalf("upload to a full receiver: %v", err)
	}
	if ents, _ := os.ReadDir(store); len(ents) != 0 {
		t.Errorf("the receiver kept %v", ents)
	}
	if pend, _ := ob.Pending(); len(pend) != 1 {
		t.Fatalf("pending after the refusal: %v", pend)
	}
	if err := syscall.Mount("tmpfs", store, "tmpfs", syscall.MS_REMOUNT, "size=8m"); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Deliver(context.Background(), target, bf.ID); err != nil {
		t.Fatal(err)
	}
}

// TestReceiverMutualTLS: the receiver takes bundles only from registered stations, over
// TLS with the station's key as client certificate.
func TestReceiverMutualTLS(t *testing.T) {
	f := newFixture(t)
	ob, bf := builtOutbox(t, f, f.synthRecords(t, 1, 32))
	store := t.TempDir()
	rc := NewReceiver(store, &f.station.PublicKey)
	srv, target := startReceiver(t, rc, rc, f.station)
	// Another station, whose key the issuer never registered.
	stranger := newFixture(t)
	bad := *target
	cert, err := StationClientCertificate(stranger.station, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bad.ClientCert, bad.Attempts = cert, 1
	if _, err := ob.Deliver(context.Background(), &bad, bf.ID); !errors.Is(err, ErrNotDelivered) || Reason(err) != CodeUnregisteredClient {
		t.Fatalf("unregistered station: %v (%s)", err, Reason(err))
	}
	// No client certificate at all: the handshake fails.
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	anon := &HTTPTarget{URL: srv.URL, Attempts: 1, Client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
	if _, err := ob.Deliver(context.Background(), anon, bf.ID); !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("no client certificate: %v", err)
	}
	if len(esbFiles(t, store)) != 0 {
		t.Fatal("the receiver kept a bundle from an unregistered client")
	}
	// A plain target without certificate does not even try.
	if _, err := (&HTTPTarget{URL: srv.URL}).Deliver(context.Background(), bf); !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("no station certificate: %v", err)
	}
	// The registered station delivers.
	if _, err := ob.Deliver(context.Background(), target, bf.ID); err != nil {
		t.Fatal(err)
	}
	if len(esbFiles(t, store)) != 1 {
		t.Fatal("the registered station's bundle was not stored")
	}
}

// TestDirTargetRefusesSymlinks: links planted on the medium never redirect the copy
// outside it, and a bundle is confirmed only after what the medium holds is re-read.
func TestDirTargetRefusesSymlinks(t *testing.T) {
	f := newFixture(t)
	ob, bf := builtOutbox(t, f, f.synthRecords(t, 1, 32))
	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(outside, []byte("not yours"), 0o600); err != nil {
		t.Fatal(err)
	}
	intact := func() {
		t.Helper()
		if b, _ := os.ReadFile(outside); string(b) != "not yours" {
			t.Fatal("a file outside the medium was overwritten")
		}
	}
	// A link where the bundle goes: refused, nothing written, no receipt.
	usb := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(usb, bf.ID+FileExt)); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Deliver(context.Background(), &DirTarget{Dir: usb}, bf.ID); !errors.Is(err, ErrNotDelivered) || Reason(err) != CodeSymlink {
		t.Fatalf("link at the bundle's name: %v (%s)", err, Reason(err))
	}
	intact()
	if _, err := ob.Receipt(bf.ID); !errors.Is(err, ErrNotDelivered) {
		t.Fatal("a receipt was written")
	}
	// A link where the partial copy goes: the link is removed, never followed.
	usb2 := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(usb2, "."+bf.ID+FileExt+partialSuffix)); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Deliver(context.Background(), &DirTarget{Dir: usb2}, bf.ID); err != nil {
		t.Fatal(err)
	}
	intact()
	if st, err := os.Lstat(filepath.Join(usb2, bf.ID+FileExt)); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("delivered bundle: %v", err)
	}
	// The target directory itself a link (e.g. planted in place of a folder on the medium).
	ob2, bf2 := builtOutbox(t, f, f.synthRecords(t, 1, 32))
	link := filepath.Join(t.TempDir(), "exports")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	if _, err := ob2.Deliver(context.Background(), &DirTarget{Dir: link}, bf2.ID); Reason(err) != CodeSymlink {
		t.Fatalf("target directory is a link: %v (%s)", err, Reason(err))
	}
}
