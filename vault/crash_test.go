package vault

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"enrollstation/internal/tpmtest"
)

const crashChildEnv = "VAULT_CRASH_CHILD_DIR"

// TestCrashChild is the child of TestKilledWriter: it writes enrollments until killed,
// printing "ACK id sha256(portrait)" after each durable write.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("child process of TestKilledWriter")
	}
	key, _ := hex.DecodeString(os.Getenv("VAULT_CRASH_KEY"))
	s, err := OpenStore(dir, key)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	portrait := make([]byte, 120<<10)
	for i := 0; ; i++ {
		rand.Read(portrait[:64])
		e := &Enrollment{
			ID:           NewID(time.Now()),
			Status:       StatusPending,
			Demographics: Demographics{Surname: fmt.Sprintf("n%d", i)},
			Portrait:     portrait,
			Template:     portrait[:512],
			CapturedBy:   "clara",
		}
		err := s.Update(func(tx *Tx) error {
			if err := tx.PutEnrollment(e); err != nil {
				return err
			}
			return tx.Audit("clara", "enrollment.save", e.ID, "pending")
		})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(3)
		}
		sum := sha256.Sum256(portrait)
		fmt.Printf("ACK %s %x\n", e.ID, sum)
	}
}

// TestKilledWriter kills a writing process with SIGKILL at random points, 20 times:
// every acknowledged write must be there, intact, and the store must open cleanly.
func TestKilledWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 20 processes")
	}
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	acked := map[string]string{}
	dummy, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := CreateStore(dir, key, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for round := 0; round < 20; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "VAULT_CRASH_KEY="+hex.EncodeToString(key))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of acknowledged writes; the child is then somewhere
		// inside its next write.
		killAfter := 1 + mrand.IntN(15)
		sc := bufio.NewScanner(out)
		n := 0
		for n < killAfter && sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "ACK" {
				t.Fatalf("round %d: child said %q", round, sc.Text())
			}
			acked[f[1]] = f[2]
			n++
		}
		cmd.Process.Kill()
		cmd.Wait()
		if n < killAfter {
			t.Fatalf("round %d: child stopped after %d writes", round, n)
		}

		s, err := OpenStore(dir, key)
		if err != nil {
			t.Fatalf("round %d: reopening after SIGKILL: %v", round, err)
		}
		err = s.View(func(tx *Tx) error {
			for id, sum := range acked {
				e, err := tx.Enrollment(id)
				if err != nil {
					return fmt.Errorf("acknowledged %s: %w", id, err)
				}
				if got := sha256.Sum256(e.Portrait); hex.EncodeToString(got[:]) != sum {
					return fmt.Errorf("acknowledged %s: portrait damaged", id)
				}
			}
			if got := len(tx.EnrollmentsByStatus(StatusPending)); got < len(acked) {
				return fmt.Errorf("pending index has %d entries, %d acknowledged", got, len(acked))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if _, err := s.VerifyAudit(&dummy.PublicKey); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	t.Logf("%d acknowledged writes survived 20 kills", len(acked))
}

const anchorChildEnv = "VAULT_ANCHOR_CHILD"

// TestAnchorCrashChild is the child of TestKilledBetweenStoreAndTPM: it opens the
// station on the TCP TPM and writes an enrollment then an anchored checkpoint, over and
// over, printing "ACK id" after each; with VAULT_ANCHOR_KILL_IN_WINDOW it kills itself
// between the store write and the TPM counter update.
func TestAnchorCrashChild(t *testing.T) {
	dir := os.Getenv(anchorChildEnv)
	if dir == "" {
		t.Skip("child process of TestKilledBetweenStoreAndTPM")
	}
	tp, err := OpenTPM(os.Getenv("VAULT_ANCHOR_TPM"), dir)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	st, err := Open(dir, tp, Config{KDF: testKDF})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	if os.Getenv("VAULT_ANCHOR_KILL_IN_WINDOW") != "" {
		testHookAfterCheckpointCommit = func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	}
	for i := 0; ; i++ {
		e := &Enrollment{ID: NewID(time.Now()), Status: StatusPending, Demographics: Demographics{Surname: fmt.Sprint("n", i)},
			Portrait: []byte("\xff\xd8p"), CapturedBy: "clara"}
		err := st.store.Update(func(tx *Tx) error {
			if err := tx.PutEnrollment(e); err != nil {
				return err
			}
			return tx.Audit("clara", "enrollment.save", e.ID, "pending")
		})
		if err == nil {
			err = st.Checkpoint()
		}
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(3)
		}
		fmt.Println("ACK", e.ID)
	}
}

// SIGKILL at random points of a writer that anchors every write, 20 times, plus kills
// exactly between the store's checkpoint and the TPM counter update: every reopen
// succeeds (finishing the interrupted anchoring), keeps every acknowledged write and
// verifies the audit log against the TPM.
func TestKilledBetweenStoreAndTPM(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 24 processes")
	}
	sim := tpmtest.Start(t)
	dir := t.TempDir()
	st := initStation(t, sim, dir, Config{})
	st.Close()
	acked := map[string]bool{}
	inWindow := 0
	for round := range 24 {
		sim.CloseConn()
		cmd := exec.Command(os.Args[0], "-test.run=^TestAnchorCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), anchorChildEnv+"="+dir, "VAULT_ANCHOR_TPM="+sim.Addr())
		window := round%6 == 5 // every sixth round dies inside the window itself
		if window {
			cmd.Env = append(cmd.Env, "VAULT_ANCHOR_KILL_IN_WINDOW=1")
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 1 + mrand.IntN(6)
		sc := bufio.NewScanner(out)
		n := 0
		for (window || n < killAfter) && sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 || f[0] != "ACK" {
				t.Fatalf("round %d: child said %q", round, sc.Text())
			}
			acked[f[1]] = true
			n++
		}
		cmd.Process.Kill()
		werr := cmd.Wait()
		if window {
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				t.Fatalf("round %d: child did not die in the window: %v", round, werr)
			}
			inWindow++
		}
		tp := newTestTPM(t, sim)
		ac, err := tp.Counter(DefaultAnchorIndex)
		if err != nil {
			t.Fatal(err)
		}
		t0, _ := ac.Read()
		st, err := Open(dir, tp, Config{})
		if err != nil {
			t.Fatalf("round %d: reopening after SIGKILL: %v", round, err)
		}
		if t1, _ := ac.Read(); window && t1 != t0+1 {
			t.Fatalf("round %d: killed between store and TPM, the reopen left the anchor at %d (was %d)", round, t1, t0)
		}
		if _, err := st.VerifyAudit(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		err = st.store.View(func(tx *Tx) error {
			for id := range acked {
				if _, err := tx.EnrollmentMeta(id); err != nil {
					return fmt.Errorf("acknowledged %s: %w", id, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := st.Close(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	t.Logf("%d acknowledged writes survived 24 kills (%d between store and TPM)", len(acked), inWindow)
}
