package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Attestation errors.
var (
	// ErrNoEKCertificate: the TPM holds no EK certificate where the TCG profile puts it.
	ErrNoEKCertificate = errors.New("the TPM holds no endorsement key certificate (NV index 0x01c00002); a software TPM must be provisioned with one (scripts/setup, swtpm_setup --create-ek-cert)")
	// ErrNoAttestationKey: activation before any attestation made the key it answers for.
	ErrNoAttestationKey = errors.New("this station has no attestation key yet; an administrator makes it with 'enrollstation station attest --as ADMIN'")
	// ErrWrongChallenge: the challenge names another attestation key than this station's.
	ErrWrongChallenge = errors.New("the challenge is for another attestation key (another station, or an older attestation of this one)")
)

// EK certificate NV indices of the TCG EK Credential Profile (2.3, section 2.2.1.5).
const (
	ekCertIndexRSA  = 0x01c00002
	ekChainFirstIdx = 0x01c00100
	ekChainLastIdx  = 0x01c001ff
)

// Roles of certified keys.
const (
	KeyRoleStation    = "station"
	KeyRoleSupervisor = "supervisor"
)

// AttestationEvidence is what the TPM says about this station, as raw TPM 2.0 wire
// structures; exporter/attestation turns it into the station.att file.
type AttestationEvidence struct {
	EKCertificates [][]byte // DER: the RSA EK certificate, then chain certificates from NV
	EKPublic       []byte   // TPMT_PUBLIC of the RSA EK (TCG default template)
	AKPublic       []byte   // TPMT_PUBLIC of the attestation key
	Keys           []CertifiedKey
	Skipped        []string // supervisors whose approval key cannot be certified (no creation ticket)
	TPM            TPMInfo
}

// CertifiedKey is a key certified by the attestation key.
type CertifiedKey struct {
	Role        string // KeyRoleStation or KeyRoleSupervisor
	ID          string // station ID or supervisor name
	Public      []byte // TPMT_PUBLIC
	Attestation []byte // TPMS_ATTEST (TPM2_Certify or TPM2_CertifyCreation)
	Signature   []byte // TPMT_SIGNATURE by the attestation key
}

// QualifyFunc gives the qualifying data a certification carries for a key of role and
// id, binding the TPM's statement to what the key is for (exporter/attestation defines it).
type QualifyFunc func(role, id string) []byte

// akFile is <data>/attestation-key.json: the attestation key, kept so that activation,
// and certifications of keys created later, use the key the issuer registered.
type akFile struct {
	V   int     `json:"v"`
	Key KeyBlob `json:"key"`
}

const akFileName = "attestation-key.json"

// akTemplate is a restricted ECDSA P-256 signing key: it signs only digests the TPM
// computed itself (attestation structures), never outside data claiming to be one.
func akTemplate() tpm2.TPMTPublic {
	t := eccSigningTemplate(true)
	t.ObjectAttributes.Restricted = true
	return t
}

// ekTemplate is the TCG default RSA-2048 EK template (EK Credential Profile B.3.3), the
// EK swtpm_setup and TPM manufacturers certify.
var ekTemplate = tpm2.RSAEKTemplate

// Attest exports the EK certificate chain, the attestation key and certifications by
// it of the station signing key and of every supervisor's approval key. Creating the
// attestation key (the first time) takes an administrator; later exports may pass a nil
// session, as they change nothing but the audit log.
func (st *Station) Attest(admin *Session, qualify QualifyFunc) (*AttestationEvidence, error) {
	actor := "station"
	if admin != nil {
		if err := st.Authorize(admin, RoleAdmin); err != nil {
			return nil, err
		}
		actor = admin.Name
	}
	ak, err := st.attestationKey(admin != nil)
	if err != nil {
		return nil, err
	}
	var ops []*Operator
	if err := st.store.View(func(tx *Tx) error {
		names := tx.Operators()
		sort.Strings(names)
		for _, n := range names {
			o, err := tx.Operator(n)
			if err != nil {
				return err
			}
			ops = append(ops, o)
		}
		return nil
	}); err != nil {
		return nil, err
	}

	tp := st.tpm
	ev, err := withKey(tp, ak, func(srk srkHandle, akh tpm2.NamedHandle) (*AttestationEvidence, error) {
		akPub, err := publicArea(ak)
		if err != nil {
			return nil, err
		}
		ev := &AttestationEvidence{AKPublic: tpm2.Marshal(akPub), TPM: tp.info}
		if ev.EKCertificates, err = tp.readEKCertificates(); err != nil {
			return nil, err
		}
		ekPub, _, done, err := tp.ek()
		if err != nil {
			return nil, err
		}
		done()
		ev.EKPublic = tpm2.Marshal(ekPub)

		stationKey := st.file.SigningKey
		c, err := tp.certify(srk, akh, &stationKey, true, qualify(KeyRoleStation, st.ID()))
		if err != nil {
			return nil, fmt.Errorf("vault: certifying the station key: %w", err)
		}
		c.Role, c.ID = KeyRoleStation, st.ID()
		ev.Keys = append(ev.Keys, *c)
		for _, o := range ops {
			if !o.HasRole(RoleSupervisor) || o.ApprovalKey == nil {
				continue
			}
			if len(o.ApprovalKey.CreationTicket) == 0 {
				ev.Skipped = append(ev.Skipped, o.Name)
				continue
			}
			c, err := tp.certify(srk, akh, o.ApprovalKey, false, qualify(KeyRoleSupervisor, o.Name))
			if err != nil {
				return nil, fmt.Errorf("vault: certifying %s's approval key: %w", o.Name, err)
			}
			c.Role, c.ID = KeyRoleSupervisor, o.Name
			ev.Keys = append(ev.Keys, *c)
		}
		return ev, nil
	})
	if err != nil {
		return nil, err
	}
	// The audit write does not hold the TPM lock (withKey has released it).
	err = st.store.Update(func(tx *Tx) error {
		return tx.Audit(actor, "station.attest", "", fmt.Sprintf("%d keys certified", len(ev.Keys)))
	})
	return ev, err
}

// Activate answers the issuer's credential-activation challenge: the TPM releases the
// secret only if it holds both the EK the challenge is encrypted to and the key named
// akName (this station's attestation key). Administrators only.
func (st *Station) Activate(admin *Session, akName, credentialBlob, encryptedSecret []byte) ([]byte, error) {
	if err := st.Authorize(admin, RoleAdmin); err != nil {
		return nil, err
	}
	ak, err := st.attestationKey(false)
	if err != nil {
		return nil, err
	}
	tp := st.tpm
	secret, err := withKey(tp, ak, func(_ srkHandle, akh tpm2.NamedHandle) ([]byte, error) {
		if !bytes.Equal(akh.Name.Buffer, akName) {
			return nil, ErrWrongChallenge
		}
		_, ekh, doneEK, err := tp.ek()
		if err != nil {
			return nil, err
		}
		defer doneEK()
		rsp, err := tpm2.ActivateCredential{
			ActivateHandle: tpm2.AuthHandle{Handle: akh.Handle, Name: akh.Name, Auth: tpm2.PasswordAuth(nil)},
			KeyHandle: tpm2.AuthHandle{Handle: ekh.Handle, Name: ekh.Name,
				// The EK's policy is PolicySecret(TPM_RH_ENDORSEMENT), empty endorsement auth.
				Auth: tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(t transport.TPM, h tpm2.TPMISHPolicy, nonce tpm2.TPM2BNonce) error {
					_, err := tpm2.PolicySecret{AuthHandle: tpm2.TPMRHEndorsement, PolicySession: h, NonceTPM: nonce}.Execute(t)
					return err
				})},
			CredentialBlob: tpm2.TPM2BIDObject{Buffer: credentialBlob},
			Secret:         tpm2.TPM2BEncryptedSecret{Buffer: encryptedSecret},
		}.Execute(tp.t)
		if err != nil {
			return nil, fmt.Errorf("vault: activating the credential (the challenge was not made for this TPM's EK and attestation key): %w", tpmErr(err))
		}
		return rsp.CertInfo.Buffer, nil
	})
	if err != nil {
		return nil, err
	}
	if err := st.store.Update(func(tx *Tx) error {
		return tx.Audit(admin.Name, "station.activate", "", "credential activated")
	}); err != nil {
		return nil, err
	}
	return secret, nil
}

// attestationKey loads the station's attestation key, creating it when create is set
// and none exists.
func (st *Station) attestationKey(create bool) (*KeyBlob, error) {
	path := filepath.Join(st.dir, akFileName)
	b, err := os.ReadFile(path)
	if err == nil {
		var f akFile
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("vault: attestation key file %s is damaged: %w", path, err)
		}
		return &f.Key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("vault: reading attestation key: %w", err)
	}
	if !create {
		return nil, ErrNoAttestationKey
	}
	tp := st.tpm
	blob, err := func() (*KeyBlob, error) {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		srk, done, err := tp.srk()
		if err != nil {
			return nil, err
		}
		defer done()
		rsp, err := tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: srk.session(nil)},
			InPublic:     tpm2.New2B(akTemplate()),
		}.Execute(tp.t)
		if err != nil {
			return nil, fmt.Errorf("vault: creating the attestation key: %w", tpmErr(err))
		}
		return &KeyBlob{Public: tpm2.Marshal(rsp.OutPublic), Private: tpm2.Marshal(rsp.OutPrivate)}, nil
	}()
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, akFile{V: recordVersion, Key: *blob}); err != nil {
		return nil, err
	}
	return blob, nil
}

// ek re-derives the RSA EK from the TCG template (deterministic, nothing persisted).
// The caller holds tp.mu and calls done.
func (tp *TPM) ek() (tpm2.TPMTPublic, tpm2.NamedHandle, func(), error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHEndorsement,
		InPublic:      tpm2.New2B(ekTemplate),
	}.Execute(tp.t)
	if err != nil {
		return tpm2.TPMTPublic{}, tpm2.NamedHandle{}, nil, fmt.Errorf("vault: creating the endorsement key: %w", tpmErr(err))
	}
	h := tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
	done := func() { tp.flush(h.Handle) }
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		done()
		return tpm2.TPMTPublic{}, tpm2.NamedHandle{}, nil, fmt.Errorf("vault: endorsement key: %w", err)
	}
	return *pub, h, done, nil
}

// certify has the attestation key ak certify the key in b: with TPM2_Certify when its
// authorization value is known to be empty (the station key), else with
// TPM2_CertifyCreation over its creation ticket, which needs no authorization (a
// supervisor's key is authorized by their password, which the administrator lacks).
func (tp *TPM) certify(srk srkHandle, ak tpm2.NamedHandle, b *KeyBlob, emptyAuth bool, qualifying []byte) (*CertifiedKey, error) {
	key, unload, err := tp.load(srk, b)
	if err != nil {
		return nil, err
	}
	defer unload()
	contents, err := publicArea(b)
	if err != nil {
		return nil, err
	}
	scheme := tpm2.TPMTSigScheme{
		Scheme:  tpm2.TPMAlgECDSA,
		Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
	}
	akAuth := tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: srk.session(nil)}
	var info tpm2.TPM2BAttest
	var sig tpm2.TPMTSignature
	if emptyAuth {
		rsp, err := tpm2.Certify{
			ObjectHandle:   tpm2.AuthHandle{Handle: key.Handle, Name: key.Name, Auth: srk.session(nil)},
			SignHandle:     akAuth,
			QualifyingData: tpm2.TPM2BData{Buffer: qualifying},
			InScheme:       scheme,
		}.Execute(tp.t)
		if err != nil {
			return nil, fmt.Errorf("TPM2_Certify: %w", tpmErr(err))
		}
		info, sig = rsp.CertifyInfo, rsp.Signature
	} else {
		ticket, err := tpm2.Unmarshal[tpm2.TPMTTKCreation](b.CreationTicket)
		if err != nil {
			return nil, fmt.Errorf("bad creation ticket: %w", err)
		}
		rsp, err := tpm2.CertifyCreation{
			SignHandle:     akAuth,
			ObjectHandle:   key,
			QualifyingData: tpm2.TPM2BData{Buffer: qualifying},
			CreationHash:   tpm2.TPM2BDigest{Buffer: b.CreationHash},
			InScheme:       scheme,
			CreationTicket: *ticket,
		}.Execute(tp.t)
		if err != nil {
			return nil, fmt.Errorf("TPM2_CertifyCreation: %w", tpmErr(err))
		}
		info, sig = rsp.CertifyInfo, rsp.Signature
	}
	return &CertifiedKey{Public: tpm2.Marshal(contents), Attestation: info.Bytes(), Signature: tpm2.Marshal(sig)}, nil
}

// publicArea is the TPMT_PUBLIC inside a blob's TPM2B_PUBLIC.
func publicArea(b *KeyBlob) (*tpm2.TPMTPublic, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](b.Public)
	if err != nil {
		return nil, fmt.Errorf("vault: key blob: bad public area: %w", err)
	}
	contents, err := pub.Contents()
	if err != nil {
		return nil, fmt.Errorf("vault: key blob: bad public area: %w", err)
	}
	return contents, nil
}

// readEKCertificates reads the RSA EK certificate and any EK chain certificates the
// manufacturer stored in NV. The caller holds tp.mu.
func (tp *TPM) readEKCertificates() ([][]byte, error) {
	cert, err := tp.readNV(ekCertIndexRSA)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, ErrNoEKCertificate
	}
	if err != nil {
		return nil, fmt.Errorf("vault: reading the EK certificate: %w", err)
	}
	out := [][]byte{trimDER(cert)}
	caps, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapHandles,
		Property:      ekChainFirstIdx,
		PropertyCount: ekChainLastIdx - ekChainFirstIdx + 1,
	}.Execute(tp.t)
	if err != nil {
		return nil, fmt.Errorf("vault: listing NV indices: %w", tpmErr(err))
	}
	handles, err := caps.CapabilityData.Data.Handles()
	if err != nil {
		return nil, fmt.Errorf("vault: listing NV indices: %w", err)
	}
	for _, h := range handles.Handle {
		if h < ekChainFirstIdx || h > ekChainLastIdx {
			continue
		}
		b, err := tp.readNV(h)
		if err != nil {
			return nil, fmt.Errorf("vault: reading EK chain certificate %#x: %w", uint32(h), err)
		}
		out = append(out, b)
	}
	return out, nil
}

// readNV reads a whole NV index in pieces the TPM accepts, authorizing with the index's
// own (empty) value, or the owner's where the index allows only that.
func (tp *TPM) readNV(index tpm2.TPMHandle) ([]byte, error) {
	pub, err := tpm2.NVReadPublic{NVIndex: index}.Execute(tp.t)
	if err != nil {
		return nil, err
	}
	nv, err := pub.NVPublic.Contents()
	if err != nil {
		return nil, err
	}
	nh := tpm2.NamedHandle{Handle: index, Name: pub.NVName}
	auth := tpm2.AuthHandle{Handle: index, Name: pub.NVName, Auth: tpm2.PasswordAuth(nil)}
	if !nv.Attributes.AuthRead && nv.Attributes.OwnerRead {
		auth = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}
	}
	const chunk = 512 // below every TPM's TPM_PT_NV_BUFFER_MAX
	var out []byte
	for off := 0; off < int(nv.DataSize); off += chunk {
		n := min(chunk, int(nv.DataSize)-off)
		rsp, err := tpm2.NVRead{AuthHandle: auth, NVIndex: nh, Size: uint16(n), Offset: uint16(off)}.Execute(tp.t)
		if err != nil {
			return nil, tpmErr(err)
		}
		out = append(out, rsp.Data.Buffer...)
	}
	return out, nil
}

// trimDER cuts an NV-stored certificate to its DER length: indices are often larger
// than the certificate and padded.
func trimDER(b []byte) []byte {
	if len(b) < 4 || b[0] != 0x30 {
		return b
	}
	switch {
	case b[1] < 0x80:
		if n := 2 + int(b[1]); n <= len(b) {
			return b[:n]
		}
	case b[1] == 0x81:
		if n := 3 + int(b[2]); n <= len(b) {
			return b[:n]
		}
	case b[1] == 0x82:
		if n := 4 + (int(b[2])<<8 | int(b[3])); n <= len(b) {
			return b[:n]
		}
	}
	return b
}
