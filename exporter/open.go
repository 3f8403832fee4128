package exporter

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/veraison/go-cose"

	"enrollstation/exporter/internal/errs"
	"enrollstation/exporter/internal/format"
	"enrollstation/exporter/internal/jsonprofile"
	"enrollstation/exporter/internal/stream"
)

// OpenOptions are the issuer's expectations about a bundle.
type OpenOptions struct {
	// AfterSeq is the sequence number of the last bundle accepted from this station; the
	// bundle's must be greater (0: none accepted yet).
	AfterSeq uint64
	// PrevHash, when set, is the SHA-256 of the last bundle accepted from this station; the
	// bundle must name it as its predecessor.
	PrevHash []byte
	// MaxMemberSize caps each member (default 64 MiB) and MaxManifestSize the manifest
	// (default 16 MiB), bounding memory whatever a bundle claims.
	MaxMemberSize   int64
	MaxManifestSize int64
	// OnRecord, when set, receives each record as soon as its member hashes, approval
	// signature and identity schema have been verified, instead of collecting records in
	// Bundle.Records, so memory stays at one record whatever the bundle size. The trailer
	// (ciphertext hash) is checked after the last record: the bundle is valid only if Open
	// returns nil, so discard what OnRecord received otherwise. An error from OnRecord
	// stops Open and is returned as is. OnRecord is called from one goroutine (not Open's
	// caller's), one record at a time, in bundle order.
	OnRecord func(Record) error
}

// Bundle is a verified, decrypted bundle.
type Bundle struct {
	Version     int // format version: 1 or 2
	ID          string
	StationID   [32]byte
	IssuerKeyID [32]byte
	Seq         uint64
	PrevHash    []byte // nil for a station's first bundle
	Created     time.Time
	Batch       Batch
	Audit       AuditCheckpoint
	Records     []Record
	// Roster and IssuerKeyChanges are the station's registered supervisor keys and the
	// issuer-key changes since its previous bundle (format 2; nil in format 1).
	Roster           []RosterEntry
	IssuerKeyChanges []IssuerKeyChange
	Manifest         []byte   // the canonical JSON manifest, as signed
	SHA256           [32]byte // of the whole bundle file
	Size             int64
}

// Open verifies and decrypts a bundle, checking in this order: header sanity, the header
// signature, the issuer key, then while decrypting chunk by chunk: the manifest signature,
// the sequence and chain, the batch's record list, and for each record its member hashes,
// approval signature and identity schema; finally the trailer signature and ciphertext
// hash. The first failure is returned, wrapping one of the package's sentinel errors
// (see docs/bundle-format.md, "Verification order").
func Open(r io.Reader, issuer *IssuerPrivateKey, station *ecdsa.PublicKey, opts OpenOptions) (*Bundle, error) {
	if issuer == nil || station == nil {
		return nil, errors.New("exporter: open: issuer and station keys are required")
	}
	if opts.MaxMemberSize <= 0 {
		opts.MaxMemberSize = 64 << 20
	}
	if opts.MaxManifestSize <= 0 {
		opts.MaxManifestSize = 16 << 20
	}
	fileHash := sha256.New()
	in := &stream.Count{R: io.TeeReader(bufio.NewReaderSize(r, 256<<10), fileHash)}

	oh, err := readHeader(in, issuer, station)
	if err != nil {
		return nil, err
	}
	// Payload. A reader goroutine reads and hashes the ciphertext and trailer while this one
	// decrypts and checks, so SHA-256 and AES-GCM run on two cores.
	rd := stream.Start(in, fileHash, oh.h.CiphertextLength, maxTrailerSize)
	defer rd.Stop()
	pl := stream.NewReader(rd, oh.rcp, oh.hash, oh.h.CiphertextLength)
	b, m, roster, err := readManifest(pl, oh, station, opts)
	if err != nil {
		return nil, err
	}
	if b.Records, err = readRecords(pl, m, oh, roster, opts); err != nil {
		return nil, err
	}
	if err := readTrailer(rd, oh, station, b); err != nil {
		return nil, err
	}
	return b, nil
}

// openedHeader is what the verified header says, for the later steps of Open.
type openedHeader struct {
	ver      uint16
	vi       versionInfo
	h        header
	hash     [32]byte // SHA-256 of the signed header: the chunks' AAD and the trailer's
	station  [32]byte
	issuerID [32]byte
	rcp      *hpke.Recipient
}

// readHeader reads the preamble and the signed header, checks the header's signature
// before parsing it, then what it claims, up to opening the HPKE context: all before any
// decryption.
func readHeader(in io.Reader, issuer *IssuerPrivateKey, station *ecdsa.PublicKey) (*openedHeader, error) {
	ver, hl, err := format.ReadPreamble(in, maxHeaderSize)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return nil, err
	}
	vi, ok := versions[ver]
	if !ok {
		return nil, fmt.Errorf("exporter: bundle format version %d, this program reads 1 and %d: %w", ver, formatVersion, ErrUnsupported)
	}
	if err != nil {
		return nil, err
	}
	signedHeader := make([]byte, hl)
	if err := errs.ReadFull(in, signedHeader, "header"); err != nil {
		return nil, err
	}
	hm, err := parseSign1(signedHeader, ctHeader, "outer header")
	if err != nil {
		return nil, err
	}
	wantStation, err := StationID(station)
	if err != nil {
		return nil, err
	}
	// The signature first: nothing signed is parsed before it verifies. The COSE key ID
	// (unverified, not parsed from JSON) only says whose bundle it is when it does not.
	if err := verifySign1(hm, station, "outer header"); err != nil {
		if kid, _ := hm.Headers.Protected[cose.HeaderLabelKeyID].([]byte); len(kid) == 32 && !bytes.Equal(kid, wantStation[:]) {
			return nil, fmt.Errorf("exporter: bundle is from station %s, the station key given is %s: %w",
				hex.EncodeToString(kid), hex.EncodeToString(wantStation[:]), ErrWrongStation)
		}
		return nil, err
	}
	var h header
	if err := decodeStrict(hm.Payload, &h); err != nil {
		return nil, fmt.Errorf("exporter: header: %w: %w", err, ErrMalformed)
	}
	// Signed by this station from here on; sanity-check what it claims.
	if h.Format != vi.header {
		return nil, fmt.Errorf("exporter: header format %q: %w", h.Format, ErrUnsupported)
	}
	if h.StationID != hex.EncodeToString(wantStation[:]) {
		return nil, fmt.Errorf("exporter: header names station %s but is signed by %s: %w", h.StationID, hex.EncodeToString(wantStation[:]), ErrWrongStation)
	}
	if h.KEM != suiteKEM.ID() || h.KDF != suiteKDF.ID() || h.AEAD != suiteAEAD.ID() {
		return nil, fmt.Errorf("exporter: HPKE suite %#04x/%#04x/%#04x: %w", h.KEM, h.KDF, h.AEAD, ErrUnsupported)
	}
	if h.PlaintextLength > maxPlaintext {
		return nil, fmt.Errorf("exporter: payload of %d bytes (limit %d): %w", h.PlaintextLength, int64(maxPlaintext), ErrTooLarge)
	}
	if h.ChunkSize != chunkSize || h.PlaintextLength < 4 || h.CiphertextLength != sealedLength(h.PlaintextLength) {
		return nil, malformed("header: inconsistent lengths (chunk %d, plaintext %d, ciphertext %d)", h.ChunkSize, h.PlaintextLength, h.CiphertextLength)
	}
	if !validID.MatchString(h.BundleID) {
		return nil, coded(CodeBadID, ErrMalformed, "header: bundle ID %q", h.BundleID)
	}
	if _, err := parseTime(h.Created); err != nil {
		return nil, coded(CodeBadTime, ErrMalformed, "header: created")
	}
	if !hex64.MatchString(h.StationID) || !hex64.MatchString(h.IssuerKeyID) {
		return nil, coded(CodeBadHex, ErrMalformed, "header: station or issuer key ID")
	}
	issuerID := issuer.pub.KeyID()
	if h.IssuerKeyID != hex.EncodeToString(issuerID[:]) {
		var got [32]byte
		shown := h.IssuerKeyID
		if decodeHex32(h.IssuerKeyID, &got) == nil {
			shown = Fingerprint(got)
		}
		return nil, fmt.Errorf("exporter: bundle is encrypted to issuer key %s, this key is %s: %w", shown, Fingerprint(issuerID), ErrWrongIssuer)
	}
	headerHash := sha256.Sum256(signedHeader)
	rcp, err := hpke.NewRecipient(h.Enc, issuer.kem, suiteKDF, suiteAEAD, []byte(vi.hpkeInfo))
	if err != nil {
		return nil, &TamperedError{Member: "header", Reason: "encapsulated key rejected: " + err.Error()}
	}
	return &openedHeader{ver: ver, vi: vi, h: h, hash: headerHash, station: wantStation, issuerID: issuerID, rcp: rcp}, nil
}

// readManifest reads and checks the signed manifest: signature, form, consistency with
// the header, roster and issuer-key changes, sequence and chain, batch completeness. It
// returns the bundle without records.
func readManifest(pl io.Reader, oh *openedHeader, station *ecdsa.PublicKey, opts OpenOptions) (*Bundle, *manifest, map[string]*rosterKey, error) {
	h, ver, vi, issuerID, wantStation := oh.h, oh.ver, oh.vi, oh.issuerID, oh.station
	var lenb [4]byte
	if _, err := io.ReadFull(pl, lenb[:]); err != nil {
		return nil, nil, nil, payloadErr(err, "manifest length")
	}
	ml := int64(binary.BigEndian.Uint32(lenb[:]))
	if ml > opts.MaxManifestSize || ml > h.PlaintextLength-4 {
		return nil, nil, nil, fmt.Errorf("exporter: manifest is %d bytes (limit %d): %w", ml, opts.MaxManifestSize, ErrTooLarge)
	}
	signedManifest := make([]byte, ml)
	if _, err := io.ReadFull(pl, signedManifest); err != nil {
		return nil, nil, nil, payloadErr(err, "manifest")
	}
	mm, err := parseSign1(signedManifest, ctManifest, "manifest")
	if err != nil {
		return nil, nil, nil, err
	}
	if err := verifySign1(mm, station, "manifest"); err != nil {
		return nil, nil, nil, err
	}
	var m manifest
	if err := decodeStrict(mm.Payload, &m); err != nil {
		return nil, nil, nil, fmt.Errorf("exporter: manifest: %w: %w", err, ErrMalformed)
	}
	b, err := checkManifest(&m, &h, ml, opts, vi)
	if err != nil {
		return nil, nil, nil, err
	}
	b.Version = int(ver)
	var roster map[string]*rosterKey
	if ver >= formatVersion {
		if roster, err = checkRoster(*m.Roster, h.StationID, station); err != nil {
			return nil, nil, nil, err
		}
		for _, j := range *m.Roster {
			b.Roster = append(b.Roster, roster[j.KeyID].RosterEntry)
		}
		if b.IssuerKeyChanges, err = checkIssuerKeyChanges(*m.IssuerKeyChanges, h.IssuerKeyID); err != nil {
			return nil, nil, nil, err
		}
	}
	b.Manifest = mm.Payload
	b.IssuerKeyID = issuerID
	b.StationID = wantStation

	// Sequence, chain and batch completeness: all stated in the signed manifest.
	if b.Seq <= opts.AfterSeq {
		return nil, nil, nil, fmt.Errorf("exporter: bundle sequence %d is not after %d: %w", b.Seq, opts.AfterSeq, ErrReplay)
	}
	if opts.PrevHash != nil && !bytes.Equal(opts.PrevHash, b.PrevHash) {
		return nil, nil, nil, fmt.Errorf("exporter: bundle follows %s, expected %s: %w", hexOrNone(b.PrevHash), hexOrNone(opts.PrevHash), ErrChain)
	}
	have := make(map[string]bool, len(m.Records))
	for _, mr := range m.Records {
		have[mr.EnrollmentID] = true
	}
	if err := checkBatch(b.Batch.EnrollmentIDs, have); err != nil {
		return nil, nil, nil, err
	}
	return b, &m, roster, nil
}

// readRecords decrypts and cuts out each record's members on this goroutine while a
// checker goroutine verifies them in order (member hashes, schema, approval) and keeps or
// delivers them; then no payload may be left.
func readRecords(pl *stream.Reader, m *manifest, oh *openedHeader, roster map[string]*rosterKey, opts OpenOptions) ([]Record, error) {
	ver, h := oh.ver, oh.h
	var lenb [1]byte
	chk := startRecordChecking(opts.OnRecord, recordContext{ver: ver, stationID: h.StationID, roster: roster})
	for _, mr := range m.Records {
		if chk.failed.Load() {
			break
		}
		var mem [len(memberNames)][]byte
		for j, mb := range mr.Members {
			buf := make([]byte, mb.Size)
			if _, err := io.ReadFull(pl, buf); err != nil {
				if cerr := chk.finish(); cerr != nil {
					return nil, cerr // an earlier record failed first
				}
				return nil, payloadErr(err, "records/"+mr.EnrollmentID+"/"+mb.Name)
			}
			mem[j] = buf
		}
		chk.work <- recordWork{mr, mem}
	}
	if err := chk.finish(); err != nil {
		return nil, err
	}
	if n, _ := io.ReadFull(pl, lenb[:]); n != 0 {
		return nil, &TamperedError{Member: "payload", Reason: "data after the last member"}
	}
	if err := pl.Err(); err != nil && err != io.EOF {
		return nil, err
	}
	return chk.records, nil
}

// readTrailer checks the signed trailer against the header and the body hash, and that
// nothing follows it; it completes b with the file's size and hash.
func readTrailer(rd *stream.Reading, oh *openedHeader, station *ecdsa.PublicKey, b *Bundle) error {
	h, vi, headerHash := oh.h, oh.vi, oh.hash
	tail := rd.Tail()
	if tail.Err != nil {
		return tail.Err
	}
	signedTrailer := tail.Trailer
	tm, err := parseSign1(signedTrailer, ctTrailer, "trailer")
	if err != nil {
		return err
	}
	if err := verifySign1(tm, station, "trailer"); err != nil {
		return err
	}
	var t trailer
	if err := decodeStrict(tm.Payload, &t); err != nil {
		return fmt.Errorf("exporter: trailer: %w: %w", err, ErrMalformed)
	}
	if t.Format != vi.trailer || t.BundleID != h.BundleID || t.HeaderSHA256 != hex.EncodeToString(headerHash[:]) {
		return &TamperedError{Member: "trailer", Reason: "does not belong to this header"}
	}
	if t.CiphertextLength != h.CiphertextLength || t.BodySHA256 != hex.EncodeToString(tail.BodyHash) {
		return &TamperedError{Member: "ciphertext", Reason: "SHA-256 of the bundle body differs from the trailer"}
	}
	if tail.Extra {
		return malformed("data after the trailer")
	}
	b.Size = tail.Size
	copy(b.SHA256[:], tail.FileHash)

	return nil
}

func hexOrNone(b []byte) string {
	if len(b) == 0 {
		return "(none: first bundle)"
	}
	return hex.EncodeToString(b)
}

// checkManifest checks the manifest's self-consistency against the header and limits and
// returns the bundle it describes (without records).
func checkManifest(m *manifest, h *header, ml int64, opts OpenOptions, vi versionInfo) (*Bundle, error) {
	if m.Format != vi.manifest {
		return nil, fmt.Errorf("exporter: manifest format %q: %w", m.Format, ErrUnsupported)
	}
	if v2 := vi.manifest == manifestFormat; v2 != (m.Roster != nil) || v2 != (m.IssuerKeyChanges != nil) {
		return nil, coded(jsonprofile.CodeMissingField, ErrMalformed, "manifest: roster and issuer_key_changes are present exactly in format 2")
	}
	if m.BundleID != h.BundleID || m.StationID != h.StationID {
		return nil, &TamperedError{Member: "manifest", Reason: "bundle or station ID differs from the header"}
	}
	if vi.manifest == manifestFormat && m.Created != h.Created {
		return nil, &TamperedError{Member: "manifest", Reason: "created differs from the header"}
	}
	if !validID.MatchString(m.Batch.ID) && (m.Batch.ID != "" || vi.manifest == manifestFormat) {
		return nil, coded(CodeBadID, ErrMalformed, "manifest: batch ID %q", m.Batch.ID)
	}
	for _, id := range m.Batch.EnrollmentIDs {
		if !validID.MatchString(id) {
			return nil, coded(CodeBadID, ErrMalformed, "manifest: batch enrollment ID %q", id)
		}
	}
	b := &Bundle{ID: m.BundleID}
	var err error
	if b.Seq, err = strconv.ParseUint(m.Seq, 10, 64); err != nil || b.Seq == 0 {
		return nil, malformed("manifest: sequence %q", m.Seq)
	}
	if m.PrevBundleSHA256 != "" {
		if !hex64.MatchString(m.PrevBundleSHA256) {
			return nil, coded(CodeBadHex, ErrMalformed, "manifest: previous bundle hash %q", m.PrevBundleSHA256)
		}
		b.PrevHash, _ = hex.DecodeString(m.PrevBundleSHA256)
	}
	if b.Created, err = parseTime(m.Created); err != nil {
		return nil, coded(CodeBadTime, ErrMalformed, "manifest: created %q", m.Created)
	}
	b.Batch = Batch{ID: m.Batch.ID, EnrollmentIDs: m.Batch.EnrollmentIDs}
	if len(b.Batch.EnrollmentIDs) == 0 {
		b.Batch.EnrollmentIDs = nil
	}
	if m.Batch.ClosedAt != "" {
		if b.Batch.ClosedAt, err = parseTime(m.Batch.ClosedAt); err != nil {
			return nil, coded(CodeBadTime, ErrMalformed, "manifest: batch closed_at %q", m.Batch.ClosedAt)
		}
	}
	b.Audit = AuditCheckpoint{Hash: m.Audit.Hash, Signature: m.Audit.Signature}
	if b.Audit.Seq, err = strconv.ParseUint(m.Audit.Seq, 10, 64); err != nil {
		return nil, malformed("manifest: audit sequence %q", m.Audit.Seq)
	}
	total := 4 + ml
	seen := make(map[string]bool, len(m.Records))
	for _, mr := range m.Records {
		if !validID.MatchString(mr.EnrollmentID) {
			return nil, coded(CodeBadID, ErrMalformed, "manifest: enrollment ID %q", mr.EnrollmentID)
		}
		if seen[mr.EnrollmentID] {
			return nil, malformed("manifest: enrollment ID %q repeated", mr.EnrollmentID)
		}
		seen[mr.EnrollmentID] = true
		if len(mr.Members) != len(memberNames) {
			return nil, malformed("manifest: record %s has %d members, want %d", mr.EnrollmentID, len(mr.Members), len(memberNames))
		}
		for j, mb := range mr.Members {
			if mb.Name != memberNames[j] {
				return nil, malformed("manifest: record %s member %d is %q, want %q", mr.EnrollmentID, j, mb.Name, memberNames[j])
			}
			if !hex64.MatchString(mb.SHA256) {
				return nil, coded(CodeBadHex, ErrMalformed, "manifest: record %s member %s hash", mr.EnrollmentID, mb.Name)
			}
			if mb.Size < 0 || mb.Size > opts.MaxMemberSize {
				return nil, fmt.Errorf("exporter: record %s member %s is %d bytes (limit %d): %w", mr.EnrollmentID, mb.Name, mb.Size, opts.MaxMemberSize, ErrTooLarge)
			}
			total += mb.Size
		}
	}
	if total != h.PlaintextLength {
		return nil, &TamperedError{Member: "manifest", Reason: fmt.Sprintf("members add up to %d bytes but the header says %d", total, h.PlaintextLength)}
	}
	return b, nil
}

// recordContext is what checking a record needs beyond its members.
type recordContext struct {
	ver       uint16
	stationID string
	roster    map[string]*rosterKey // format 2
}

// decodeRecord rebuilds a Record from its verified members (the manifest hashes cover
// them), reading each under the JSON profile. Errors name the member, never its values.
func decodeRecord(mr manifestRecord, mem [len(memberNames)][]byte, rc recordContext) (Record, error) {
	r := Record{EnrollmentID: mr.EnrollmentID, ModelID: mr.TemplateModel, TemplateVersion: mr.TemplateVersion,
		Portrait: mem[1], Template: mem[2]}
	bad := func(member string, err error) (Record, error) {
		return Record{}, fmt.Errorf("exporter: record %s: %s: %w: %w", mr.EnrollmentID, member, err, ErrMalformed)
	}
	if rc.ver >= formatVersion {
		var id identityV2
		if err := decodeStrict(mem[0], &id); err != nil {
			return bad(MemberIdentity, err)
		}
		if id.SchemaVersion != identitySchemaVersion {
			return Record{}, &SchemaError{EnrollmentID: mr.EnrollmentID, Detail: `"/schema_version": const`}
		}
		r.Identity = id.Identity
	} else if err := decodeStrict(mem[0], &r.Identity); err != nil {
		return bad(MemberIdentity, err)
	}
	var q qualityJSON
	if err := decodeStrict(mem[3], &q); err != nil {
		return bad(MemberQuality, err)
	}
	if len(q.Measures) > 0 {
		r.Quality = q.Measures
	}
	var c captureJSON
	if err := decodeStrict(mem[4], &c); err != nil {
		return bad(MemberCapture, err)
	}
	at, err := parseTime(c.CapturedAt)
	if err != nil {
		return Record{}, coded(CodeBadTime, ErrMalformed, "record %s: %s: captured_at", mr.EnrollmentID, MemberCapture)
	}
	r.Capture = Capture{Operator: c.Operator, CameraProfile: c.CameraProfile, Retries: c.Retries, ForcedReason: c.ForcedReason, CapturedAt: at}
	if rc.ver >= formatVersion {
		var a approvalJSONv2
		if err := decodeStrict(mem[5], &a); err != nil {
			return bad(MemberApproval, err)
		}
		if a.Algorithm != statementAlgorithmV2 {
			return Record{}, fmt.Errorf("exporter: record %s: approval algorithm %q: %w", mr.EnrollmentID, a.Algorithm, ErrUnsupported)
		}
		if !validOperatorID(a.SupervisorID) {
			return Record{}, coded(CodeBadID, ErrMalformed, "record %s: %s: supervisor_id", mr.EnrollmentID, MemberApproval)
		}
		if !hex64.MatchString(a.SupervisorKeyID) {
			return Record{}, coded(CodeBadHex, ErrMalformed, "record %s: %s: supervisor_key_id", mr.EnrollmentID, MemberApproval)
		}
		k := rc.roster[a.SupervisorKeyID]
		if k == nil {
			return Record{}, &SignatureError{What: "approval of record " + mr.EnrollmentID,
				Err: coded(CodeUnregisteredKey, ErrBadSignature, "the approval key is not in the station's roster")}
		}
		if r.Approval.SignedAt, err = parseTime(a.SignedAt); err != nil {
			return Record{}, coded(CodeBadTime, ErrMalformed, "record %s: %s: signed_at", mr.EnrollmentID, MemberApproval)
		}
		r.Approval.SupervisorID, r.Approval.SupervisorPublicKey = a.SupervisorID, k.PublicKey
		r.Approval.Signature, r.Approval.Statement = a.Signature, a.Statement
		return r, nil
	}
	var a approvalJSON
	if err := decodeStrict(mem[5], &a); err != nil {
		return bad(MemberApproval, err)
	}
	if a.Algorithm != approvalAlgorithm && a.Algorithm != statementAlgorithm {
		return Record{}, fmt.Errorf("exporter: record %s: approval algorithm %q: %w", mr.EnrollmentID, a.Algorithm, ErrUnsupported)
	}
	if (a.Algorithm == statementAlgorithm) != (len(a.Statement) > 0) {
		return bad(MemberApproval, errors.New("algorithm and statement disagree"))
	}
	r.Approval.SupervisorID = a.SupervisorID
	r.Approval.Statement = a.Statement
	if r.Approval.SupervisorPublicKey, err = base64.StdEncoding.DecodeString(a.SupervisorPublicKey); err != nil {
		return bad(MemberApproval, errors.New("supervisor_public_key is not base64"))
	}
	if r.Approval.Signature, err = base64.StdEncoding.DecodeString(a.Signature); err != nil {
		return bad(MemberApproval, errors.New("signature is not base64"))
	}
	if r.Approval.SignedAt, err = parseTime(a.SignedAt); err != nil {
		return Record{}, coded(CodeBadTime, ErrMalformed, "record %s: %s: signed_at", mr.EnrollmentID, MemberApproval)
	}
	return r, nil
}

// payloadErr turns an error from the chunk reader into the error to report.
func payloadErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// The chunks authenticated and ended where the header said: the signed manifest
		// and the payload disagree.
		return &TamperedError{Member: what, Reason: "payload ends before it"}
	}
	return err
}

type recordWork struct {
	mr  manifestRecord
	mem [len(memberNames)][]byte
}

// recordChecking is the checker goroutine of Open.
type recordChecking struct {
	work    chan recordWork
	done    chan struct{}
	failed  atomic.Bool
	err     error    // first failure; read after done
	records []Record // collected when there is no OnRecord callback; read after done
}

func startRecordChecking(onRecord func(Record) error, rc recordContext) *recordChecking {
	c := &recordChecking{work: make(chan recordWork, 2), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for w := range c.work {
			if c.err != nil {
				continue // drain
			}
			if c.err = checkRecordMembers(w, onRecord, &c.records, rc); c.err != nil {
				c.failed.Store(true)
			}
		}
	}()
	return c
}

// finish waits for the checker and returns its first error.
func (c *recordChecking) finish() error {
	close(c.work)
	<-c.done
	return c.err
}

func checkRecordMembers(w recordWork, onRecord func(Record) error, records *[]Record, rc recordContext) error {
	var hashes [len(memberNames)][32]byte
	for j, mb := range w.mr.Members {
		hashes[j] = sha256.Sum256(w.mem[j])
		if hex.EncodeToString(hashes[j][:]) != mb.SHA256 {
			return &TamperedError{Member: "records/" + w.mr.EnrollmentID + "/" + mb.Name, Reason: "SHA-256 differs from the manifest"}
		}
	}
	// The schema first: an identity that is not what the schema allows is a schema error
	// naming the field, whatever the JSON decoder would have said.
	if err := validateIdentityJSON(w.mr.EnrollmentID, w.mem[0]); err != nil {
		return err
	}
	rec, err := decodeRecord(w.mr, w.mem, rc)
	if err != nil {
		return err
	}
	if rc.ver >= formatVersion {
		err = verifyApprovalV2(rec, hashes, rc.stationID, rc.roster)
	} else {
		err = verifyApproval(rec, hashes)
	}
	if err != nil {
		return err
	}
	if onRecord != nil {
		return onRecord(rec)
	}
	*records = append(*records, rec)
	return nil
}
