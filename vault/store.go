package vault

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Store errors.
var (
	ErrNotFound      = errors.New("vault: not found")
	ErrBadTransition = errors.New("vault: status change not allowed")
	ErrNewerRecord   = errors.New("vault: record written by a newer version of Enrollment Station")
	ErrInvalid       = errors.New("vault: invalid record")
	// ErrWrongStoreKey: the store was encrypted with another key, e.g. station.json was
	// replaced by another station's.
	ErrWrongStoreKey = errors.New("vault: the store was encrypted with another key (the station file does not belong to this store, or the store's KEYREGISTRY is damaged)")
)

// StoreOptions tune the store; the zero value is fine.
type StoreOptions struct {
	IndexCacheSize int64 // bytes; 64 MiB if zero
	BlockCacheSize int64 // bytes; 64 MiB if zero
	NoSync         bool  // benchmarks only: do not fsync commits
	NoEncryption   bool  // benchmarks only: the baseline of unencrypted badger
	// MinFree is the free disk space every write needs (DefaultMinFree if zero), and
	// RecordFree what an enrollment write needs (DefaultRecordFree if zero); below them
	// writes fail with a *LowDiskError and nothing is written.
	MinFree, RecordFree uint64
}

// Store is the encrypted record store (badger) of one station. Every Update is written
// to disk (fsync) before it returns, so anything acknowledged survives a power cut.
// Every value is sealed (seal.go), so a damaged record reads as an *IntegrityError.
// Methods are safe for concurrent use.
type Store struct {
	db                  *badger.DB
	dir                 string
	minFree, recordFree uint64
	aead                cipher.AEAD // nil with NoEncryption
	damaged             []string    // records whose seal failed at open (see openStore)
}

// storeFormat is the store's format, kept (sealed) under kFormat: 2 = every value sealed
// with an AEAD. Format 1 stores (no kFormat) are refused with ErrStoreFormat.
const (
	storeFormat = "2"
	kFormat     = "m/format"
)

// CreateStore creates a new store in dir, encrypted with key (32 bytes, AES-256). It
// refuses (ErrStoreExists, naming the files) when dir already holds anything: only
// station init creates a store, and it never overwrites one.
func CreateStore(dir string, key []byte, o StoreOptions) (*Store, error) {
	files, err := StoreFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) > 0 {
		return nil, &StoreError{Kind: ErrStoreExists, Dir: dir, Files: files}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: creating store directory: %w", err)
	}
	s, err := openStore(dir, key, o)
	if err != nil {
		return nil, err
	}
	if err := s.Update(func(tx *Tx) error { return tx.set(kFormat, []byte(storeFormat)) }); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenStore opens the existing store in dir, encrypted with key. It never creates one:
// a missing or empty directory is ErrStoreMissing, files that do not match the MANIFEST
// are ErrStoreDamaged (both *StoreError, naming the files), and nothing is changed.
func OpenStore(dir string, key []byte) (*Store, error) {
	return OpenStoreWith(dir, key, StoreOptions{})
}

// OpenStoreWith is OpenStore with options.
func OpenStoreWith(dir string, key []byte, o StoreOptions) (*Store, error) {
	if err := checkStoreFiles(dir, !o.NoEncryption); err != nil {
		return nil, err
	}
	s, err := openStore(dir, key, o)
	if err != nil {
		return nil, err
	}
	var format []byte
	err = s.View(func(tx *Tx) (err error) { format, err = tx.getBytes(kFormat); return err })
	if err == nil && format == nil {
		err = fmt.Errorf("%w (%s)", ErrStoreFormat, dir)
	} else if err == nil && string(format) != storeFormat {
		err = fmt.Errorf("%w (store format %q in %s)", ErrNewerRecord, format, dir)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openStore(dir string, key []byte, o StoreOptions) (s *Store, err error) {
	if !o.NoEncryption && len(key) != 32 {
		return nil, fmt.Errorf("vault: store key must be 32 bytes, got %d", len(key))
	}
	if o.IndexCacheSize == 0 {
		o.IndexCacheSize = 64 << 20
	}
	if o.BlockCacheSize == 0 {
		o.BlockCacheSize = 64 << 20
	}
	if o.MinFree == 0 {
		o.MinFree = DefaultMinFree
	}
	if o.RecordFree == 0 {
		o.RecordFree = DefaultRecordFree
	}
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(!o.NoSync).
		WithIndexCacheSize(o.IndexCacheSize).
		WithBlockCacheSize(o.BlockCacheSize).
		WithNumVersionsToKeep(1).
		WithValueLogFileSize(64 << 20).
		// Uncompressed (portraits are JPEG anyway), so a flipped bit on disk stays one
		// flipped bit of one value, which its seal then names; and badger's read-time
		// block checks stay off (its default): they would turn a damaged value into a
		// silently missing key. Block checksums are verified once at open instead.
		WithCompression(options.None).
		WithLogger(nil)
	s = &Store{dir: dir, minFree: o.MinFree, recordFree: o.RecordFree}
	if !o.NoEncryption {
		opts = opts.WithEncryptionKey(key)
		if s.aead, err = newRecordAEAD(key); err != nil {
			return nil, err
		}
	}
	// Last resort: badger's table reader slices by lengths read from the file before it
	// checks them, and panics (y.Check) on what checkStoreFiles cannot see (a damaged
	// block). A panic here is turned into an integrity error so a damaged disk never
	// crashes a command.
	defer func() {
		if r := recover(); r != nil {
			if s != nil && s.db != nil {
				s.db.Close()
			}
			s, err = nil, &IntegrityError{File: dir, Err: fmt.Errorf("badger: %v", r)}
		}
	}()
	db, err := badger.Open(opts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, &InUseError{Dir: dir}
		}
		if strings.Contains(err.Error(), "Encryption key mismatch") {
			return nil, fmt.Errorf("%w: %s", ErrWrongStoreKey, dir)
		}
		if strings.Contains(err.Error(), "checksum for data key") {
			return nil, &IntegrityError{File: "KEYREGISTRY", Err: err}
		}
		// badger writes its lock file and manifest at open, and formats some errors with %v
		if errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
			free, _ := DiskFree(dir)
			return nil, &LowDiskError{Dir: dir, Free: free, Need: o.MinFree, AtOpen: true}
		}
		return nil, fmt.Errorf("vault: opening store %s: %w", dir, err)
	}
	s.db = db
	// Every block's checksum, once per open. A damaged block is located record by
	// record: when the damage lies only in enrollment data (whose seals name it), the
	// store opens and those records read as *IntegrityError (a supervisor can
	// quarantine them); damage anywhere else (keys, indexes, accounts, audit, block
	// structure) means listings cannot be trusted, and the store does not open.
	if err := db.VerifyChecksum(); err != nil {
		damaged, serr := s.scanDamaged()
		if serr != nil || len(damaged) == 0 || !onlyEnrollmentData(damaged) {
			db.Close()
			detail := err
			if len(damaged) > 0 {
				detail = fmt.Errorf("%v; damaged records: %s", err, strings.Join(damaged, ", "))
			}
			return nil, &IntegrityError{File: tableInError(err), Err: detail}
		}
		s.damaged = damaged
	}
	return s, nil
}

// scanDamaged opens every stored value and lists the keys whose seal fails.
func (s *Store) scanDamaged() (keys []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("badger: %v", r)
		}
	}()
	err = s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			key := string(it.Item().KeyCopy(nil))
			verr := it.Item().Value(func(b []byte) error { _, err := s.open(key, b); return err })
			if errors.Is(verr, ErrIntegrity) {
				keys = append(keys, key)
			} else if verr != nil {
				return verr
			}
		}
		return nil
	})
	return keys, err
}

func onlyEnrollmentData(keys []string) bool {
	for _, k := range keys {
		p, id, ok := strings.Cut(k, "/")
		if !ok || !validID(id) || !strings.Contains("e p t f", p) || len(p) != 1 {
			return false
		}
	}
	return true
}

// Damaged lists the keys of records found damaged when the store opened (each reads as
// an *IntegrityError).
func (s *Store) Damaged() []string { return append([]string(nil), s.damaged...) }

// tableInError picks the table file name out of badger's checksum error.
func tableInError(err error) string {
	for _, f := range strings.Fields(err.Error()) {
		f = strings.TrimRight(f, ",:")
		if strings.HasSuffix(f, ".sst") {
			return filepath.Base(f)
		}
	}
	return "(a table file)"
}

// Close closes the store.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("vault: closing store: %w", err)
	}
	return nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Update runs fn in a read-write transaction and commits it durably. fn may run more
// than once when it conflicts with a concurrent transaction, so it must not have side
// effects outside tx.
//
// It fails with a *LowDiskError (ErrLowDisk), writing nothing, when the disk has less
// than StoreOptions.MinFree free.
func (s *Store) Update(fn func(tx *Tx) error) error {
	return s.update(s.minFree, fn)
}

// UpdateRecord is Update for writes that add enrollment data (portraits, frames): it
// needs StoreOptions.RecordFree free, so that clerks stop before the disk is full while
// the smaller writes that free space (export, acknowledgement, purge) still go through.
func (s *Store) UpdateRecord(fn func(tx *Tx) error) error {
	return s.update(s.recordFree, fn)
}

// RoomForRecord reports, as UpdateRecord would, whether there is room for enrollment
// data now (nil) or a *LowDiskError.
func (s *Store) RoomForRecord() error { return ensureFree(s.dir, s.recordFree) }

func (s *Store) update(need uint64, fn func(tx *Tx) error) error {
	if err := ensureFree(s.dir, need); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := s.db.Update(func(txn *badger.Txn) error { return fn(&Tx{txn: txn, s: s}) })
		if errors.Is(err, badger.ErrConflict) && attempt < 100 {
			continue
		}
		return err
	}
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.db.View(func(txn *badger.Txn) error { return fn(&Tx{txn: txn, ro: true, s: s}) })
}

// Tx is a store transaction.
type Tx struct {
	txn *badger.Txn
	ro  bool
	s   *Store
}

// Key layout. Index keys carry no data; their suffix is the enrollment ID.
const (
	pEnrollment = "e/"
	pPortrait   = "p/"
	pTemplate   = "t/"
	pFrame      = "f/"
	pIdxStatus  = "x/s/"
	pIdxBatch   = "x/b/"
	pIdxDay     = "x/d/"
	pBatch      = "b/"
	pOperator   = "o/"
	pProfile    = "c/"
	kSettings   = "m/settings"
)

func (tx *Tx) getJSON(key string, v any) error {
	item, err := tx.txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("vault: reading %s: %w", key, err)
	}
	return item.Value(func(b []byte) error {
		plain, err := tx.s.open(key, b)
		if err != nil {
			return err
		}
		return decodeRecord(key, plain, v)
	})
}

func decodeRecord(key string, b []byte, v any) error {
	var head struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("vault: record %s: %w", key, err)
	}
	if head.V > recordVersion {
		return fmt.Errorf("%w (%s is version %d)", ErrNewerRecord, key, head.V)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("vault: record %s: %w", key, err)
	}
	return nil
}

func (tx *Tx) putJSON(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("vault: encoding %s: %w", key, err)
	}
	return tx.set(key, b)
}

func (tx *Tx) set(key string, b []byte) error {
	if err := tx.txn.Set([]byte(key), tx.s.seal(key, b)); err != nil {
		return fmt.Errorf("vault: writing %s: %w", key, err)
	}
	return nil
}

func (tx *Tx) del(key string) error {
	if err := tx.txn.Delete([]byte(key)); err != nil {
		return fmt.Errorf("vault: deleting %s: %w", key, err)
	}
	return nil
}

func (tx *Tx) getBytes(key string) ([]byte, error) {
	item, err := tx.txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: reading %s: %w", key, err)
	}
	var out []byte
	err = item.Value(func(b []byte) (err error) {
		if out, err = tx.s.open(key, b); tx.s.aead == nil {
			out = bytes.Clone(out) // b is badger's, valid only here
		}
		return err
	})
	if err == nil && out == nil {
		out = []byte{} // present but empty, unlike a missing key
	}
	return out, err
}

// keys lists the suffixes of keys under prefix, in key order.
func (tx *Tx) keys(prefix string) []string {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte(prefix)
	it := tx.txn.NewIterator(opts)
	defer it.Close()
	var out []string
	for it.Rewind(); it.Valid(); it.Next() {
		out = append(out, string(it.Item().Key()[len(prefix):]))
	}
	return out
}

// NewID returns a new record ID: the UTC time, so IDs sort by creation, and randomness.
func NewID(now time.Time) string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(r[:])
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func dayKey(t time.Time) string { return t.UTC().Format("2006-01-02") }

// Enrollment reads an enrollment with its portrait and template.
func (tx *Tx) Enrollment(id string) (*Enrollment, error) {
	e, err := tx.EnrollmentMeta(id)
	if err != nil {
		return nil, err
	}
	if e.Portrait, err = tx.getBytes(pPortrait + id); err != nil {
		return nil, err
	}
	if e.Template, err = tx.getBytes(pTemplate + id); err != nil {
		return nil, err
	}
	return e, nil
}

// EnrollmentFrame reads an enrollment's captured frame (JPEG); nil when none was kept or
// it was purged.
func (tx *Tx) EnrollmentFrame(id string) ([]byte, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: enrollment ID %q", ErrInvalid, id)
	}
	return tx.getBytes(pFrame + id)
}

// EnrollmentMeta reads an enrollment without its portrait and template.
func (tx *Tx) EnrollmentMeta(id string) (*Enrollment, error) {
	var e Enrollment
	if err := tx.getJSON(pEnrollment+id, &e); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("vault: enrollment %q: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &e, nil
}

// PutEnrollment writes an enrollment and its indexes. The status change from the stored
// version must be one the workflow allows. Portrait, template and frame are written when non-nil
// and kept otherwise (purging clears them with PurgeBiometrics).
func (tx *Tx) PutEnrollment(e *Enrollment) error {
	if !validID(e.ID) {
		return fmt.Errorf("%w: enrollment ID %q", ErrInvalid, e.ID)
	}
	if !validID(e.BatchID) && e.BatchID != "" {
		return fmt.Errorf("%w: batch ID %q", ErrInvalid, e.BatchID)
	}
	old, err := tx.EnrollmentMeta(e.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	var from Status
	if old != nil {
		from = old.Status
	}
	if !CanTransition(from, e.Status) {
		return fmt.Errorf("%w: %s → %s (enrollment %s)", ErrBadTransition, orNew(from), e.Status, e.ID)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC()
	}
	if old != nil {
		e.CreatedAt = old.CreatedAt
		if err := tx.del(pIdxStatus + string(old.Status) + "/" + e.ID); err != nil {
			return err
		}
		if old.BatchID != "" {
			if err := tx.del(pIdxBatch + old.BatchID + "/" + e.ID); err != nil {
				return err
			}
		}
	}
	e.V = recordVersion
	if e.UpdatedAt.IsZero() || (old != nil && !e.UpdatedAt.After(old.UpdatedAt)) {
		e.UpdatedAt = time.Now().UTC()
	}
	if err := tx.putJSON(pEnrollment+e.ID, e); err != nil {
		return err
	}
	if e.Portrait != nil {
		if err := tx.set(pPortrait+e.ID, e.Portrait); err != nil {
			return err
		}
	}
	if e.Template != nil {
		if err := tx.set(pTemplate+e.ID, e.Template); err != nil {
			return err
		}
	}
	if e.Frame != nil {
		if err := tx.set(pFrame+e.ID, e.Frame); err != nil {
			return err
		}
	}
	if err := tx.set(pIdxStatus+string(e.Status)+"/"+e.ID, nil); err != nil {
		return err
	}
	if e.BatchID != "" {
		if err := tx.set(pIdxBatch+e.BatchID+"/"+e.ID, nil); err != nil {
			return err
		}
	}
	return tx.set(pIdxDay+dayKey(e.CreatedAt)+"/"+e.ID, nil)
}

func orNew(s Status) Status {
	if s == "" {
		return "new"
	}
	return s
}

// PurgeBiometrics deletes an enrollment's portrait, template and captured frame
// (metadata stays).
func (tx *Tx) PurgeBiometrics(id string) error {
	for _, p := range []string{pPortrait, pTemplate, pFrame} {
		if err := tx.del(p + id); err != nil {
			return err
		}
	}
	return nil
}

// EnrollmentsByStatus lists the IDs of enrollments in a status, oldest first.
func (tx *Tx) EnrollmentsByStatus(s Status) []string {
	return tx.keys(pIdxStatus + string(s) + "/")
}

// EnrollmentsByBatch lists the IDs of the enrollments in a batch.
func (tx *Tx) EnrollmentsByBatch(batchID string) []string {
	return tx.keys(pIdxBatch + batchID + "/")
}

// EnrollmentsByDay lists the IDs of enrollments created on t's UTC day.
func (tx *Tx) EnrollmentsByDay(t time.Time) []string {
	return tx.keys(pIdxDay + dayKey(t) + "/")
}

// CountByStatus counts enrollments per status.
func (tx *Tx) CountByStatus() map[Status]int {
	m := make(map[Status]int)
	for _, s := range Statuses {
		m[s] = len(tx.EnrollmentsByStatus(s))
	}
	return m
}

// Batch reads a batch.
func (tx *Tx) Batch(id string) (*Batch, error) {
	var b Batch
	if err := tx.getJSON(pBatch+id, &b); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("vault: batch %q: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &b, nil
}

// PutBatch writes a batch.
func (tx *Tx) PutBatch(b *Batch) error {
	if !validID(b.ID) {
		return fmt.Errorf("%w: batch ID %q", ErrInvalid, b.ID)
	}
	b.V = recordVersion
	return tx.putJSON(pBatch+b.ID, b)
}

// Batches lists batch IDs, oldest first.
func (tx *Tx) Batches() []string { return tx.keys(pBatch) }

// Operator reads an operator account.
func (tx *Tx) Operator(name string) (*Operator, error) {
	var o Operator
	if err := tx.getJSON(pOperator+name, &o); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("vault: operator %q: %w", name, ErrNotFound)
		}
		return nil, err
	}
	return &o, nil
}

// PutOperator writes an operator account.
func (tx *Tx) PutOperator(o *Operator) error {
	if err := validName(o.Name); err != nil {
		return err
	}
	o.V = recordVersion
	return tx.putJSON(pOperator+o.Name, o)
}

// Operators lists operator names in order.
func (tx *Tx) Operators() []string { return tx.keys(pOperator) }

// CameraProfile reads a camera profile.
func (tx *Tx) CameraProfile(id string) (*CameraProfile, error) {
	var c CameraProfile
	if err := tx.getJSON(pProfile+id, &c); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("vault: camera profile %q: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &c, nil
}

// PutCameraProfile writes a camera profile.
func (tx *Tx) PutCameraProfile(c *CameraProfile) error {
	if !validID(c.ID) {
		return fmt.Errorf("%w: camera profile ID %q", ErrInvalid, c.ID)
	}
	c.V = recordVersion
	return tx.putJSON(pProfile+c.ID, c)
}

// CameraProfiles lists camera profile IDs.
func (tx *Tx) CameraProfiles() []string { return tx.keys(pProfile) }

// Settings reads the station settings (DefaultSettings if never written).
func (tx *Tx) Settings() (Settings, error) {
	s := DefaultSettings()
	if err := tx.getJSON(kSettings, &s); err != nil && !errors.Is(err, ErrNotFound) {
		return s, err
	}
	return s, nil
}

// PutSettings writes the station settings.
func (tx *Tx) PutSettings(s Settings) error {
	if s.RetentionDays < 0 || s.LockoutThreshold < 1 {
		return fmt.Errorf("%w: retention %d days, lockout after %d failures", ErrInvalid, s.RetentionDays, s.LockoutThreshold)
	}
	s.V = recordVersion
	return tx.putJSON(kSettings, s)
}

func validName(name string) error {
	if name == "" || len(name) > 64 || strings.TrimSpace(name) != name || bytes.ContainsAny([]byte(name), "/\x00\n\r\t") {
		return fmt.Errorf("%w: operator name %q (1-64 characters, no slashes or spaces at the ends)", ErrInvalid, name)
	}
	return nil
}
