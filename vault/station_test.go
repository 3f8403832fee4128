package vault

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"enrollstation/internal/testenv"
	"enrollstation/internal/tpmtest"
)

// testKDF keeps argon2id cheap in tests; production uses DefaultKDF.
var testKDF = KDFParams{Time: 1, Memory: 1 << 10, Threads: 1}

const adminPW = "admin-password"

func initStation(t *testing.T, sim *tpmtest.Sim, dir string, cfg Config) *Station {
	t.Helper()
	cfg.KDF = testKDF
	st, err := Init(dir, newTestTPM(t, sim), cfg, InitOptions{Name: "Counter 1", Site: "Town Hall", Admin: "root", AdminPassword: adminPW})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func login(t *testing.T, st *Station, name, pw string) *Session {
	t.Helper()
	s, err := st.Login(name, pw)
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return s
}

// people sets up a clerk, two supervisors (one also a clerk) and a technician.
func people(t *testing.T, st *Station) (clerk, sup, supClerk *Session) {
	t.Helper()
	admin := login(t, st, "root", adminPW)
	for _, u := range []struct {
		name  string
		roles []Role
	}{
		{"clara", []Role{RoleClerk}},
		{"sam", []Role{RoleSupervisor}},
		{"sue", []Role{RoleSupervisor, RoleClerk}},
		{"tom", []Role{RoleTechnician}},
	} {
		if err := st.AddUser(admin, u.name, u.roles, u.name+"-password"); err != nil {
			t.Fatal(err)
		}
	}
	return login(t, st, "clara", "clara-password"), login(t, st, "sam", "sam-password"), login(t, st, "sue", "sue-password")
}

func testEnrollment(t *testing.T, surname string, portrait []byte) *Enrollment {
	tmpl := make([]byte, 512)
	rand.Read(tmpl)
	return &Enrollment{
		Status:       StatusPending,
		Demographics: Demographics{GivenNames: "Zenobia Quintessa", Surname: surname, DateOfBirth: "1980-02-29", Nationality: "UTO"},
		Portrait:     portrait,
		Template:     tmpl,
		Frame:        append([]byte("\xff\xd8\xff\xe0frame of "), surname...),
		Quality:      json.RawMessage(`{"score":0.93,"checks":{"eyes_open":true}}`),
		Capture:      CaptureMeta{Camera: "/dev/video0", Width: 1280, Height: 720},
	}
}

func TestInitOpenStatus(t *testing.T) {
	sim := tpmtest.Start(t)
	dir := t.TempDir()
	st := initStation(t, sim, dir, Config{})
	s, err := st.Status()
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != st.ID() || len(s.ID) != 64 || s.Name != "Counter 1" || s.Operators != 1 || s.TPM.Kind != "software" {
		t.Fatalf("status %+v", s)
	}
	st.Close()

	_, err = Init(dir, newTestTPM(t, sim), Config{KDF: testKDF}, InitOptions{Admin: "other", AdminPassword: adminPW})
	if !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("re-init: %v, want ErrAlreadyInitialized", err)
	}
	st2, err := Open(dir, newTestTPM(t, sim), Config{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if st2.ID() != s.ID {
		t.Fatal("station ID changed on reopen")
	}
	// A second process (here: a second Open) on the same data dir gets a clear error.
	_, err = Open(dir, newTestTPM(t, sim), Config{})
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.Dir != dir {
		t.Fatalf("second open: %v, want InUseError for %s", err, dir)
	}
	if _, err := Open(t.TempDir(), newTestTPM(t, sim), Config{}); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("open empty dir: %v", err)
	}
	// The signing key works as a crypto.Signer and the counter increments.
	d := sha256.Sum256([]byte("bundle"))
	sig, err := st2.Signer().Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(st2.PublicKey(), d[:], sig) {
		t.Fatalf("station signature: %v", err)
	}
	a, _ := st2.BundleSeq()
	b, err := st2.NextBundleSeq()
	if err != nil || b != a+1 {
		t.Fatalf("NextBundleSeq = %d, %v after %d", b, err, a)
	}
}

// scanDir fails the test if any file under dir contains one of the needles.
func scanDir(t *testing.T, dir string, needles map[string][]byte) {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files++
		for what, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s found in %s", what, path)
			}
		}
		return nil
	})
	if files < 3 {
		t.Fatalf("only %d files scanned", files)
	}
}

func TestNothingInClearOnDisk(t *testing.T) {
	sim := tpmtest.Start(t)
	dir := t.TempDir()
	st := initStation(t, sim, dir, Config{})
	clerk, sup, _ := people(t, st)
	needles := map[string][]byte{}
	for i, f := range []string{"bona.jpg", "bona2.jpg", "pristin.jpg"} {
		jpg, err := os.ReadFile(testenv.Face(t, f))
		if err != nil {
			t.Fatal(err)
		}
		surname := []string{"Xylophonides", "Quackenbush", "Wolfeschlegel"}[i]
		e := testEnrollment(t, surname, jpg)
		// The kept camera frame: a different real JPEG, so its own bytes are looked for.
		frame, err := os.ReadFile(testenv.Face(t, []string{"chaeyoung.jpg", "luda.jpg", "bona3.jpg"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		e.Frame = frame
		if err := st.SaveEnrollment(clerk, e); err != nil {
			t.Fatal(err)
		}
		if got, err := st.EnrollmentFrame(e.ID); err != nil || !bytes.Equal(got, frame) {
			t.Fatalf("frame read back: %d bytes, %v", len(got), err)
		}
		// 16 bytes, not 4: a 4-byte needle matches by chance in a few MB of ciphertext
		// (seen once under load); a leaked JPEG holds all 16.
		needles["frame header "+f] = frame[:16]
		needles["frame body "+f] = frame[len(frame)/2 : len(frame)/2+32]
		if i == 0 {
			if _, err := st.Approve(sup, e.ID); err != nil {
				t.Fatal(err)
			}
		}
		needles["surname "+surname] = []byte(surname)
		needles["JPEG header of "+f] = jpg[:16]
		needles["JPEG body of "+f] = jpg[len(jpg)/2 : len(jpg)/2+32]
		needles["template "+f] = e.Template[100:132]
	}
	needles["given names"] = []byte("Zenobia")
	needles["JFIF marker"] = []byte("JFIF\x00\x01") // identifier and major version
	if err := st.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	// Scan both while open (write-ahead logs) and after closing (flushed tables).
	scanDir(t, dir, needles)
	st.Close()
	scanDir(t, dir, needles)
}

func hashTree(t *testing.T, dir string) map[string][32]byte {
	m := map[string][32]byte{}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		m[path] = sha256.Sum256(b)
		return nil
	})
	return m
}

func TestOpenWithAnotherTPM(t *testing.T) {
	dir := t.TempDir()
	st := initStation(t, tpmtest.Start(t), dir, Config{})
	clerk, _, _ := people(t, st)
	if err := st.SaveEnrollment(clerk, testEnrollment(t, "Doe", []byte("\xff\xd8\xff\xe0portrait"))); err != nil {
		t.Fatal(err)
	}
	st.Close()
	before := hashTree(t, dir)

	_, err := Open(dir, newTestTPM(t, tpmtest.Start(t)), Config{})
	if !errors.Is(err, ErrWrongTPM) {
		t.Fatalf("open with another TPM: %v, want ErrWrongTPM", err)
	}
	if got := err.Error(); !bytes.Contains([]byte(got), []byte("this station's store key cannot be unsealed by this TPM")) {
		t.Errorf("message %q", got)
	}
	after := hashTree(t, dir)
	if len(before) != len(after) {
		t.Fatalf("files changed: %d before, %d after", len(before), len(after))
	}
	for p, h := range before {
		if after[p] != h {
			t.Errorf("%s changed", p)
		}
	}
}

func TestPCRBoundStoreKey(t *testing.T) {
	sim := tpmtest.Start(t)
	dir := t.TempDir()
	st := initStation(t, sim, dir, Config{PCRs: []int{7}})
	st.Close()

	extendPCR(t, sim.TPM(), 7)
	if _, err := Open(dir, newTestTPM(t, sim), Config{}); !errors.Is(err, ErrPCRPolicy) {
		t.Fatalf("open after PCR 7 changed: %v, want ErrPCRPolicy", err)
	}
	sim.Restart() // reboot into the original boot state
	st, err := Open(dir, newTestTPM(t, sim), Config{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

func TestRetentionPurge(t *testing.T) {
	sim := tpmtest.Start(t)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := initStation(t, sim, t.TempDir(), Config{Now: clock})
	clerk, sup, _ := people(t, st)
	var ids []string
	for i := 0; i < 3; i++ {
		e := testEnrollment(t, "Doe", []byte("\xff\xd8\xff\xe0jpeg"))
		if err := st.SaveEnrollment(clerk, e); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Approve(sup, e.ID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	seq, _ := st.NextBundleSeq()
	if err := st.MarkExported(sup, "batch-1", ids[:2], seq, []byte("h")); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkExported(sup, "batch-2", ids[2:], seq+1, []byte("h")); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeExpired(); err != nil || n != 0 {
		t.Fatalf("purge on export day: %d, %v", n, err)
	}
	now = now.Add(31 * 24 * time.Hour)
	if n, err := st.PurgeExpired(); err != nil || n != 3 {
		t.Fatalf("purge after 31 days: %d, %v; want 3", n, err)
	}
	for _, id := range ids {
		e, err := st.Enrollment(id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != StatusPurged || e.Portrait != nil || e.Template != nil || e.Quality != nil || e.Demographics.Surname != "Doe" {
			t.Fatalf("after purge: %+v", e)
		}
		if f, err := st.EnrollmentFrame(id); err != nil || f != nil {
			t.Fatalf("frame after purge: %d bytes, %v", len(f), err)
		}
	}
	if _, err := st.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
}

// An acknowledgement purges only what the issuer accepted; refused records keep their
// biometrics and carry the issuer's reason.
func TestIssuerAckPerRecord(t *testing.T) {
	sim := tpmtest.Start(t)
	st := initStation(t, sim, t.TempDir(), Config{})
	clerk, sup, _ := people(t, st)
	var ids []string
	for _, name := range []string{"Doe", "Roe", "Poe"} {
		e := testEnrollment(t, name, []byte("\xff\xd8\xff\xe0jpeg "+name))
		if err := st.SaveEnrollment(clerk, e); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Approve(sup, e.ID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if err := st.MarkExported(sup, "b1", ids, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkExported(sup, "b1", nil, 2, nil); !errors.Is(err, ErrNotInWorkflow) {
		t.Fatalf("exporting a batch twice: %v", err)
	}
	accepted, refused := ids[0], ids[1] // ids[2] is not mentioned: left as it is
	ack := IssuerAck{
		Accepted: []string{accepted, "20260101T000000Z-000000000000"},
		Refused:  map[string]string{refused: "portrait: eyes closed"},
		At:       time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
	}
	if _, err := st.AckIssuer(clerk, "b1", ack); !errors.Is(err, ErrForbidden) {
		t.Fatalf("ack by a clerk: %v", err)
	}
	bad := IssuerAck{Accepted: []string{refused}, Refused: map[string]string{refused: "x"}}
	if _, err := st.AckIssuer(sup, "b1", bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ack accepting and refusing the same record: %v", err)
	}
	for round := 0; round < 2; round++ { // importing it again changes nothing
		out, err := st.AckIssuer(sup, "b1", ack)
		if err != nil || out != (AckOutcome{Accepted: 1, Refused: 1, Unknown: 1}) {
			t.Fatalf("round %d: AckIssuer = %+v, %v", round, out, err)
		}
		got, _ := st.Enrollment(accepted)
		if got.Status != StatusPurged || got.Portrait != nil || got.Template != nil || !got.IssuerAckAt.Equal(ack.At) {
			t.Fatalf("accepted after ack: %+v", got)
		}
		if f, _ := st.EnrollmentFrame(accepted); f != nil {
			t.Fatal("accepted record's frame not purged")
		}
		got, _ = st.Enrollment(refused)
		if got.Status != StatusExported || got.Portrait == nil || got.Template == nil || !got.IssuerAckAt.IsZero() || got.IssuerRefusal != "portrait: eyes closed" {
			t.Fatalf("refused after ack: %+v", got)
		}
		if f, _ := st.EnrollmentFrame(refused); f == nil {
			t.Fatal("refused record's frame purged")
		}
		got, _ = st.Enrollment(ids[2])
		if got.Status != StatusExported || got.Portrait == nil || got.IssuerRefusal != "" {
			t.Fatalf("unmentioned record after ack: %+v", got)
		}
		var b *Batch
		if err := st.Store().View(func(tx *Tx) (err error) { b, err = tx.Batch("b1"); return err }); err != nil {
			t.Fatal(err)
		}
		if !b.IssuerAckAt.Equal(ack.At) || b.AckAccepted != 1 || b.AckRefused != 1 {
			t.Fatalf("batch after ack: %+v", b)
		}
	}
	var refusals int
	var entries []AuditEntry
	if err := st.Store().View(func(tx *Tx) (err error) { entries, err = tx.AuditEntries(0, 0); return err }); err != nil {
		t.Fatal(err)
	}
	for _, a := range entries {
		if a.Action == "enrollment.issuer-refused" && a.Object == refused && a.Detail == "portrait: eyes closed" {
			refusals++
		}
	}
	if refusals != 1 {
		t.Fatalf("%d refusal audit entries, want 1", refusals)
	}
	if _, err := st.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
}

// The scan above must be able to fail: the same record in unencrypted badger is found.
func TestScanFindsPlaintext(t *testing.T) {
	dir := t.TempDir()
	s, err := CreateStore(dir, nil, StoreOptions{NoEncryption: true})
	if err != nil {
		t.Fatal(err)
	}
	e := testEnrollment(t, "Xylophonides", []byte("\xff\xd8\xff\xe0\x00\x10JFIF"))
	e.ID = "e1"
	if err := s.Update(func(tx *Tx) error { return tx.PutEnrollment(e) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	found := false
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			found = found || bytes.Contains(b, []byte("Xylophonides"))
		}
		return err
	})
	if !found {
		t.Fatal("plaintext surname not found in an unencrypted store: the scan cannot detect leaks")
	}
}

// Concurrent writers all append to the audit chain through one head key; conflicting
// transactions are retried, so the chain stays intact and nothing is lost.
func TestConcurrentWritersKeepAuditChain(t *testing.T) {
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{})
	clerk, sup, _ := people(t, st)
	const workers, each = 4, 10
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				e := testEnrollment(t, "Doe", []byte("\xff\xd8\xff\xe0jpeg"))
				if err := st.SaveEnrollment(clerk, e); err != nil {
					errs <- err
					return
				}
				if _, err := st.Approve(sup, e.ID); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	rep, err := st.VerifyAudit()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := st.Status()
	if s.Enrollments[StatusApproved] != workers*each || rep.LastSigned != rep.Entries {
		t.Fatalf("approved %d, audit %+v", s.Enrollments[StatusApproved], rep)
	}
}
