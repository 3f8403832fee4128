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
	"time"
)

// Station errors.
var (
	ErrNotInitialized     = errors.New("this data directory holds no Enrollment Station; run 'enrollstation station init' first")
	ErrAlreadyInitialized = errors.New("this data directory already holds an initialised Enrollment Station; refusing to initialise it again")
)

// Config holds the station's tunables; the zero value gives the defaults.
type Config struct {
	// PCRs, when set at Init, binds the store key to these SHA-256 PCRs (e.g. 7, the
	// Secure Boot state): the store then opens only in the same boot configuration.
	PCRs []int
	// CounterIndex is the NV index of the bundle sequence counter (DefaultCounterIndex).
	CounterIndex uint32
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
	file    stationFile
	// recoveryCode is the recovery code Init made, until TakeRecoveryCode hands it out.
	recoveryCode string
}

// InitOptions are the first-run settings.
type InitOptions struct {
	Name, Site    string
	Admin         string // first administrator's name
	AdminPassword string
}

// Initialized reports whether dataDir holds a station.
func Initialized(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, stationFileName))
	return err == nil
}

// Init provisions a new station in dataDir: the store key (sealed), the station signing
// key, the NV counter, the encrypted store, settings and the first administrator. It
// refuses a directory that already holds a station with operators. A station whose
// first run stopped before the administrator was created is completed instead.
func Init(dataDir string, tp *TPM, cfg Config, o InitOptions) (*Station, error) {
	if err := validName(o.Admin); err != nil {
		return nil, err
	}
	if err := checkPassword(o.AdminPassword); err != nil {
		return nil, err
	}
	if cfg.CounterIndex == 0 {
		cfg.CounterIndex = DefaultCounterIndex
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: creating data directory: %w", err)
	}
	if !Initialized(dataDir) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		sealed, err := tp.Seal(key, cfg.PCRs)
		if err != nil {
			return nil, err
		}
		sk, err := tp.CreateSigningKey(nil)
		if err != nil {
			return nil, err
		}
		if _, err := tp.Counter(cfg.CounterIndex); err != nil {
			return nil, err
		}
		// A store left by an interrupted earlier attempt was encrypted with a key that was
		// never saved: it holds nothing and cannot be opened, so start it afresh.
		if err := os.RemoveAll(filepath.Join(dataDir, "store")); err != nil {
			return nil, fmt.Errorf("vault: removing incomplete store: %w", err)
		}
		f := stationFile{V: recordVersion, StoreKey: *sealed, SigningKey: *sk, CounterIndex: cfg.CounterIndex, CreatedAt: cfg.now()}
		if err := writeFileAtomic(filepath.Join(dataDir, stationFileName), f); err != nil {
			return nil, err
		}
	}
	st, err := Open(dataDir, tp, cfg)
	if err != nil {
		return nil, err
	}
	err = st.store.Update(func(tx *Tx) error {
		if len(tx.Operators()) > 0 {
			return ErrAlreadyInitialized
		}
		s, err := tx.Settings()
		if err != nil {
			return err
		}
		s.StationName, s.Site = o.Name, o.Site
		if err := tx.PutSettings(s); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := st.bootstrapAdmin(o.Admin, o.AdminPassword); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// Open opens the station in dataDir with the TPM that provisioned it.
func Open(dataDir string, tp *TPM, cfg Config) (*Station, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, stationFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotInitialized
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
	key, err := tp.Unseal(&f.StoreKey)
	if err != nil {
		return nil, err
	}
	store, err := OpenStoreWith(filepath.Join(dataDir, "store"), key, cfg.Store)
	clear(key)
	if err != nil {
		var inUse *InUseError
		if errors.As(err, &inUse) {
			inUse.Dir = dataDir
		}
		return nil, err
	}
	signer, err := tp.Signer(&f.SigningKey, nil)
	if err != nil {
		store.Close()
		return nil, err
	}
	counter, err := tp.Counter(f.CounterIndex)
	if err != nil {
		store.Close()
		return nil, err
	}
	if cfg.KDF.Memory == 0 {
		cfg.KDF = DefaultKDF
	}
	return &Station{dir: dataDir, cfg: cfg, tpm: tp, store: store, signer: signer, counter: counter, file: f}, nil
}

// Close closes the store (not the TPM, which the caller opened).
func (st *Station) Close() error { return st.store.Close() }

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

// Checkpoint signs the current head of the audit log with the station key.
func (st *Station) Checkpoint() error {
	// On a transaction conflict Update runs this again and signs the new head.
	return st.store.Update(func(tx *Tx) error {
		_, err := tx.addCheckpoint(st.signer)
		return err
	})
}

// VerifyAudit verifies the audit log against the station key.
func (st *Station) VerifyAudit() (*AuditReport, error) {
	return st.store.VerifyAudit(st.signer.PublicKey())
}

// StationStatus summarises the station for "station status".
type StationStatus struct {
	ID           string         `json:"station_id"`
	Name         string         `json:"name"`
	Site         string         `json:"site"`
	TPM          TPMInfo        `json:"tpm"`
	Counter      uint64         `json:"counter"`
	Enrollments  map[Status]int `json:"enrollments"`
	Batches      int            `json:"batches"`
	Operators    int            `json:"operators"`
	AuditEntries uint64         `json:"audit_entries"`
	CreatedAt    time.Time      `json:"created_at"`
}

// Status gathers the station's status.
func (st *Station) Status() (*StationStatus, error) {
	c, err := st.counter.Read()
	if err != nil {
		return nil, err
	}
	s := &StationStatus{ID: st.ID(), TPM: st.tpm.Info(), Counter: c, CreatedAt: st.file.CreatedAt}
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
