package vault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"enrollstation/internal/testenv"
	"enrollstation/internal/tpmtest"
)

// smallDiskStation is a station whose data lives on a 160 MiB tmpfs, with small reserves
// (16 MiB for any write, 48 MiB for enrollments) so that tests fill it quickly.
type smallDiskStation struct {
	disk, data string
	sim        *tpmtest.Sim
	cfg        Config
	st         *Station
	clerk      *Session
}

func newSmallDiskStation(t *testing.T) smallDiskStation {
	t.Helper()
	d := smallDiskStation{disk: testenv.SmallDisk(t, 160), sim: tpmtest.Start(t)}
	d.data = filepath.Join(d.disk, "data")
	d.cfg = Config{Store: StoreOptions{MinFree: 16 << 20, RecordFree: 48 << 20, IndexCacheSize: 8 << 20, BlockCacheSize: 8 << 20}}
	d.st = initStation(t, d.sim, d.data, d.cfg)
	d.clerk, _, _ = people(t, d.st)
	return d
}

// A station whose disk runs low refuses new enrollments with a clear error before badger
// could die of SIGBUS on a full disk, still does the small writes that free space, loses
// nothing, and takes enrollments again once there is room.
func TestLowDiskRefusesWritesAndKeepsData(t *testing.T) {
	d := newSmallDiskStation(t)
	disk, sim, data, cfg, st, clerk := d.disk, d.sim, d.data, d.cfg, d.st, d.clerk

	portrait := make([]byte, 300<<10)
	rand.Read(portrait)
	var saved []string
	for i := range 3 {
		e := testEnrollment(t, "BEFORE"+strconv.Itoa(i), portrait)
		if err := st.SaveEnrollment(clerk, e); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, e.ID)
	}

	// Between the two reserves: no new enrollment, but logins (a small write) still work.
	ballast := testenv.FillDisk(t, disk, 32<<20)
	err := st.SaveEnrollment(clerk, testEnrollment(t, "REFUSED", portrait))
	var low *LowDiskError
	if !errors.As(err, &low) || !errors.Is(err, ErrLowDisk) || low.Need != 48<<20 || low.Free >= 48<<20 {
		t.Fatalf("save on a low disk: %v", err)
	}
	for _, want := range []string{data, "MB free", "export batches"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := st.Login("clara", "clara-password"); err != nil {
		t.Fatalf("login with 32 MB free: %v", err)
	}

	// Below the floor every write is refused, and nothing already stored is harmed.
	os.Remove(ballast)
	testenv.FillDisk(t, disk, 8<<20)
	if err := st.Checkpoint(); !errors.Is(err, ErrLowDisk) {
		t.Fatalf("write with 8 MB free: %v", err)
	}
	for _, id := range saved {
		if e, err := st.Enrollment(id); err != nil || len(e.Portrait) != len(portrait) {
			t.Fatalf("reading %s on a full disk: %v", id, err)
		}
	}

	// Room again: the clerk carries on, and everything survives a restart.
	os.Remove(ballast)
	e := testEnrollment(t, "AFTER", portrait)
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatalf("save after freeing space: %v", err)
	}
	saved = append(saved, e.ID)
	st.Close()
	st2, err := Open(data, newTestTPM(t, sim), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	for _, id := range saved {
		if e, err := st2.Enrollment(id); err != nil || len(e.Portrait) != len(portrait) {
			t.Fatalf("after restart %s: %v", id, err)
		}
	}
	if _, err := st2.VerifyAudit(); err != nil {
		t.Fatalf("audit after the low-disk episode: %v", err)
	}
}

// A disk with no space at all: the station does not open (badger cannot even write its
// lock file) and says why, without crashing; with space back it opens with everything.
func TestOpenOnFullDisk(t *testing.T) {
	d := newSmallDiskStation(t)
	disk, sim, data, cfg, st, clerk := d.disk, d.sim, d.data, d.cfg, d.st, d.clerk
	e := testEnrollment(t, "FULL", make([]byte, 200<<10))
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatal(err)
	}
	st.Close()
	ballast := testenv.FillDisk(t, disk, 0)
	if st2, err := Open(data, newTestTPM(t, sim), cfg); !errors.Is(err, ErrLowDisk) || !strings.Contains(err.Error(), "cannot open") {
		if st2 != nil {
			st2.Close()
		}
		t.Fatalf("open on a full disk: %v", err)
	}
	os.Remove(ballast)
	st2, err := Open(data, newTestTPM(t, sim), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if got, err := st2.Enrollment(e.ID); err != nil || got.Demographics.Surname != "FULL" {
		t.Fatalf("after the full disk: %v", err)
	}
}

// ExplainLowDisk names a full data disk as the cause of whatever failed at start, and
// leaves errors alone when there is space.
func TestExplainLowDisk(t *testing.T) {
	disk := testenv.SmallDisk(t, 200) // above DefaultMinFree
	cause := errors.New("creating storage root key: TPM_RC_FAILURE")
	if err := ExplainLowDisk(disk, cause); err != cause {
		t.Fatalf("with space: %v", err)
	}
	// Below the write reserve but far from full: a TPM failure, a damaged store or a
	// rollback is not a disk problem (it used to be reported as "disk full").
	ballast := testenv.FillDisk(t, disk, 50<<20)
	for _, other := range []error{cause, ErrRollback, &StoreError{Kind: ErrStoreDamaged, Dir: disk, Problems: []string{"MANIFEST is missing"}}} {
		if err := ExplainLowDisk(disk, other); err != other {
			t.Fatalf("with 50 MB free: %v", err)
		}
	}
	// ENOSPC itself is always the disk.
	if err := ExplainLowDisk(disk, fmt.Errorf("writing LOCK: %w", syscall.ENOSPC)); !errors.Is(err, ErrLowDisk) {
		t.Fatalf("ENOSPC with 50 MB free: %v", err)
	}
	os.Remove(ballast)
	testenv.FillDisk(t, disk, 0)
	err := ExplainLowDisk(disk, cause)
	var low *LowDiskError
	if !errors.As(err, &low) || !low.AtOpen || !strings.Contains(err.Error(), "TPM_RC_FAILURE") {
		t.Fatalf("on a full disk: %v", err)
	}
	if again := ExplainLowDisk(disk, err); again != err {
		t.Fatalf("explained twice: %v", again)
	}
}
