package vault

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"enrollstation/internal/diskfree"
)

// ErrLowDisk means the data directory's disk is too full to write safely.
var ErrLowDisk = errors.New("vault: not enough free disk space")

// Free space the store keeps in hand (StoreOptions). badger writes its write-ahead log and
// value log through memory maps of sparse files: on a full disk such a write does not
// return an error, the process dies of SIGBUS. So writes are refused while there is still
// room for badger to finish what it has started (a memtable flush, a compaction).
const (
	DefaultMinFree    = 128 << 20 // every write: a memtable flush (64 MB) can land between check and write
	DefaultRecordFree = 256 << 20 // a new or updated enrollment (portrait, frame, template)
)

// LowDiskError says how much space there is and how much a write needs. It matches
// ErrLowDisk with errors.Is.
type LowDiskError struct {
	Dir        string
	Free, Need uint64 // bytes
	AtOpen     bool   // the store could not even open: nothing in the station can free space
}

func (e *LowDiskError) Error() string {
	if e.AtOpen {
		return fmt.Sprintf("the station's data disk (%s) is full (%d MB free): the store cannot open; free disk space on this computer (a technician's job), then start again",
			e.Dir, e.Free>>20)
	}
	return fmt.Sprintf("the station's data disk (%s) has %d MB free and at least %d MB must stay free to store data safely: "+
		"export batches and import the issuer's acknowledgements (acknowledged biometrics are deleted), or ask a technician to free disk space",
		e.Dir, e.Free>>20, e.Need>>20)
}

func (e *LowDiskError) Is(target error) bool { return target == ErrLowDisk }

// DiskFree is the space available to this process on dir's file system, in bytes.
func DiskFree(dir string) (uint64, error) {
	free, err := diskfree.Free(dir)
	if err != nil {
		return 0, fmt.Errorf("vault: free space of %s: %w", dir, err)
	}
	return free, nil
}

// ensureFree returns a *LowDiskError when dir's disk has less than need bytes free.
func ensureFree(dir string, need uint64) error {
	free, err := DiskFree(dir)
	if err != nil {
		return err
	}
	if free < need {
		return &LowDiskError{Dir: dir, Free: free, Need: need}
	}
	return nil
}

// fullFree is the free space below which a failure at start is put down to the disk
// even without ENOSPC in the error (a software TPM that cannot write its state file
// reports only TPM_RC_FAILURE).
const fullFree = 4 << 20

// ExplainLowDisk returns err unchanged unless the disk being full caused it: the error
// says ENOSPC (or EDQUOT), or dataDir's disk has (almost) no space left at all, which
// makes everything that writes there fail in its own words (a software TPM's state file,
// badger's lock file). Then it returns a *LowDiskError (AtOpen) that names the disk as the
// cause and keeps err's text. Any other error with some space free is left alone: a
// damaged store, a wrong TPM or a rollback is not a disk problem.
func ExplainLowDisk(dataDir string, err error) error {
	var low *LowDiskError
	if err == nil || errors.As(err, &low) {
		return err
	}
	free, ferr := DiskFree(dataDir)
	if ferr != nil {
		return err
	}
	if !isNoSpace(err) && free >= fullFree {
		return err
	}
	return fmt.Errorf("%w (%v)", &LowDiskError{Dir: dataDir, Free: free, Need: DefaultMinFree, AtOpen: true}, err)
}

// isNoSpace reports whether err is, or (from a child process or a %v wrap) says, ENOSPC
// or EDQUOT.
func isNoSpace(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, syscall.ENOSPC.Error()) || strings.Contains(msg, syscall.EDQUOT.Error())
}
