package attestation

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// Trust is the set of TPM manufacturer CA certificates an issuer trusts.
type Trust struct {
	roots, intermediates *x509.CertPool
	n                    int
}

// LoadTrust reads every PEM CERTIFICATE block of every file in dir (other blocks, such
// as the private keys swtpm's local CA keeps beside its certificates, are skipped).
// Self-signed certificates are roots, the others intermediates.
func LoadTrust(dir string) (*Trust, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("attestation: TPM CA directory: %w", err)
	}
	t := &Trust{roots: x509.NewCertPool(), intermediates: x509.NewCertPool()}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // e.g. a CA private key readable only by its owner
		}
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("attestation: %s: %w", e.Name(), err)
			}
			if !c.IsCA {
				continue
			}
			if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
				t.roots.AddCert(c)
			} else {
				t.intermediates.AddCert(c)
			}
			t.n++
		}
	}
	if t.n == 0 {
		return nil, fmt.Errorf("attestation: no CA certificates in %s", dir)
	}
	return t, nil
}

// RegisterOptions tune Register.
type RegisterOptions struct {
	// AcceptSoftwareTPM lets a software TPM (swtpm) register; it is recorded in the
	// registration. Never for production stations.
	AcceptSoftwareTPM bool
	Now               func() time.Time // time.Now if nil
	Rand              io.Reader        // crypto/rand if nil
}

// OIDs of the TCG EK Credential Profile.
var (
	oidSAN             = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidTPMManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
)

// Register checks a station's attestation and returns the pending registration and
// the credential-activation challenge for the station. In order: the EK certificate
// chains to a trusted CA (ErrEKUntrusted); the EK is the certified key (ErrEKMismatch);
// the attestation key is a restricted TPM-resident signing key (ErrBadAK); the station
// key and every supervisor key are certified by it (ErrNotCertified); a software TPM is
// accepted only with AcceptSoftwareTPM (ErrSoftwareTPM).
func Register(a *Attestation, trust *Trust, opts RegisterOptions) (*Pending, *Challenge, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	tpmInfo, ekPub, err := verifyEK(a, trust, now())
	if err != nil {
		return nil, nil, err
	}
	akPub, akName, err := verifyAK(a.AKPublic)
	if err != nil {
		return nil, nil, err
	}
	reg := Registration{
		Format: FormatRegistration, StationID: a.StationID, AttestationKey: a.AKPublic,
		SupervisorKeys: []SupervisorKey{}, TPM: *tpmInfo,
	}
	seen := map[string]bool{}
	for _, k := range a.Keys {
		der, err := verifyKey(k, akPub)
		if err != nil {
			return nil, nil, err
		}
		switch k.Role {
		case RoleStation:
			if reg.StationKey != nil || k.ID != a.StationID || keyID(der) != a.StationID {
				return nil, nil, fmt.Errorf("attestation: station key: %w: station ID %s does not match the certified key (or two station keys)", ErrNotCertified, a.StationID)
			}
			reg.StationKey = der
		case RoleSupervisor:
			if seen[k.ID] {
				return nil, nil, fmt.Errorf("attestation: %w: supervisor %q listed twice", ErrMalformed, k.ID)
			}
			seen[k.ID] = true
			reg.SupervisorKeys = append(reg.SupervisorKeys, SupervisorKey{ID: k.ID, Key: der})
		default:
			return nil, nil, fmt.Errorf("attestation: %w: unknown key role %q", ErrMalformed, k.Role)
		}
	}
	if reg.StationKey == nil {
		return nil, nil, fmt.Errorf("attestation: %w: the attestation certifies no station key", ErrNotCertified)
	}
	if tpmInfo.Kind == "software" {
		if !opts.AcceptSoftwareTPM {
			return nil, nil, fmt.Errorf("attestation: %w (EK certificate: manufacturer %s, model %s, CA %s); a software TPM protects nothing, accept it only for tests and demos",
				ErrSoftwareTPM, tpmInfo.Manufacturer, tpmInfo.Model, tpmInfo.CA)
		}
		reg.AcceptedSoftwareTPM = true
	}

	secret := make([]byte, 32)
	if _, err := io.ReadFull(rnd, secret); err != nil {
		return nil, nil, err
	}
	ek, err := tpm2.ImportEncapsulationKey(ekPub)
	if err != nil {
		return nil, nil, fmt.Errorf("attestation: EK: %w: %v", ErrEKMismatch, err)
	}
	idObject, encSecret, err := tpm2.CreateCredential(rnd, ek, akName, secret)
	if err != nil {
		return nil, nil, fmt.Errorf("attestation: making the credential: %w", err)
	}
	sum := sha256.Sum256(secret)
	reg.Registered = now().UTC()
	p := &Pending{Format: FormatPending, SecretSHA256: hex.EncodeToString(sum[:]), Registration: reg}
	c := &Challenge{Format: FormatChallenge, StationID: a.StationID, AKName: akName, CredentialBlob: idObject, EncryptedSecret: encSecret}
	return p, c, nil
}

// Finish completes a pending registration with the station's answer: the secret only
// a TPM holding both the certified EK and the attestation key could recover.
func Finish(p *Pending, ans *Answer, now time.Time) (*Registration, error) {
	if ans.StationID != p.Registration.StationID {
		return nil, fmt.Errorf("attestation: answer: %w (answer from %s, registration of %s)", ErrWrongStation, ans.StationID, p.Registration.StationID)
	}
	want, err := hex.DecodeString(p.SecretSHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("attestation: pending registration: %w: bad secret_sha256", ErrMalformed)
	}
	got := sha256.Sum256(ans.Secret)
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return nil, fmt.Errorf("attestation: %w: the station's TPM did not recover the challenge secret (not the TPM of the EK certificate, or not its attestation key)", ErrActivation)
	}
	r := p.Registration
	r.Registered = now.UTC()
	return &r, nil
}

// verifyEK checks the EK certificate chain and that the EK public area is its key.
func verifyEK(a *Attestation, trust *Trust, now time.Time) (*RegisteredTPM, *tpm2.TPMTPublic, error) {
	if len(a.EKCertificates) == 0 {
		return nil, nil, fmt.Errorf("attestation: %w: no EK certificate", ErrEKUntrusted)
	}
	ekCert, err := x509.ParseCertificate(a.EKCertificates[0])
	if err != nil {
		return nil, nil, fmt.Errorf("attestation: EK certificate: %w: %v", ErrMalformed, err)
	}
	inter := trust.intermediates.Clone()
	for i, der := range a.EKCertificates[1:] {
		certs, err := x509.ParseCertificates(der)
		if err != nil {
			return nil, nil, fmt.Errorf("attestation: EK chain certificate %d: %w: %v", i+1, ErrMalformed, err)
		}
		for _, c := range certs {
			inter.AddCert(c)
		}
	}
	info, err := tpmIdentity(ekCert)
	if err != nil {
		return nil, nil, err
	}
	// The TCG profile makes the SAN (TPM manufacturer, model, version) critical; it is
	// a directoryName crypto/x509 does not interpret, so tpmIdentity did.
	ekCert.UnhandledCriticalExtensions = slices.DeleteFunc(ekCert.UnhandledCriticalExtensions,
		func(o asn1.ObjectIdentifier) bool { return o.Equal(oidSAN) })
	chains, err := ekCert.Verify(x509.VerifyOptions{
		Roots: trust.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("attestation: %w: %v (EK certificate issued by %q)", ErrEKUntrusted, err, ekCert.Issuer.String())
	}
	root := chains[0][len(chains[0])-1]
	info.CA = root.Subject.String()
	sum := sha256.Sum256(ekCert.Raw)
	info.EKCertificateSHA256 = hex.EncodeToString(sum[:])
	info.Kind = "hardware"
	if isSoftware(info, chains[0]) {
		info.Kind = "software"
	}

	ekPub, err := publicArea(a.EKPublic, "EK")
	if err != nil {
		return nil, nil, err
	}
	k, err := tpm2.Pub(*ekPub)
	if err != nil {
		return nil, nil, fmt.Errorf("attestation: EK: %w: %v", ErrMalformed, err)
	}
	if !publicKeysEqual(k, ekCert.PublicKey) {
		return nil, nil, fmt.Errorf("attestation: %w: the EK public area is not the certified key", ErrEKMismatch)
	}
	if at := ekPub.ObjectAttributes; !at.FixedTPM || !at.FixedParent || !at.Restricted || !at.Decrypt || at.SignEncrypt {
		return nil, nil, fmt.Errorf("attestation: %w: the EK public area is not a restricted decryption key", ErrEKMismatch)
	}
	return info, ekPub, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// tpmIdentity reads the TPM manufacturer, model and version from the EK certificate's
// subject alternative name (a directoryName, TCG EK Credential Profile 3.2.9).
func tpmIdentity(c *x509.Certificate) (*RegisteredTPM, error) {
	info := &RegisteredTPM{}
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidSAN) {
			continue
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) > 0 {
			return nil, fmt.Errorf("attestation: EK certificate: %w: bad subject alternative name", ErrMalformed)
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != 4 {
				continue
			}
			var rdns pkix.RDNSequence
			if _, err := asn1.Unmarshal(n.Bytes, &rdns); err != nil {
				return nil, fmt.Errorf("attestation: EK certificate: %w: bad directoryName", ErrMalformed)
			}
			for _, set := range rdns {
				for _, atv := range set {
					s, _ := atv.Value.(string)
					switch {
					case atv.Type.Equal(oidTPMManufacturer):
						info.Manufacturer = s
					case atv.Type.Equal(oidTPMModel):
						info.Model = s
					case atv.Type.Equal(oidTPMVersion):
						info.Version = s
					}
				}
			}
		}
	}
	if info.Manufacturer == "" {
		return nil, fmt.Errorf("attestation: %w: the EK certificate names no TPM manufacturer", ErrEKUntrusted)
	}
	return info, nil
}

// isSoftware tells a software TPM by what its EK certificate says: swtpm names itself
// as the model, and its local CA names itself in the chain.
func isSoftware(info *RegisteredTPM, chain []*x509.Certificate) bool {
	if strings.EqualFold(info.Model, "swtpm") {
		return true
	}
	for _, c := range chain {
		if strings.Contains(strings.ToLower(c.Subject.CommonName), "swtpm") {
			return true
		}
	}
	return false
}

// verifyAK checks the attestation key's public area and returns its key and name. It
// must be a restricted signing key that cannot leave the TPM: only then does a TPMS_ATTEST
// it signed come from the TPM, and only then does activation prove it sits beside the EK.
func verifyAK(b []byte) (*ecdsa.PublicKey, []byte, error) {
	p, err := publicArea(b, "attestation key")
	if err != nil {
		return nil, nil, err
	}
	at := p.ObjectAttributes
	if !at.FixedTPM || !at.FixedParent || !at.SensitiveDataOrigin || !at.Restricted || !at.SignEncrypt || at.Decrypt {
		return nil, nil, fmt.Errorf("attestation: %w", ErrBadAK)
	}
	pub, err := eccP256(p)
	if err != nil {
		return nil, nil, fmt.Errorf("attestation: attestation key: %w: %v", ErrBadAK, err)
	}
	name, err := tpm2.ObjectName(p)
	if err != nil {
		return nil, nil, fmt.Errorf("attestation: attestation key: %w: %v", ErrBadAK, err)
	}
	return pub, name.Buffer, nil
}

func eccP256(p *tpm2.TPMTPublic) (*ecdsa.PublicKey, error) {
	if p.Type != tpm2.TPMAlgECC || p.NameAlg != tpm2.TPMAlgSHA256 {
		return nil, fmt.Errorf("not an ECC key with SHA-256 names")
	}
	k, err := tpm2.Pub(*p)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("not a P-256 key")
	}
	return ek, nil
}

// verifyKey checks one certification: the attestation key signed a TPM-generated
// TPMS_ATTEST (TPM2_Certify or TPM2_CertifyCreation) naming exactly this public area
// with the qualifying data of its role and ID, and the key is a P-256 signing key that
// was made in and cannot leave the TPM. It returns the key as PKIX DER.
func verifyKey(k Key, ak *ecdsa.PublicKey) ([]byte, error) {
	what := k.Role + " key " + k.ID
	fail := func(format string, args ...any) error {
		return fmt.Errorf("attestation: %s: %w: %s", what, ErrNotCertified, fmt.Sprintf(format, args...))
	}
	p, err := publicArea(k.Public, what)
	if err != nil {
		return nil, err
	}
	at := p.ObjectAttributes
	if !at.FixedTPM || !at.FixedParent || !at.SensitiveDataOrigin || !at.SignEncrypt || at.Restricted || at.Decrypt {
		return nil, fail("the key may leave the TPM or is not a plain signing key")
	}
	pub, err := eccP256(p)
	if err != nil {
		return nil, fail("%v", err)
	}
	sig, err := tpm2.Unmarshal[tpm2.TPMTSignature](k.Signature)
	if err != nil {
		return nil, fail("bad TPMT_SIGNATURE: %v", err)
	}
	ecc, err := sig.Signature.ECDSA()
	if err != nil || sig.SigAlg != tpm2.TPMAlgECDSA || ecc.Hash != tpm2.TPMAlgSHA256 {
		return nil, fail("the certification is not an ECDSA SHA-256 signature")
	}
	digest := sha256.Sum256(k.Attestation)
	if !ecdsa.Verify(ak, digest[:], new(big.Int).SetBytes(ecc.SignatureR.Buffer), new(big.Int).SetBytes(ecc.SignatureS.Buffer)) {
		return nil, fail("the attestation key's signature does not verify")
	}
	// Signed by a restricted key, so the TPM itself produced these bytes.
	att, err := tpm2.Unmarshal[tpm2.TPMSAttest](k.Attestation)
	if err != nil {
		return nil, fail("bad TPMS_ATTEST: %v", err)
	}
	if att.Magic != tpm2.TPMGeneratedValue {
		return nil, fail("not generated by a TPM")
	}
	var name []byte
	switch att.Type {
	case tpm2.TPMSTAttestCertify:
		c, err := att.Attested.Certify()
		if err != nil {
			return nil, fail("%v", err)
		}
		name = c.Name.Buffer
	case tpm2.TPMSTAttestCreation:
		c, err := att.Attested.Creation()
		if err != nil {
			return nil, fail("%v", err)
		}
		name = c.ObjectName.Buffer
	default:
		return nil, fail("attestation of type %#x is not a key certification", uint16(att.Type))
	}
	want, err := tpm2.ObjectName(p)
	if err != nil {
		return nil, fail("%v", err)
	}
	if !bytes.Equal(name, want.Buffer) {
		return nil, fail("the certification names another key")
	}
	if !bytes.Equal(att.ExtraData.Buffer, QualifyingData(k.Role, k.ID)) {
		return nil, fail("the certification was made for another role or ID")
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fail("%v", err)
	}
	return der, nil
}
