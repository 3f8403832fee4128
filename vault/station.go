package vault

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Station errors.
var (
	ErrNotInitialized     = errors.New("this data directory holds no Enrollment Station; run 'enrollstation station init' first")
	ErrAlreadyInitialized = errors.New("this data directory already holds an initialised Enrollment Station; refusing to initialise it again")
	// ErrStationFileMissing: the store is there, its station file (the TPM-wrapped keys)
	// is not.
	ErrStationFileMissing = errors.New("the station file is missing")
)

// Config holds the station's tunables; the zero value gives the defaults.
type Config struct {
	// PCRs, when set at Init, binds the store key to these SHA-256 PCRs (e.g. 7, the
	// Secure Boot state): the store then opens only in the same boot configuration.
	PCRs []int
	// CounterIndex is the NV index of the bundle sequence counter (DefaultCounterIndex).
	CounterIndex uint32
	// AnchorIndex is the NV index of the audit anchor counter (DefaultAnchorIndex).
	AnchorIndex uint32
	// KDF are the argon2id parameters for new passwords (DefaultKDF).
	KDF KDFParams
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Store tunes the encrypted store (free-space reserves; the zero value is right).
	Store StoreOptions
}

// DefaultKDF is the argon2id cost for passwords: 64 MiB, 2 passes, 2 lanes.
var DefaultKDF = KDFParams{Time: 2, Memory: 64 << 10, Threads: 2}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// stationFile is <data>/station.json: the TPM-wrapped keys. Without the TPM that made
// them they are useless, so the file needs no further protection.
type stationFile struct {
	V            int       `json:"v"`
	StoreKey     KeyBlob   `json:"store_key"`   // 32 random bytes sealed under the SRK
	SigningKey   KeyBlob   `json:"signing_key"` // station ECDSA P-256 key
	CounterIndex uint32    `json:"counter_index"`
	AnchorIndex  uint32    `json:"anchor_index"` // audit anchor counter (anchor.go); 0 in format-1 stations
	CreatedAt    time.Time `json:"created_at"`
}

const stationFileName = "station.json"

// Station is an opened station: TPM, store, signing key and counter.
type Station struct {
	dir     string
	cfg     Config
	tpm     *TPM
	store   *Store
	signer  *Signer
	counter *Counter
	anchor  *Counter
	file    stationFile
	lock    *DirLock // the data directory's lock when Open took it (not the TPM)

	anchorMu    sync.Mutex // serialises anchored checkpoints with the TPM counter
	anchoredSeq uint64     // audit entry of the last anchored checkpoint
	closed      bool
	// recoveryCode is the recovery code Init made, until TakeRecoveryCode hands it out.
	recoveryCode string
}

// InitOptions are the first-run settings.
type InitOptions struct {
	Name, Site    string
	Admin         string // first administrator's name
	AdminPassword string
	// WipeExistingStore lets Init delete an existing store and station file (the
	// caller has had the operator confirm it); without it Init refuses.
	WipeExistingStore bool
}

// Initialized reports whether dataDir holds a station.
func Initialized(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, stationFileName))
	return err == nil
}

// ExistingData is what a data directory already holds, for station init to refuse or
// to have a wipe confirmed.
type ExistingData struct {
	StationFile bool        // station.json is there
	StationID   string      // its station ID, when station.json is readable
	StoreDir    string      // the store directory
	StoreFiles  []StoreFile // files in it
}

// Empty reports whether there is nothing to lose.
func (d *ExistingData) Empty() bool { return !d.StationFile && len(d.StoreFiles) == 0 }

// Inspect reports what dataDir holds, without the TPM and without changing anything.
func Inspect(dataDir string) (*ExistingData, error) {
	d := &ExistingData{StoreDir: filepath.Join(dataDir, "store")}
	files, err := StoreFiles(d.StoreDir)
	if err != nil {
		return nil, err
	}
	d.StoreFiles = files
	b, err := os.ReadFile(filepath.Join(dataDir, stationFileName))
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	d.StationFile = true
	var f stationFile
	if err == nil && json.Unmarshal(b, &f) == nil {
		if pub, err := blobPublicKey(&f.SigningKey); err == nil {
			d.StationID = KeyID(pub)
		}
	}
	return d, nil
}

// Init provisions a new station in dataDir: the store key (sealed), the station signing
// key, the NV counters, the encrypted store, settings, the first administrator and the
// first TPM-anchored checkpoint. It refuses a directory that holds a station
// (ErrAlreadyInitialized) or any store data (ErrStoreExists, naming the files), unless
// o.WipeExistingStore. station.json is written last: a first run that stops before it
// leaves store data that a new Init refuses until the wipe is confirmed.
func Init(dataDir string, tp *TPM, cfg Config, o InitOptions) (_ *Station, err error) {
	if _, err := CanonicalName(o.Admin); err != nil {
		return nil, err
	}
	if err := checkPassword(o.AdminPassword); err != nil {
		return nil, err
	}
	if cfg.CounterIndex == 0 {
		cfg.CounterIndex = DefaultCounterIndex
	}
	if cfg.AnchorIndex == 0 {
		cfg.AnchorIndex = DefaultAnchorIndex
	}
	if cfg.KDF.Memory == 0 {
		cfg.KDF = DefaultKDF
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: creating data directory: %w", err)
	}
	lock, err := lockUnlessHeld(dataDir, tp)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Unlock()
		}
	}()
	storeDir := filepath.Join(dataDir, "store")
	files, err := StoreFiles(storeDir)
	if err != nil {
		return nil, err
	}
	switch {
	case o.WipeExistingStore:
		if err := os.RemoveAll(storeDir); err != nil {
			return nil, fmt.Errorf("vault: wiping the existing store: %w", err)
		}
		if err := os.Remove(filepath.Join(dataDir, stationFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("vault: wiping the existing station file: %w", err)
		}
	case Initialized(dataDir):
		return nil, ErrAlreadyInitialized
	case len(files) > 0:
		return nil, &StoreError{Kind: ErrStoreExists, Dir: storeDir, Files: files}
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	defer clear(key)
	sealed, err := tp.Seal(key, cfg.PCRs)
	if err != nil {
		return nil, err
	}
	sk, err := tp.CreateSigningKey(nil)
	if err != nil {
		return nil, err
	}
	f := stationFile{V: recordVersion, StoreKey: *sealed, SigningKey: *sk, CounterIndex: cfg.CounterIndex, AnchorIndex: cfg.AnchorIndex, CreatedAt: cfg.now()}
	store, err := CreateStore(storeDir, key, cfg.Store)
	if err != nil {
		return nil, err
	}
	st, err := newStation(dataDir, tp, cfg, f, store)
	if err != nil {
		store.Close()
		os.RemoveAll(storeDir)
		return nil, err
	}
	st.lock = lock
	// On failure the store made here goes again (it holds nothing yet), so the next
	// attempt is not refused; only a crash leaves it behind (then a confirmed wipe).
	fail := func(err error) (*Station, error) {
		st.store.Close()
		os.RemoveAll(storeDir)
		return nil, err
	}
	if err := st.initAnchor(); err != nil {
		return fail(err)
	}
	err = st.store.Update(func(tx *Tx) error {
		s, err := tx.Settings()
		if err != nil {
			return err
		}
		s.StationName, s.Site = o.Name, o.Site
		return tx.PutSettings(s)
	})
	if err != nil {
		return fail(err)
	}
	if err := st.bootstrapAdmin(o.Admin, o.AdminPassword); err != nil {
		return fail(err)
	}
	if _, err := st.anchoredUpdate(nil); err != nil {
		return fail(err)
	}
	if err := writeFileAtomic(filepath.Join(dataDir, stationFileName), f); err != nil {
		return fail(err)
	}
	return st, nil
}

// lockUnlessHeld takes dataDir's lock unless tp (from OpenTPM) already holds it.
func lockUnlessHeld(dataDir string, tp *TPM) (*DirLock, error) {
	if tp.holdsLock(dataDir) {
		return nil, nil
	}
	return LockDataDir(dataDir)
}

func newStation(dataDir string, tp *TPM, cfg Config, f stationFile, store *Store) (*Station, error) {
	signer, err := tp.Signer(&f.SigningKey, nil)
	if err != nil {
		return nil, err
	}
	counter, err := tp.Counter(f.CounterIndex)
	if err != nil {
		return nil, err
	}
	anchor, err := tp.Counter(f.AnchorIndex)
	if err != nil {
		return nil, err
	}
	if cfg.KDF.Memory == 0 {
		cfg.KDF = DefaultKDF
	}
	return &Station{dir: dataDir, cfg: cfg, tpm: tp, store: store, signer: signer, counter: counter, anchor: anchor, file: f}, nil
}

// Open opens the station in dataDir with the TPM that provisioned it. It never creates
// a store (see OpenStore) and refuses a store older than the TPM's anchor (ErrRollback).
func Open(dataDir string, tp *TPM, cfg Config) (_ *Station, err error) {
	if _, err := os.Stat(filepath.Join(dataDir, stationFileName)); errors.Is(err, os.ErrNotExist) {
		return nil, missingStationFile(dataDir)
	}
	lock, err := lockUnlessHeld(dataDir, tp)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Unlock()
		}
	}()
	b, err := os.ReadFile(filepath.Join(dataDir, stationFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, missingStationFile(dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("vault: reading station file: %w", err)
	}
	var f stationFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("vault: station file %s is damaged: %w", filepath.Join(dataDir, stationFileName), err)
	}
	if f.V > recordVersion {
		return nil, fmt.Errorf("%w (station file version %d)", ErrNewerRecord, f.V)
	}
	if f.AnchorIndex == 0 {
		return nil, fmt.Errorf("%w (%s)", ErrStoreFormat, dataDir)
	}
	storeDir := filepath.Join(dataDir, "store")
	// The files first: a missing or damaged store is reported without the TPM.
	if err := checkStoreFiles(storeDir, !cfg.Store.NoEncryption); err != nil {
		return nil, err
	}
	key, err := tp.Unseal(&f.StoreKey)
	if err != nil {
		return nil, err
	}
	store, err := OpenStoreWith(storeDir, key, cfg.Store)
	clear(key)
	if err != nil {
		var inUse *InUseError
		if errors.As(err, &inUse) {
			inUse.Dir = dataDir
		}
		return nil, err
	}
	st, err := newStation(dataDir, tp, cfg, f, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	if err := st.checkAnchor(); err != nil {
		store.Close()
		return nil, err
	}
	err = store.View(func(tx *Tx) error {
		a, _, err := tx.anchorState()
		st.anchoredSeq = a.Seq
		return err
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	st.lock = lock
	return st, nil
}

// missingStationFile is ErrNotInitialized, or, when a store is there without its
// station file (deleted), says so: the store cannot be opened without it and station
// init will not overwrite it.
func missingStationFile(dataDir string) error {
	storeDir := filepath.Join(dataDir, "store")
	files, err := StoreFiles(storeDir)
	if err != nil || len(files) == 0 {
		return ErrNotInitialized
	}
	var size int64
	for _, f := range files {
		size += f.Size
	}
	return fmt.Errorf("%w: %s is missing but the store %s holds data (%d files, %s): restore station.json from a backup (the store cannot be opened without it; station init will not overwrite the store)",
		ErrStationFileMissing, filepath.Join(dataDir, stationFileName), storeDir, len(files), humanSize(size))
}

// Close anchors the audit log in the TPM when it grew since the last anchored
// checkpoint (so work done in this session cannot be rolled back unseen), then closes
// the store (not the TPM, which the caller opened) and releases the data directory.
func (st *Station) Close() error {
	if st.closed {
		return nil
	}
	st.closed = true
	var head auditHead
	err := st.store.View(func(tx *Tx) (err error) { head, err = tx.auditHead(); return err })
	if err == nil && head.Seq > st.anchoredSeq {
		// With the disk full nothing can be written; the entries stay unanchored.
		if _, cerr := st.anchoredUpdate(nil); cerr != nil && !errors.Is(cerr, ErrLowDisk) {
			err = cerr
		}
	}
	if cerr := st.store.Close(); err == nil {
		err = cerr
	}
	if uerr := st.lock.Unlock(); err == nil {
		err = uerr
	}
	return err
}

// Store is the station's record store.
func (st *Station) Store() *Store { return st.store }

// TPM is the station's TPM.
func (st *Station) TPM() *TPM { return st.tpm }

// Signer is the station signing key (ECDSA P-256 in the TPM).
func (st *Station) Signer() crypto.Signer { return st.signer }

// PublicKey is the station's signing public key.
func (st *Station) PublicKey() *ecdsa.PublicKey { return st.signer.PublicKey() }

// ID is the station's identity: hex SHA-256 of its signing public key (PKIX DER).
func (st *Station) ID() string { return KeyID(st.signer.PublicKey()) }

// KeyID is hex SHA-256 of a public key's PKIX DER encoding.
func KeyID(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// PublicKeyPEM is the signing public key as a PEM "PUBLIC KEY" block, to register with
// the issuer.
func (st *Station) PublicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(st.signer.PublicKey())
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// NextBundleSeq increments the TPM monotonic counter and returns the new value.
func (st *Station) NextBundleSeq() (uint64, error) { return st.counter.Increment() }

// BundleSeq returns the counter's current value.
func (st *Station) BundleSeq() (uint64, error) { return st.counter.Read() }

// Checkpoint signs the current head of the audit log with the station key and anchors
// it in the TPM.
func (st *Station) Checkpoint() error {
	_, err := st.anchoredUpdate(nil)
	return err
}

// VerifyAudit verifies the audit log against the station key and the TPM's anchor: the
// anchored checkpoint must be in the log, signed, matching its entry, and at the TPM
// counter's value.
func (st *Station) VerifyAudit() (*AuditReport, error) {
	rep, err := st.store.VerifyAudit(st.signer.PublicKey())
	if rep == nil {
		return nil, err
	}
	var a anchorRecord
	var ok bool
	aerr := st.store.View(func(tx *Tx) (err error) {
		if a, ok, err = tx.anchorState(); err != nil || !ok {
			return err
		}
		return tx.checkAnchoredCheckpoint(a, st.signer.PublicKey())
	})
	if aerr == nil && !ok {
		aerr = fmt.Errorf("%w (the store has no TPM anchor)", ErrRollback)
	}
	if aerr == nil {
		if t, rerr := st.anchor.Read(); rerr != nil {
			aerr = rerr
		} else if t != a.Anchor {
			aerr = fmt.Errorf("%w (the store is at anchor %d, the TPM at %d)", ErrRollback, a.Anchor, t)
		}
	}
	if aerr == nil {
		rep.Anchored, rep.Anchor = a.Seq, a.Anchor
	}
	if aerr != nil {
		rep.Problems = append(rep.Problems, AuditProblem{Seq: a.Seq, Kind: AuditAnchorRollback, Err: aerr.Error(), Problem: "TPM anchor: " + aerr.Error()})
		if err == nil {
			err = fmt.Errorf("%w: %v", ErrAuditTampered, aerr)
		}
	}
	return rep, err
}

// StationStatus summarises the station for "station status".
type StationStatus struct {
	ID           string         `json:"station_id"`
	Name         string         `json:"name"`
	Site         string         `json:"site"`
	TPM          TPMInfo        `json:"tpm"`
	Counter      uint64         `json:"counter"`
	AuditAnchor  uint64         `json:"audit_anchor"` // TPM anchor counter (anchored checkpoints)
	Enrollments  map[Status]int `json:"enrollments"`
	Batches      int            `json:"batches"`
	Operators    int            `json:"operators"`
	AuditEntries uint64         `json:"audit_entries"`
	// Damaged lists records found damaged when the store opened (their reads fail with
	// an *IntegrityError; a supervisor can quarantine them out of their batch).
	Damaged   []string  `json:"damaged_records,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Status gathers the station's status.
func (st *Station) Status() (*StationStatus, error) {
	c, err := st.counter.Read()
	if err != nil {
		return nil, err
	}
	anchor, err := st.anchor.Read()
	if err != nil {
		return nil, err
	}
	s := &StationStatus{ID: st.ID(), TPM: st.tpm.Info(), Counter: c, AuditAnchor: anchor, Damaged: st.store.Damaged(), CreatedAt: st.file.CreatedAt}
	err = st.store.View(func(tx *Tx) error {
		set, err := tx.Settings()
		if err != nil {
			return err
		}
		s.Name, s.Site = set.StationName, set.Site
		s.Enrollments = tx.CountByStatus()
		s.Batches = len(tx.Batches())
		s.Operators = len(tx.Operators())
		h, err := tx.auditHead()
		s.AuditEntries = h.Seq
		return err
	})
	return s, err
}

func writeFileAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("vault: writing %s: %w", path, err)
	}
	if _, err := f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("vault: writing %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
