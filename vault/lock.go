package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// InUseError means another process holds the station's data directory. PID is the
// holder's process ID when its lock file names it (0 otherwise).
type InUseError struct {
	Dir string
	PID int
}

func (e *InUseError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("the station is in use by PID %d (data directory %s); close that program first", e.PID, e.Dir)
	}
	return fmt.Sprintf("another Enrollment Station is using %s; close it first", e.Dir)
}

// lockFileName is the data directory's lock: an flock held for the life of the process
// that uses the station, holding that process's PID for the message others get.
const lockFileName = "station.lock"

// DirLock is a held data-directory lock.
type DirLock struct {
	f   *os.File
	dir string
}

// LockDataDir takes the station's lock in dataDir (created if missing) or returns an
// *InUseError naming the holder's PID. It is taken before the TPM is opened, so a second
// process never waits on a TPM (a TCP simulator serves one connection at a time) or a
// store that the first one holds. The lock is released by Unlock or when the process
// dies (an flock; a stale file left by a killed process does not block).
func LockDataDir(dataDir string) (*DirLock, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: creating data directory: %w", err)
	}
	path := filepath.Join(dataDir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("vault: opening %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return nil, &InUseError{Dir: dataDir, PID: pid}
		}
		return nil, fmt.Errorf("vault: locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DirLock{f: f, dir: dataDir}, nil
}

// Unlock releases the lock. The file stays (removing it would race with a new holder).
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
