package vault

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"enrollstation/internal/swtpm"
	"enrollstation/internal/tpmconn"
)

// Errors of the TPM layer. The UI turns them into plain-language messages.
var (
	// ErrNoTPM: no TPM where one was looked for.
	ErrNoTPM = tpmconn.ErrNoTPM
	// ErrWrongTPM: a key blob was made by another TPM (or the TPM was cleared).
	ErrWrongTPM = errors.New("this station's store key cannot be unsealed by this TPM (the data directory belongs to another TPM, or this TPM was cleared)")
	// ErrTPMLockout: the TPM's dictionary-attack protection is active.
	ErrTPMLockout = errors.New("the TPM is in dictionary-attack lockout after repeated wrong passwords; wait for it to recover or ask a technician to reset it")
	// ErrPCRPolicy: the PCRs the store key is sealed to have changed (firmware,
	// Secure Boot configuration or boot chain changed).
	ErrPCRPolicy = errors.New("the store key is bound to this machine's boot state (PCRs), which has changed since it was sealed; restore the boot configuration or re-provision the key")
	// ErrTPMAuth: a wrong authorization value for a TPM key (e.g. a stale password).
	ErrTPMAuth = errors.New("the TPM refused the key's authorization value")
)

// TPMInfo describes the TPM in use.
type TPMInfo struct {
	Kind         string `json:"kind"`         // "hardware" or "software"
	Manufacturer string `json:"manufacturer"` // e.g. "IBM", "IFX", "STM"
	Firmware     string `json:"firmware"`     // firmware version, e.g. "1.38.0.0"
}

// TPM carries the station's operations on one TPM connection. Its methods are safe for
// concurrent use: they take turns on the connection.
type TPM struct {
	mu   sync.Mutex
	t    transport.TPM
	info TPMInfo
	c    io.Closer // closed by Close; nil when the caller owns the connection
	lock *DirLock  // the data directory's lock, taken by OpenTPM before the TPM is opened
}

// NewTPM uses an open connection (the caller closes it). kind is "hardware" or
// "software"; the rest of TPMInfo is read from the TPM.
func NewTPM(t transport.TPM, kind string) (*TPM, error) {
	tp := &TPM{t: tpmconn.Retry(t)}
	info, err := readInfo(tp.t)
	if err != nil {
		return nil, err
	}
	info.Kind = kind
	tp.info = info
	if kind != "hardware" {
		tp.flushStale()
	}
	return tp, nil
}

// flushStale flushes transient objects and sessions left in a TPM without a resource
// manager (a simulator over TCP, a spawned swtpm) by an earlier process that was killed
// mid-operation: otherwise a few such kills exhaust its object slots
// (TPM_RC_OBJECT_MEMORY). The station's lock makes this process the TPM's only user
// (/dev/tpmrm0 does this itself when a process exits).
func (tp *TPM) flushStale() {
	for _, first := range []tpm2.TPMHandle{0x80000000, 0x02000000, 0x03000000} {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(first), PropertyCount: 64}.Execute(tp.t)
		if err != nil {
			continue
		}
		hs, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			continue
		}
		for _, h := range hs.Handle {
			if h>>24 == first>>24 {
				tp.flush(h)
			}
		}
	}
}

// OpenTPM opens the TPM named by spec (auto | /dev/tpmrm0 | swtpm | HOST:PORT, see
// tpmconn.Open); "swtpm" keeps its state in dataDir/swtpm and runs while the TPM is
// open. Close it when done.
//
// It first takes the data directory's lock (LockDataDir), so a second process gets an
// *InUseError naming the first one's PID instead of waiting for a TPM the first one
// holds (a TCP simulator serves one connection at a time); Close releases it.
func OpenTPM(spec, dataDir string) (*TPM, error) {
	var lock *DirLock
	if dataDir != "" {
		l, err := LockDataDir(dataDir)
		if err != nil {
			return nil, err
		}
		lock = l
	}
	c, kind, err := tpmconn.Open(spec, dataDir)
	if err != nil {
		lock.Unlock()
		if errors.Is(err, tpmconn.ErrNoTPM) {
			return nil, ErrNoTPM
		}
		if errors.Is(err, swtpm.ErrInUse) {
			return nil, &InUseError{Dir: dataDir}
		}
		return nil, fmt.Errorf("vault: opening TPM: %w", err)
	}
	tp, err := NewTPM(c, string(kind))
	if err != nil {
		c.Close()
		lock.Unlock()
		return nil, err
	}
	tp.c, tp.lock = c, lock
	return tp, nil
}

// holdsLock reports whether OpenTPM took dataDir's lock for this TPM.
func (tp *TPM) holdsLock(dataDir string) bool {
	if tp.lock == nil {
		return false
	}
	a, err1 := filepath.Abs(tp.lock.dir)
	b, err2 := filepath.Abs(dataDir)
	return err1 == nil && err2 == nil && a == b
}

// Info describes the TPM.
func (tp *TPM) Info() TPMInfo { return tp.info }

// Close closes the connection if OpenTPM made it (stopping a spawned swtpm).
func (tp *TPM) Close() error {
	if tp.c == nil {
		return nil
	}
	err := tp.c.Close()
	tp.lock.Unlock()
	return err
}

func readInfo(t transport.TPM) (TPMInfo, error) {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(tpm2.TPMPTManufacturer),
		PropertyCount: 8,
	}.Execute(t)
	if err != nil {
		return TPMInfo{}, fmt.Errorf("vault: reading TPM properties: %w", tpmErr(err))
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return TPMInfo{}, fmt.Errorf("vault: reading TPM properties: %w", err)
	}
	var info TPMInfo
	var fw1, fw2 uint32
	for _, p := range props.TPMProperty {
		switch p.Property {
		case tpm2.TPMPTManufacturer:
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], p.Value)
			info.Manufacturer = strings.TrimRight(string(b[:]), "\x00 ")
		case tpm2.TPMPTFirmwareVersion1:
			fw1 = p.Value
		case tpm2.TPMPTFirmwareVersion2:
			fw2 = p.Value
		}
	}
	info.Firmware = fmt.Sprintf("%d.%d.%d.%d", fw1>>16, fw1&0xffff, fw2>>16, fw2&0xffff)
	return info, nil
}

// tpmErr turns TPM response codes with a meaning for the user into this package's errors.
func tpmErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tpm2.TPMRCLockout):
		return fmt.Errorf("%w (%v)", ErrTPMLockout, err)
	case errors.Is(err, tpm2.TPMRCPolicyFail):
		return fmt.Errorf("%w (%v)", ErrPCRPolicy, err)
	case errors.Is(err, tpm2.TPMRCAuthFail), errors.Is(err, tpm2.TPMRCBadAuth):
		return fmt.Errorf("%w (%v)", ErrTPMAuth, err)
	}
	return err
}

// srkHandle is the loaded storage root key with its public area, needed to salt sessions.
type srkHandle struct {
	tpm2.NamedHandle
	pub tpm2.TPMTPublic
}

// srk re-derives the storage root key (TCG ECC P-256 SRK template) in the owner
// hierarchy. Primaries are deterministic for a given TPM, so nothing is persisted.
func (tp *TPM) srk() (srkHandle, func(), error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(tp.t)
	if err != nil {
		return srkHandle{}, nil, fmt.Errorf("vault: creating storage root key: %w", tpmErr(err))
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		tp.flush(rsp.ObjectHandle)
		return srkHandle{}, nil, fmt.Errorf("vault: storage root key: %w", err)
	}
	h := srkHandle{tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, *pub}
	return h, func() { tp.flush(h.Handle) }, nil
}

// session is a one-use HMAC session salted with the SRK, so authorization values never
// cross the bus in clear, optionally encrypting the first command or response parameter
// (secrets sealed or unsealed, new authorization values).
func (s srkHandle) session(auth []byte, enc ...tpm2.AuthOption) tpm2.Session {
	opts := append([]tpm2.AuthOption{tpm2.Auth(auth), tpm2.Salted(s.Handle, s.pub)}, enc...)
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, opts...)
}

func encryptIn() tpm2.AuthOption  { return tpm2.AESEncryption(128, tpm2.EncryptIn) }
func encryptOut() tpm2.AuthOption { return tpm2.AESEncryption(128, tpm2.EncryptOut) }

func (tp *TPM) flush(h tpm2.TPMHandle) {
	// A failed flush leaks a transient slot until the connection closes (the resource
	// manager and swtpm restarts reclaim it); nothing else can be done about it.
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(tp.t)
}

// KeyBlob is a TPM-wrapped object (public and encrypted private area, TPM wire format)
// that only the TPM that created it can load.
type KeyBlob struct {
	Public  []byte `json:"public"`
	Private []byte `json:"private"`
	PCRs    []int  `json:"pcrs,omitempty"` // PCR (SHA-256 bank) policy of a sealed object
	// CreationHash and CreationTicket (TPMT_TK_CREATION) let the attestation key certify
	// the key later without its authorization value (TPM2_CertifyCreation, see attest.go).
	CreationHash   []byte `json:"creation_hash,omitempty"`
	CreationTicket []byte `json:"creation_ticket,omitempty"`
}

// load loads a blob under the SRK. A blob from another TPM fails its integrity check.
func (tp *TPM) load(srk srkHandle, b *KeyBlob) (tpm2.NamedHandle, func(), error) {
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](b.Public)
	if err != nil {
		return tpm2.NamedHandle{}, nil, fmt.Errorf("vault: key blob: bad public area: %w", err)
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](b.Private)
	if err != nil {
		return tpm2.NamedHandle{}, nil, fmt.Errorf("vault: key blob: bad private area: %w", err)
	}
	rsp, err := tpm2.Load{ParentHandle: srk.NamedHandle, InPublic: *pub, InPrivate: *priv}.Execute(tp.t)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCIntegrity) || errors.Is(err, tpm2.TPMRCBinding) ||
			errors.Is(err, tpm2.TPMRCSize) || errors.Is(err, tpm2.TPMRCValue) {
			return tpm2.NamedHandle{}, nil, fmt.Errorf("%w (%v)", ErrWrongTPM, err)
		}
		return tpm2.NamedHandle{}, nil, fmt.Errorf("vault: loading key: %w", tpmErr(err))
	}
	h := tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
	return h, func() { tp.flush(h.Handle) }, nil
}

func pcrSelection(pcrs []int) tpm2.TPMLPCRSelection {
	sel := make([]uint, len(pcrs))
	for i, p := range pcrs {
		sel[i] = uint(p)
	}
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash:      tpm2.TPMAlgSHA256,
		PCRSelect: tpm2.PCClientCompatible.PCRs(sel...),
	}}}
}

// withKey holds the connection, loads b under the freshly derived SRK and runs fn; the
// key and the SRK are flushed when fn returns, whatever it returns.
func withKey[T any](tp *TPM, b *KeyBlob, fn func(srk srkHandle, key tpm2.NamedHandle) (T, error)) (T, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var zero T
	srk, done, err := tp.srk()
	if err != nil {
		return zero, err
	}
	defer done()
	key, unload, err := tp.load(srk, b)
	if err != nil {
		return zero, err
	}
	defer unload()
	return fn(srk, key)
}

// pcrPolicy runs PolicyPCR over the current values of pcrs in session sess.
func (tp *TPM) pcrPolicy(sess tpm2.Session, pcrs []int) error {
	_, err := tpm2.PolicyPCR{PolicySession: sess.Handle(), Pcrs: pcrSelection(pcrs)}.Execute(tp.t)
	return err
}

// Seal seals secret (at most 128 bytes) under the SRK. With pcrs, unsealing also
// requires the SHA-256 PCRs listed to hold the values they hold now.
func (tp *TPM) Seal(secret []byte, pcrs []int) (*KeyBlob, error) {
	if len(secret) == 0 || len(secret) > 128 {
		return nil, fmt.Errorf("vault: sealing: secret of %d bytes (1..128 allowed)", len(secret))
	}
	for _, p := range pcrs {
		if p < 0 || p > 23 {
			return nil, fmt.Errorf("vault: sealing: PCR %d out of range 0..23", p)
		}
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	srk, done, err := tp.srk()
	if err != nil {
		return nil, err
	}
	defer done()

	attrs := tpm2.TPMAObject{FixedTPM: true, FixedParent: true, NoDA: true, UserWithAuth: true}
	var policy []byte
	if len(pcrs) > 0 {
		// The policy digest is computed by the TPM in a trial session over current PCRs.
		sess, closeSess, err := tpm2.PolicySession(tp.t, tpm2.TPMAlgSHA256, 16, tpm2.Trial())
		if err != nil {
			return nil, fmt.Errorf("vault: sealing: starting trial session: %w", tpmErr(err))
		}
		defer closeSess()
		if err := tp.pcrPolicy(sess, pcrs); err != nil {
			return nil, fmt.Errorf("vault: sealing: PCR policy: %w", tpmErr(err))
		}
		pgd, err := tpm2.PolicyGetDigest{PolicySession: sess.Handle()}.Execute(tp.t)
		if err != nil {
			return nil, fmt.Errorf("vault: sealing: policy digest: %w", tpmErr(err))
		}
		policy = pgd.PolicyDigest.Buffer
		attrs.UserWithAuth = false
	}
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: srk.session(nil, encryptIn())},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: secret}),
		}},
		InPublic: tpm2.New2B(tpm2.TPMTPublic{
			Type:             tpm2.TPMAlgKeyedHash,
			NameAlg:          tpm2.TPMAlgSHA256,
			ObjectAttributes: attrs,
			AuthPolicy:       tpm2.TPM2BDigest{Buffer: policy},
		}),
	}.Execute(tp.t)
	if err != nil {
		return nil, fmt.Errorf("vault: sealing: %w", tpmErr(err))
	}
	return &KeyBlob{
		Public:  tpm2.Marshal(rsp.OutPublic),
		Private: tpm2.Marshal(rsp.OutPrivate),
		PCRs:    append([]int(nil), pcrs...),
	}, nil
}

// Unseal recovers a secret sealed by Seal on this TPM. It fails with ErrWrongTPM for a
// blob from another TPM and ErrPCRPolicy when the PCRs changed.
func (tp *TPM) Unseal(b *KeyBlob) ([]byte, error) {
	return withKey(tp, b, func(srk srkHandle, obj tpm2.NamedHandle) ([]byte, error) {

		// The response (the secret) is encrypted on the bus.
		sess := srk.session(nil, encryptOut())
		if len(b.PCRs) > 0 {
			s, closeSess, err := tpm2.PolicySession(tp.t, tpm2.TPMAlgSHA256, 16, tpm2.Salted(srk.Handle, srk.pub), encryptOut())
			if err != nil {
				return nil, fmt.Errorf("vault: unsealing: starting policy session: %w", tpmErr(err))
			}
			defer closeSess()
			if err := tp.pcrPolicy(s, b.PCRs); err != nil {
				return nil, fmt.Errorf("vault: unsealing: %w", tpmErr(err))
			}
			sess = s
		}
		rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: obj.Handle, Name: obj.Name, Auth: sess}}.Execute(tp.t)
		if err != nil {
			if len(b.PCRs) > 0 && errors.Is(err, tpm2.TPMRCPolicyFail) {
				return nil, fmt.Errorf("vault: unsealing: %w", ErrPCRPolicy)
			}
			return nil, fmt.Errorf("vault: unsealing: %w", tpmErr(err))
		}
		return rsp.OutData.Buffer, nil
	})
}

// eccSigningTemplate is an ECDSA P-256 / SHA-256 key that never leaves the TPM.
func eccSigningTemplate(noDA bool) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        true,
			NoDA:                noDA,
			SignEncrypt:         true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
	}
}

// CreateSigningKey creates an ECDSA P-256 key under the SRK. With a non-empty auth the
// key is subject to the TPM's dictionary-attack protection; with none it is not.
func (tp *TPM) CreateSigningKey(auth []byte) (*KeyBlob, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	srk, done, err := tp.srk()
	if err != nil {
		return nil, err
	}
	defer done()
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: srk.session(nil, encryptIn())},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			UserAuth: tpm2.TPM2BAuth{Buffer: auth},
		}},
		InPublic: tpm2.New2B(eccSigningTemplate(len(auth) == 0)),
	}.Execute(tp.t)
	if err != nil {
		return nil, fmt.Errorf("vault: creating signing key: %w", tpmErr(err))
	}
	return &KeyBlob{Public: tpm2.Marshal(rsp.OutPublic), Private: tpm2.Marshal(rsp.OutPrivate),
		CreationHash: rsp.CreationHash.Buffer, CreationTicket: tpm2.Marshal(rsp.CreationTicket)}, nil
}

// ChangeKeyAuth re-wraps a key blob with a new authorization value (the old one must be
// right). The old blob stays usable with the old value: callers replace it.
func (tp *TPM) ChangeKeyAuth(b *KeyBlob, oldAuth, newAuth []byte) (*KeyBlob, error) {
	return withKey(tp, b, func(srk srkHandle, obj tpm2.NamedHandle) (*KeyBlob, error) {
		rsp, err := tpm2.ObjectChangeAuth{
			ObjectHandle: tpm2.AuthHandle{Handle: obj.Handle, Name: obj.Name, Auth: srk.session(oldAuth, encryptIn())},
			ParentHandle: srk.NamedHandle,
			NewAuth:      tpm2.TPM2BAuth{Buffer: newAuth},
		}.Execute(tp.t)
		if err != nil {
			return nil, fmt.Errorf("vault: changing key authorization: %w", tpmErr(err))
		}
		// The name, hence the creation ticket, does not change with the authorization value.
		return &KeyBlob{Public: b.Public, Private: tpm2.Marshal(rsp.OutPrivate),
			CreationHash: b.CreationHash, CreationTicket: b.CreationTicket}, nil
	})
}

// Signer is a TPM-resident ECDSA P-256 key as a crypto.Signer.
type Signer struct {
	tp   *TPM
	blob *KeyBlob
	auth []byte
	pub  *ecdsa.PublicKey
}

// Signer returns the key in blob as a crypto.Signer that authorizes with auth.
func (tp *TPM) Signer(blob *KeyBlob, auth []byte) (*Signer, error) {
	ek, err := blobPublicKey(blob)
	if err != nil {
		return nil, err
	}
	return &Signer{tp: tp, blob: blob, auth: append([]byte(nil), auth...), pub: ek}, nil
}

// blobPublicKey reads the ECDSA public key of a key blob (no TPM needed).
func blobPublicKey(blob *KeyBlob) (*ecdsa.PublicKey, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](blob.Public)
	if err != nil {
		return nil, fmt.Errorf("vault: signing key: bad public area: %w", err)
	}
	contents, err := pub.Contents()
	if err != nil {
		return nil, fmt.Errorf("vault: signing key: bad public area: %w", err)
	}
	k, err := tpm2.Pub(*contents)
	if err != nil {
		return nil, fmt.Errorf("vault: signing key: %w", err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("vault: signing key is not an ECDSA key")
	}
	return ek, nil
}

// Public returns the *ecdsa.PublicKey.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// PublicKey returns the ECDSA public key.
func (s *Signer) PublicKey() *ecdsa.PublicKey { return s.pub }

// Sign signs a SHA-256 digest (opts.HashFunc() must be crypto.SHA256) and returns an
// ASN.1 DER ECDSA signature, as crypto/ecdsa does: ecdsa.VerifyASN1 accepts it.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || opts.HashFunc() != crypto.SHA256 || len(digest) != sha256.Size {
		return nil, errors.New("vault: the TPM key signs SHA-256 digests only")
	}
	return withKey(s.tp, s.blob, func(srk srkHandle, key tpm2.NamedHandle) ([]byte, error) {
		rsp, err := tpm2.Sign{
			KeyHandle: tpm2.AuthHandle{Handle: key.Handle, Name: key.Name, Auth: srk.session(s.auth)},
			Digest:    tpm2.TPM2BDigest{Buffer: digest},
			InScheme: tpm2.TPMTSigScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
			},
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}.Execute(s.tp.t)
		if err != nil {
			return nil, fmt.Errorf("vault: signing: %w", tpmErr(err))
		}
		sig, err := rsp.Signature.Signature.ECDSA()
		if err != nil {
			return nil, fmt.Errorf("vault: signing: %w", err)
		}
		return asn1.Marshal(struct{ R, S *big.Int }{
			new(big.Int).SetBytes(sig.SignatureR.Buffer),
			new(big.Int).SetBytes(sig.SignatureS.Buffer),
		})
	})
}

// Counter is a TPM NV monotonic counter: its value only ever grows, even if the data
// directory is restored from a backup.
type Counter struct {
	tp    *TPM
	index tpm2.TPMHandle
}

// DefaultCounterIndex is the NV index of the bundle sequence counter, in the owner range.
const DefaultCounterIndex = 0x01455301

// Counter defines the NV counter at index if it does not exist yet (an existing counter
// keeps its value, which keeps sequence numbers increasing) and returns it.
func (tp *TPM) Counter(index uint32) (*Counter, error) {
	if index>>24 != 0x01 {
		return nil, fmt.Errorf("vault: NV index %#x is not an NV index handle", index)
	}
	c := &Counter{tp: tp, index: tpm2.TPMHandle(index)}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if _, err := (tpm2.NVReadPublic{NVIndex: c.index}).Execute(tp.t); err == nil {
		return c, nil
	} else if !errors.Is(err, tpm2.TPMRCHandle) {
		return nil, fmt.Errorf("vault: reading NV counter %#x: %w", index, tpmErr(err))
	}
	_, err := tpm2.NVDefineSpace{
		AuthHandle: tpm2.TPMRHOwner,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: c.index,
			NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{
				AuthWrite: true,
				AuthRead:  true,
				NT:        tpm2.TPMNTCounter,
				NoDA:      true,
			},
			DataSize: 8,
		}),
	}.Execute(tp.t)
	if err != nil {
		return nil, fmt.Errorf("vault: defining NV counter %#x: %w", index, tpmErr(err))
	}
	// Not incremented here: Read reports 0 until the first Increment, so the first bundle
	// is sequence 1 (on a TPM that never had a counter; otherwise the TPM starts it above
	// every counter it has had, which keeps a redefined counter from going back).
	return c, nil
}

func (c *Counter) named() (tpm2.NamedHandle, error) {
	rsp, err := tpm2.NVReadPublic{NVIndex: c.index}.Execute(c.tp.t)
	if err != nil {
		return tpm2.NamedHandle{}, fmt.Errorf("vault: NV counter %#x: %w", uint32(c.index), tpmErr(err))
	}
	return tpm2.NamedHandle{Handle: c.index, Name: rsp.NVName}, nil
}

// Increment adds one to the counter and returns the new value.
func (c *Counter) Increment() (uint64, error) {
	c.tp.mu.Lock()
	defer c.tp.mu.Unlock()
	h, err := c.named()
	if err != nil {
		return 0, err
	}
	if _, err := (tpm2.NVIncrement{
		AuthHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    h,
	}).Execute(c.tp.t); err != nil {
		return 0, fmt.Errorf("vault: incrementing NV counter: %w", tpmErr(err))
	}
	return c.readLocked()
}

// initialized reports whether the counter has been incremented at least once (a
// TPM_NT_COUNTER gets its first value, above every counter the TPM has had, then).
func (c *Counter) initialized() bool {
	c.tp.mu.Lock()
	defer c.tp.mu.Unlock()
	rsp, err := tpm2.NVReadPublic{NVIndex: c.index}.Execute(c.tp.t)
	if err != nil {
		return false
	}
	pub, err := rsp.NVPublic.Contents()
	return err == nil && pub.Attributes.Written
}

// Read returns the counter's value.
func (c *Counter) Read() (uint64, error) {
	c.tp.mu.Lock()
	defer c.tp.mu.Unlock()
	return c.readLocked()
}

func (c *Counter) readLocked() (uint64, error) {
	h, err := c.named()
	if err != nil {
		return 0, err
	}
	rsp, err := tpm2.NVRead{
		AuthHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    h,
		Size:       8,
	}.Execute(c.tp.t)
	if errors.Is(err, tpm2.TPMRCNVUninitialized) {
		return 0, nil // defined, never incremented
	}
	if err != nil {
		return 0, fmt.Errorf("vault: reading NV counter: %w", tpmErr(err))
	}
	if len(rsp.Data.Buffer) != 8 {
		return 0, fmt.Errorf("vault: NV counter returned %d bytes", len(rsp.Data.Buffer))
	}
	return binary.BigEndian.Uint64(rsp.Data.Buffer), nil
}
