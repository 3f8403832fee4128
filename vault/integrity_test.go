package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"enrollstation/internal/tpmtest"
)

// copyTree copies a directory tree (a data directory, a snapshot of one).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// sameTree fails the test when any file under dir differs from before.
func sameTree(t *testing.T, dir string, before map[string][32]byte) {
	t.Helper()
	sameFiles(t, dir, before)
	for p := range hashTree(t, dir) {
		if _, ok := before[p]; !ok {
			t.Errorf("%s was created", p)
		}
	}
}

// sameFiles fails the test when a file of before was changed or deleted.
func sameFiles(t *testing.T, dir string, before map[string][32]byte) {
	t.Helper()
	after := hashTree(t, dir)
	for p, h := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("%s was deleted", p)
		} else if a != h {
			t.Errorf("%s changed", p)
		}
	}
}

// populated makes a station with an enrollment and closes it; the store then has a
// table file (badger flushes its memtable at close).
func populated(t *testing.T, sim *tpmtest.Sim) (dir string, id string) {
	t.Helper()
	dir = t.TempDir()
	st := initStation(t, sim, dir, Config{})
	clerk, _, _ := people(t, st)
	e := testEnrollment(t, "Doe", bytes.Repeat([]byte("\xff\xd8portrait"), 4096))
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, e.ID
}

func sstFiles(t *testing.T, store string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(store, "*.sst"))
	if len(m) == 0 {
		t.Fatalf("no table file in %s", store)
	}
	return m
}

// The repros: a deleted MANIFEST, store, KEYREGISTRY or a truncated table made
// badger recreate an empty store (deleting every table) or panic. Now: a clear error
// naming the problem, and no file changed.
func TestDamagedStoreRefusedUnchanged(t *testing.T) {
	sim := tpmtest.Start(t)
	good, _ := populated(t, sim)
	cases := []struct {
		name   string
		damage func(store string)
		want   error
		says   string
	}{
		{"MANIFEST deleted", func(s string) { os.Remove(filepath.Join(s, "MANIFEST")) }, ErrStoreDamaged, "MANIFEST is missing"},
		{"KEYREGISTRY deleted", func(s string) { os.Remove(filepath.Join(s, "KEYREGISTRY")) }, ErrStoreDamaged, "KEYREGISTRY is missing"},
		{"store deleted", func(s string) { os.RemoveAll(s) }, ErrStoreMissing, "is missing or empty"},
		{"store emptied", func(s string) {
			ents, _ := os.ReadDir(s)
			for _, e := range ents {
				os.Remove(filepath.Join(s, e.Name()))
			}
		}, ErrStoreMissing, "not recreated"},
		{"table truncated", func(s string) {
			f := sstFiles(t, s)[0]
			st, _ := os.Stat(f)
			os.Truncate(f, st.Size()/2)
		}, ErrStoreDamaged, "is damaged: truncated"},
		{"table deleted", func(s string) { os.Remove(sstFiles(t, s)[0]) }, ErrStoreDamaged, "listed in MANIFEST is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, good, dir)
			c.damage(filepath.Join(dir, "store"))
			before := hashTree(t, filepath.Join(dir, "store"))
			for range 2 { // and again: the first attempt must not have "repaired" anything
				st, err := Open(dir, newTestTPM(t, sim), Config{})
				if err == nil {
					st.Close()
					t.Fatal("opened")
				}
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
					t.Fatalf("got %v, want %v saying %q", err, c.want, c.says)
				}
			}
			sameTree(t, filepath.Join(dir, "store"), before)
		})
	}
}

// A single flipped bit anywhere in a table file: the store refuses to open naming the
// table, or the damaged record reads as an *IntegrityError naming it; never other data.
func TestFlippedBitsNeverReadAsData(t *testing.T) {
	sim := tpmtest.Start(t)
	good, id := populated(t, sim)
	var want *Enrollment
	st, err := Open(good, newTestTPM(t, sim), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if want, err = st.Enrollment(id); err != nil {
		t.Fatal(err)
	}
	wantFrame, _ := st.EnrollmentFrame(id)
	st.Close()
	sst := sstFiles(t, filepath.Join(good, "store"))[0]
	info, _ := os.Stat(sst)
	r := mrand.New(mrand.NewPCG(14, 1))
	var refused, named int
	for i := range 12 {
		dir := t.TempDir()
		copyTree(t, good, dir)
		f := filepath.Join(dir, "store", filepath.Base(sst))
		b, _ := os.ReadFile(f)
		off := r.IntN(int(info.Size()))
		if i == 0 {
			off = int(info.Size()) / 2 // inside the portrait, the bulk of the file
		}
		b[off] ^= 1 << r.IntN(8)
		os.WriteFile(f, b, 0o600)

		st, err := Open(dir, newTestTPM(t, sim), Config{})
		if err != nil {
			var ie *IntegrityError
			var se *StoreError
			if !(errors.As(err, &ie) && strings.Contains(err.Error(), ".sst")) && !errors.As(err, &se) {
				t.Fatalf("flip at %d: open: %v, want an integrity error naming the table", off, err)
			}
			refused++
			continue
		}
		e, err := st.Enrollment(id)
		switch {
		case err == nil:
			if !bytes.Equal(e.Portrait, want.Portrait) || !bytes.Equal(e.Template, want.Template) || e.Demographics.Surname != want.Demographics.Surname {
				t.Fatalf("flip at %d: the enrollment reads as other data", off)
			}
		case errors.Is(err, ErrIntegrity) && strings.Contains(err.Error(), id):
			named++
		default:
			t.Fatalf("flip at %d: %v, want the data or an integrity error naming the record", off, err)
		}
		if fr, err := st.EnrollmentFrame(id); err == nil && !bytes.Equal(fr, wantFrame) {
			t.Fatalf("flip at %d: the frame reads as other data", off)
		}
		st.Close()
	}
	if named == 0 {
		t.Fatalf("no flip was caught by a record's seal (%d refused at open)", refused)
	}
	t.Logf("12 flips: %d refused at open naming the table, %d named the record", refused, named)
}

// A restored snapshot of the data directory (the TPM, here swtpm's state, is not part
// of it, as a hardware TPM is not) is refused; so is an emptied store.
func TestRollbackRefused(t *testing.T) {
	sim := tpmtest.Start(t)
	dir := t.TempDir()
	st := initStation(t, sim, dir, Config{})
	clerk, _, _ := people(t, st)
	st.Close()
	snap := t.TempDir()
	copyTree(t, dir, snap)

	st, err := Open(dir, newTestTPM(t, sim), Config{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	clerk = login(t, st, "clara", "clara-password")
	if err := st.SaveEnrollment(clerk, testEnrollment(t, "Later", []byte("\xff\xd8later"))); err != nil {
		t.Fatal(err)
	}
	st.Close() // anchors the new work

	os.RemoveAll(filepath.Join(dir, "store"))
	copyTree(t, filepath.Join(snap, "store"), filepath.Join(dir, "store"))
	before := hashTree(t, filepath.Join(dir, "store"))
	_, err = Open(dir, newTestTPM(t, sim), Config{})
	if !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), "the store is older than this station's TPM says: restored from a backup?") {
		t.Fatalf("restored snapshot: %v, want ErrRollback", err)
	}
	// badger has opened it (the anchor is inside): it may add an empty value log, but
	// changes none of the snapshot's files.
	sameFiles(t, filepath.Join(dir, "store"), before)

	// A fresh, empty store under the same key (someone with the key starting over).
	os.RemoveAll(filepath.Join(dir, "store"))
	key := unsealForTest(t, sim, dir)
	s, err := CreateStore(filepath.Join(dir, "store"), key, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(dir, newTestTPM(t, sim), Config{}); !errors.Is(err, ErrRollback) {
		t.Fatalf("emptied store: %v, want ErrRollback", err)
	}
}

func unsealForTest(t *testing.T, sim *tpmtest.Sim, dir string) []byte {
	t.Helper()
	ex, err := Inspect(dir)
	if err != nil || !ex.StationFile {
		t.Fatal(err)
	}
	var f stationFile
	b, _ := os.ReadFile(filepath.Join(dir, stationFileName))
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	key, err := newTestTPM(t, sim).Unseal(&f.StoreKey)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// Someone holding the store key deletes every signed checkpoint and rewrites the chain
// (drops an entry, re-hashes the rest): audit verify fails and the station refuses to
// open, because the TPM anchors a checkpoint the rewritten store no longer has.
func TestCheckpointsRemovedAndChainRewritten(t *testing.T) {
	sim := tpmtest.Start(t)
	dir := t.TempDir()
	st := initStation(t, sim, dir, Config{})
	people(t, st)
	if err := st.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if rep, err := st.VerifyAudit(); err != nil || rep.LastSigned == 0 {
		t.Fatalf("before: %+v %v", rep, err)
	}
	s := st.store
	var entries []AuditEntry
	var cps []string
	err := s.View(func(tx *Tx) (err error) {
		entries, err = tx.AuditEntries(1, 0)
		cps = tx.keys(pCheckpoint)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Drop entry 2 (say, an account creation), renumber and re-chain everything after.
	err = s.Update(func(tx *Tx) error {
		for _, k := range cps {
			if err := tx.del(pCheckpoint + k); err != nil {
				return err
			}
		}
		for _, e := range entries {
			if err := tx.del(seqKey(pAudit, e.Seq)); err != nil {
				return err
			}
		}
		prev := make([]byte, 32)
		var seq uint64
		for i, e := range entries {
			if i == 1 {
				continue
			}
			seq++
			e.Seq, e.Prev = seq, prev
			e.Hash = entryHash(&e)
			prev = e.Hash
			if err := tx.putJSON(seqKey(pAudit, seq), &e); err != nil {
				return err
			}
		}
		hb, _ := json.Marshal(auditHead{Seq: seq, Hash: prev})
		return tx.set(kAuditHead, hb)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := s.VerifyAudit(st.PublicKey()); err != nil {
		t.Logf("store-only verify also fails: %v", err)
	} else if rep.Checkpoints != 0 {
		t.Fatalf("checkpoints left: %+v", rep)
	}
	if _, err := st.VerifyAudit(); !errors.Is(err, ErrAuditTampered) {
		t.Fatalf("audit verify after the rewrite: %v, want ErrAuditTampered", err)
	}
	st.closed = true // closing would sign the rewritten head
	s.Close()
	st.lock.Unlock()
	if _, err := Open(dir, newTestTPM(t, sim), Config{}); !errors.Is(err, ErrRollback) && !errors.Is(err, ErrAuditTampered) {
		t.Fatalf("open after the rewrite: %v, want ErrRollback", err)
	}
}

const inUseChildEnv = "VAULT_INUSE_CHILD"

// TestInUseChild is the second process of TestSecondProcessInUse.
func TestInUseChild(t *testing.T) {
	dir := os.Getenv(inUseChildEnv)
	if dir == "" {
		t.Skip("child process of TestSecondProcessInUse")
	}
	tp, err := OpenTPM(os.Getenv("VAULT_INUSE_TPM"), dir)
	if err == nil {
		tp.Close()
		fmt.Println("OPENED")
		return
	}
	fmt.Println("ERR", err)
}

// A second process on a station in use, with a TCP simulator (which serves one
// connection at a time, so it used to hang) or a spawned swtpm, is told who holds it.
func TestSecondProcessInUse(t *testing.T) {
	sim := tpmtest.Start(t)
	for _, kind := range []string{"tcp", "swtpm"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			spec := "swtpm"
			if kind == "tcp" {
				spec = sim.Addr()
				sim.CloseConn()
			}
			tp, err := OpenTPM(spec, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestInUseChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), inUseChildEnv+"="+dir, "VAULT_INUSE_TPM="+spec)
			out, _ := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatal("the second process hung")
			}
			want := fmt.Sprintf("the station is in use by PID %d", os.Getpid())
			if !strings.Contains(string(out), want) {
				t.Fatalf("second process said:\n%s\nwant %q", out, want)
			}
		})
	}
}

// Format-1 stores (no record seals) are refused with a plain instruction.
func TestFormatOneStoreRefused(t *testing.T) {
	dir := t.TempDir()
	key := make([]byte, 32)
	db, err := badger.Open(badger.DefaultOptions(dir).WithEncryptionKey(key).WithIndexCacheSize(1 << 20).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(kSettings), []byte(`{"v":1}`)) })
	db.Close()
	if _, err := OpenStore(dir, key); !errors.Is(err, ErrStoreFormat) {
		t.Fatalf("format-1 store: %v, want ErrStoreFormat", err)
	}
}

// Removing a signed checkpoint from the middle of the log (the TPM-anchored one stays)
// is found too: anchored checkpoints carry consecutive anchor values. A checkpoint with
// nothing new to cover writes nothing (no NV write).
func TestMiddleCheckpointRemoved(t *testing.T) {
	sim := tpmtest.Start(t)
	dir := t.TempDir()
	st := initStation(t, sim, dir, Config{})
	before, _ := st.anchor.Read()
	if err := st.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if after, _ := st.anchor.Read(); after != before {
		t.Fatalf("a checkpoint with nothing new advanced the anchor %d → %d", before, after)
	}
	people(t, st)
	if err := st.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	admin := login(t, st, "root", adminPW)
	if err := st.SetLocked(admin, "tom", true); err != nil {
		t.Fatal(err)
	}
	if err := st.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	var cps []string
	st.store.View(func(tx *Tx) error { cps = tx.keys(pCheckpoint); return nil })
	if len(cps) < 3 {
		t.Fatalf("%d checkpoints", len(cps))
	}
	if _, err := st.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
	if err := st.store.Update(func(tx *Tx) error { return tx.del(pCheckpoint + cps[1]) }); err != nil {
		t.Fatal(err)
	}
	rep, err := st.VerifyAudit()
	if !errors.Is(err, ErrAuditTampered) || !strings.Contains(err.Error(), "are missing (removed)") {
		t.Fatalf("after removing a middle checkpoint: %+v %v", rep, err)
	}
}
