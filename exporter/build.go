package exporter

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"enrollstation/exporter/internal/format"
	"enrollstation/exporter/internal/stream"
	"enrollstation/exporter/statement"
)

// RecordSource yields the records of a bundle by index. Build reads every record twice
// (once to check it and hash it for the manifest, once to stream it into the payload), so
// a source can load records one at a time from storage and keep memory flat; both reads
// must return the same content (Build hashes the streamed bytes again, and fails rather
// than export a mismatch). Build calls Len and Record from a single goroutine.
type RecordSource interface {
	Len() int
	Record(i int) (Record, error)
}

// Records is a RecordSource over records already in memory.
type Records []Record

func (r Records) Len() int                     { return len(r) }
func (r Records) Record(i int) (Record, error) { return r[i], nil }

// BuildParams is everything a bundle is made of.
type BuildParams struct {
	Records       RecordSource
	StationSigner crypto.Signer    // ECDSA P-256 station key (TPM-backed in the station)
	IssuerKey     *IssuerPublicKey // whom the bundle is encrypted to
	Seq           uint64           // from the TPM monotonic counter; must be ≥ 1
	PrevHash      []byte           // SHA-256 of the previous bundle file; nil for the first
	Batch         Batch            // required: a valid ID and exactly the records' enrollment IDs
	Audit         AuditCheckpoint
	Created       time.Time // zero means now
	// Roster is every registered supervisor approval key whose approvals may be in this
	// or a later bundle (current, replaced and revoked ones); each record's approval must
	// be by one of them. Entries without a Certification are certified by StationSigner.
	Roster []RosterEntry
	// IssuerKeyChanges are the issuer-key changes since the previous bundle, oldest first.
	IssuerKeyChanges []IssuerKeyChange

	// dropFromPayload, when set, leaves that record out of the manifest and payload while
	// the batch still lists it: tests use it to make a bundle with a removed record.
	dropFromPayload string
	// skipRecordChecks builds records the issuer must reject (bad approval, bad identity),
	// so tests can check the issuer side.
	skipRecordChecks bool
}

// Result describes a written bundle.
type Result struct {
	BundleID string
	SHA256   [32]byte // of the whole bundle file: the next bundle's PrevHash
	Size     int64
	Seq      uint64
	Records  int
}

// Build writes a bundle to w. It checks every record first (IDs, identity schema, approval
// signature) so a station never exports what an issuer would reject. Memory stays flat:
// beyond the caller's records, a few records and 64 KiB chunks are in flight at a time. On
// error w holds a partial bundle that the caller must discard ([Outbox.Build] does).
func Build(w io.Writer, p BuildParams) (Result, error) {
	bp, err := planBundle(p)
	if err != nil {
		return Result{}, err
	}
	if err := bp.planManifest(); err != nil {
		return Result{}, err
	}
	if err := bp.signHeader(); err != nil {
		return Result{}, err
	}
	return bp.write(w)
}

// bundlePlan is a bundle being built: what each step of Build works out for the next.
type bundlePlan struct {
	p          BuildParams
	stationID  [32]byte
	issuerID   [32]byte
	bundleID   string
	created    time.Time
	roster     []rosterJSON
	rosterKeys map[string]*rosterKey
	changes    []issuerKeyChangeJSON
	m          manifest
	checked    []checkedRecord
	included   []int // records in the payload, by index
	inMemory   bool
	payloadLen int64
	signedMfst []byte
	h          header
	signedHdr  []byte
	headerHash [32]byte
	sender     *hpke.Sender
}

// planBundle checks the parameters, the roster and the issuer-key changes, and picks the
// bundle ID.
func planBundle(p BuildParams) (*bundlePlan, error) {
	if p.Records == nil || p.StationSigner == nil || p.IssuerKey == nil {
		return nil, errors.New("exporter: build: Records, StationSigner and IssuerKey are required")
	}
	if p.Seq == 0 {
		return nil, errors.New("exporter: build: sequence number must be at least 1")
	}
	if p.PrevHash != nil && len(p.PrevHash) != sha256.Size {
		return nil, fmt.Errorf("exporter: build: previous bundle hash is %d bytes, want 32", len(p.PrevHash))
	}
	if !validID.MatchString(p.Batch.ID) {
		return nil, fmt.Errorf("exporter: build: batch ID %q: use letters, digits, '.', '_' or '-'", p.Batch.ID)
	}
	if len(p.Batch.EnrollmentIDs) == 0 && p.Records.Len() > 0 {
		return nil, errors.New("exporter: build: the batch lists no enrollments; give the batch's members")
	}
	stationPub, ok := p.StationSigner.Public().(*ecdsa.PublicKey)
	if !ok || stationPub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("exporter: build: station key is %T, want ECDSA P-256: %w", p.StationSigner.Public(), ErrBadKey)
	}
	bp := &bundlePlan{p: p}
	var err error
	bp.stationID, err = StationID(stationPub)
	if err != nil {
		return nil, err
	}
	bp.roster, bp.rosterKeys, err = rosterForBuild(p.Roster, p.StationSigner, hex.EncodeToString(bp.stationID[:]))
	if err != nil {
		return nil, err
	}
	bp.changes = issuerKeyChangesJSON(p.IssuerKeyChanges)
	bp.issuerID = p.IssuerKey.KeyID()
	if _, err := checkIssuerKeyChanges(bp.changes, hex.EncodeToString(bp.issuerID[:])); err != nil {
		return nil, fmt.Errorf("exporter: build: %w", err)
	}
	bp.created = p.Created
	if bp.created.IsZero() {
		bp.created = time.Now()
	}
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("exporter: build: bundle ID: %w", err)
	}
	bp.bundleID = hex.EncodeToString(idb[:])
	return bp, nil
}

// planManifest is pass 1: it checks and hashes every record and signs the manifest.
func (bp *bundlePlan) planManifest() error {
	// Pass 1: check and hash every record for the manifest. Records are read in order here
	// and hashed by one worker per CPU: SHA-256 of the portraits is most of the work, except
	// for statement approvals, whose portrait and template hashes pass 2 verifies instead.
	p := bp.p
	n := p.Records.Len()
	bp.m = manifest{
		Format: manifestFormat, BundleID: bp.bundleID, StationID: hex.EncodeToString(bp.stationID[:]),
		Seq: strconv.FormatUint(p.Seq, 10), PrevBundleSHA256: hex.EncodeToString(p.PrevHash),
		Created: fmtTime(bp.created),
		Batch:   manifestBatch{ID: p.Batch.ID, EnrollmentIDs: p.Batch.EnrollmentIDs},
		Audit: manifestAudit{Seq: strconv.FormatUint(p.Audit.Seq, 10), Hash: p.Audit.Hash,
			Signature: p.Audit.Signature},
		Roster: &bp.roster, IssuerKeyChanges: &bp.changes,
	}
	if !p.Batch.ClosedAt.IsZero() {
		bp.m.Batch.ClosedAt = fmtTime(p.Batch.ClosedAt)
	}
	if bp.m.Batch.EnrollmentIDs == nil {
		bp.m.Batch.EnrollmentIDs = []string{}
	}
	_, bp.inMemory = p.Records.(Records) // in-memory records cannot change between the passes
	checked, err := checkRecords(p, n, bp.inMemory, bp.m.StationID, bp.rosterKeys)
	if err != nil {
		return err
	}
	bp.checked = checked
	seen := make(map[string]bool, n)
	for i := range checked {
		c := &checked[i]
		if seen[c.rec.EnrollmentID] {
			return fmt.Errorf("exporter: build: enrollment %s appears twice", c.rec.EnrollmentID)
		}
		seen[c.rec.EnrollmentID] = true
		if c.rec.EnrollmentID == p.dropFromPayload {
			continue
		}
		bp.payloadLen += c.size
		bp.included = append(bp.included, i)
		bp.m.Records = append(bp.m.Records, c.rec)
	}
	if bp.m.Records == nil {
		bp.m.Records = []manifestRecord{}
	}
	if err := checkBatch(p.Batch.EnrollmentIDs, seen); err != nil {
		return fmt.Errorf("exporter: build: %w", err)
	}
	mj, err := canonicalJSON(bp.m)
	if err != nil {
		return fmt.Errorf("exporter: build: encoding manifest: %w", err)
	}
	bp.signedMfst, err = sign1(rand.Reader, p.StationSigner, ctManifest, bp.stationID[:], mj)
	if err != nil {
		return fmt.Errorf("exporter: build: signing manifest: %w", err)
	}
	bp.payloadLen += 4 + int64(len(bp.signedMfst))
	return nil
}

// signHeader encapsulates to the issuer and signs the header the chunks are bound to.
func (bp *bundlePlan) signHeader() error {
	// Header: encapsulate to the issuer, then sign what the chunks will be bound to.
	p := bp.p
	enc, sender, err := hpke.NewSender(p.IssuerKey.kem, suiteKDF, suiteAEAD, []byte(hpkeInfo))
	if err != nil {
		return fmt.Errorf("exporter: build: HPKE: %w", err)
	}
	bp.sender = sender
	bp.h = header{
		Format: headerFormat, BundleID: bp.bundleID, StationID: bp.m.StationID,
		IssuerKeyID: hex.EncodeToString(bp.issuerID[:]),
		KEM:         suiteKEM.ID(), KDF: suiteKDF.ID(), AEAD: suiteAEAD.ID(), Enc: enc,
		ChunkSize: chunkSize, PlaintextLength: bp.payloadLen, CiphertextLength: sealedLength(bp.payloadLen),
		Created: bp.m.Created,
	}
	hj, err := canonicalJSON(bp.h)
	if err != nil {
		return fmt.Errorf("exporter: build: encoding header: %w", err)
	}
	if bp.signedHdr, err = sign1(rand.Reader, p.StationSigner, ctHeader, bp.stationID[:], hj); err != nil {
		return fmt.Errorf("exporter: build: signing header: %w", err)
	}
	bp.headerHash = sha256.Sum256(bp.signedHdr)
	return nil
}

// write is pass 2: it streams the preamble, header, sealed payload and trailer to w.
func (bp *bundlePlan) write(w io.Writer) (Result, error) {
	// Pass 2: stream. This goroutine encodes and seals; a hashing goroutine computes the
	// bundle hash and hands the chunks to a writing goroutine, and a verifying goroutine
	// hashes the members whose manifest hash pass 1 did not compute from these very bytes,
	// so AES-GCM, the two SHA-256 streams and the file writes share both cores.
	pw := newPipeWriter(w)
	ver := newVerifier()
	defer ver.finish() // on early returns; a no-op after the check below
	pw.send(format.Preamble(formatVersion, len(bp.signedHdr)))
	pw.send(bp.signedHdr)
	cw := stream.NewWriter(bp.sender, bp.headerHash, pw)
	var lenb [4]byte
	binary.BigEndian.PutUint32(lenb[:], uint32(len(bp.signedMfst)))
	cw.Write(lenb[:])
	cw.Write(bp.signedMfst)
	for _, i := range bp.included {
		if cw.Err() != nil || pw.failed() || ver.failed() {
			break
		}
		c := &bp.checked[i]
		mem := c.mem // in-memory records: the very bytes pass 1 encoded
		recheck := !bp.inMemory
		if recheck {
			r, err := bp.p.Records.Record(i)
			if err != nil {
				pw.abort()
				return Result{}, fmt.Errorf("exporter: build: reading record %d: %w", i, err)
			}
			if mem, err = encodeMembers(r, formatVersion); err != nil {
				pw.abort()
				return Result{}, err
			}
		}
		for j, b := range mem {
			if recheck || c.lazy[j] {
				ver.check(memberCheck{b: b, want: c.hashes[j], id: c.rec.EnrollmentID, member: j, fromStatement: c.lazy[j]})
			}
			cw.Write(b)
		}
		c.mem = [len(memberNames)][]byte{} // let the record go once streamed
	}
	// Every member must match its manifest hash before the final chunk and the trailer
	// make the bundle complete.
	if err := ver.finish(); err != nil {
		pw.abort()
		return Result{}, err
	}
	cw.Close()
	bodyHash, written, err := pw.finish()
	if cw.Err() != nil {
		return Result{}, cw.Err()
	}
	if err != nil {
		return Result{}, fmt.Errorf("exporter: build: writing: %w", err)
	}
	if cw.Plain() != bp.payloadLen || cw.Sealed() != bp.h.CiphertextLength {
		return Result{}, fmt.Errorf("exporter: build: internal error: payload %d/%d bytes, ciphertext %d/%d", cw.Plain(), bp.payloadLen, cw.Sealed(), bp.h.CiphertextLength)
	}

	t := trailer{Format: trailerFormat, BundleID: bp.bundleID, HeaderSHA256: hex.EncodeToString(bp.headerHash[:]),
		CiphertextLength: cw.Sealed(), BodySHA256: hex.EncodeToString(bodyHash)}
	tj, err := canonicalJSON(t)
	if err != nil {
		return Result{}, fmt.Errorf("exporter: build: encoding trailer: %w", err)
	}
	signedTrailer, err := sign1(rand.Reader, bp.p.StationSigner, ctTrailer, bp.stationID[:], tj)
	if err != nil {
		return Result{}, fmt.Errorf("exporter: build: signing trailer: %w", err)
	}
	tail := make([]byte, 4, 4+len(signedTrailer))
	binary.BigEndian.PutUint32(tail, uint32(len(signedTrailer)))
	tail = append(tail, signedTrailer...)
	if _, err := w.Write(tail); err != nil {
		return Result{}, fmt.Errorf("exporter: build: writing: %w", err)
	}
	pw.hash.Write(tail)
	res := Result{BundleID: bp.bundleID, Size: written + int64(len(tail)), Seq: bp.p.Seq, Records: len(bp.m.Records)}
	copy(res.SHA256[:], pw.hash.Sum(nil))
	return res, nil
}

// checkedRecord is a record's manifest entry and member hashes after pass 1.
type checkedRecord struct {
	rec    manifestRecord
	hashes [len(memberNames)][32]byte
	// lazy marks hashes taken from the supervisor's signed approval statement rather than
	// computed in pass 1: pass 2 hashes those members as it streams them and fails the
	// build if they differ, so the manifest still names exactly the bytes written.
	lazy [len(memberNames)]bool
	mem  [len(memberNames)][]byte // encoded members, kept for in-memory records only
	size int64
	err  error
}

// checkRecords reads every record in order and, on one worker per CPU, encodes, hashes and
// checks it (ID, identity schema, approval signature). keep keeps the encoded members for
// pass 2, which then need not encode them again.
func checkRecords(p BuildParams, n int, keep bool, stationID string, roster map[string]*rosterKey) ([]checkedRecord, error) {
	out := make([]checkedRecord, n)
	type job struct {
		i int
		r Record
	}
	jobs := make(chan job, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				out[j.i] = checkRecord(p, j.i, j.r, keep, stationID, roster)
			}
		}()
	}
	var readErr error
	for i := 0; i < n; i++ {
		r, err := p.Records.Record(i)
		if err != nil {
			readErr = fmt.Errorf("exporter: build: reading record %d: %w", i, err)
			break
		}
		jobs <- job{i, r}
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		return nil, readErr
	}
	for i := range out {
		if out[i].err != nil {
			return nil, out[i].err
		}
	}
	return out, nil
}

func checkRecord(p BuildParams, i int, r Record, keep bool, stationID string, roster map[string]*rosterKey) checkedRecord {
	var c checkedRecord
	if !validID.MatchString(r.EnrollmentID) {
		c.err = fmt.Errorf("exporter: build: record %d: enrollment ID %q: use letters, digits, '.', '_' or '-'", i, r.EnrollmentID)
		return c
	}
	c.rec = manifestRecord{EnrollmentID: r.EnrollmentID, TemplateModel: r.ModelID, TemplateVersion: r.TemplateVersion}
	mem, err := encodeMembers(r, formatVersion)
	if err != nil {
		c.err = err
		return c
	}
	// A statement approval already names the portrait and template hashes, and the
	// supervisor's signature over it is checked below: pass 2 verifies them against the
	// streamed bytes instead of hashing the two large members once more here.
	pre, havePre := statementHashes(r.Approval.Statement)
	havePre = havePre && !p.skipRecordChecks
	for j, b := range mem {
		if havePre && (j == 1 || j == 2) {
			c.hashes[j], c.lazy[j] = pre[j], true
		} else {
			c.hashes[j] = sha256.Sum256(b)
		}
		c.rec.Members = append(c.rec.Members, manifestMember{Name: memberNames[j], Size: int64(len(b)), SHA256: hex.EncodeToString(c.hashes[j][:])})
		c.size += int64(len(b))
	}
	if keep {
		c.mem = mem
	}
	if p.skipRecordChecks {
		return c
	}
	if err := validateIdentityJSON(r.EnrollmentID, mem[0]); err != nil {
		c.err = fmt.Errorf("exporter: build: %w", err)
		return c
	}
	if err := verifyApprovalV2(r, c.hashes, stationID, roster); err != nil {
		c.err = fmt.Errorf("exporter: build: %w", err)
	}
	return c
}

// pipeWriter hands buffers to a goroutine that hashes them in order and passes them on
// to a goroutine that writes them, so hashing and writing overlap.
type pipeWriter struct {
	ch   chan []byte
	done chan struct{}
	hash hash.Hash
	n    int64
	err  error // set by the writing goroutine; read after done or through failed
	bad  atomic.Bool
}

func newPipeWriter(w io.Writer) *pipeWriter {
	p := &pipeWriter{ch: make(chan []byte, 8), done: make(chan struct{}), hash: sha256.New()}
	toWrite := make(chan []byte, 8)
	go func() {
		defer close(toWrite)
		for b := range p.ch {
			if !p.bad.Load() {
				p.hash.Write(b)
				toWrite <- b
			}
		}
	}()
	go func() {
		defer close(p.done)
		for b := range toWrite {
			if p.err != nil {
				continue // drain
			}
			n, err := w.Write(b)
			p.n += int64(n)
			if err != nil {
				p.err = err
				p.bad.Store(true)
			}
		}
	}()
	return p
}

// send queues b, which the caller must not modify afterwards.
func (p *pipeWriter) send(b []byte) { p.ch <- b }

func (p *pipeWriter) Write(b []byte) (int, error) {
	p.send(b)
	return len(b), nil
}

func (p *pipeWriter) failed() bool { return p.bad.Load() }

// finish waits for everything queued and returns the hash state so far and the byte count.
func (p *pipeWriter) finish() ([]byte, int64, error) {
	close(p.ch)
	<-p.done
	return p.hash.Sum(nil), p.n, p.err
}

func (p *pipeWriter) abort() { p.finish() }

// memberCheck is a member streamed in pass 2 whose bytes must hash to want.
type memberCheck struct {
	b             []byte
	want          [32]byte
	id            string
	member        int
	fromStatement bool // want is the approval statement's hash, not pass 1's
}

// verifier hashes streamed members on its own goroutine and keeps the first mismatch.
type verifier struct {
	ch   chan memberCheck
	done chan struct{}
	once sync.Once
	err  error // set by the goroutine; read after done
	bad  atomic.Bool
}

func newVerifier() *verifier {
	v := &verifier{ch: make(chan memberCheck, 16), done: make(chan struct{})}
	go func() {
		defer close(v.done)
		for c := range v.ch {
			if v.err != nil || sha256.Sum256(c.b) == c.want {
				continue
			}
			if c.fromStatement {
				v.err = &SignatureError{What: "approval of record " + c.id,
					Err: fmt.Errorf("the signed statement names another %s than the one being exported", memberNames[c.member])}
			} else {
				v.err = fmt.Errorf("exporter: build: record %s changed while exporting (%s)", c.id, memberNames[c.member])
			}
			v.bad.Store(true)
		}
	}()
	return v
}

// check queues c; c.b must not change until finish returns.
func (v *verifier) check(c memberCheck) { v.ch <- c }

func (v *verifier) failed() bool { return v.bad.Load() }

// finish waits for every queued check and returns the first mismatch. It may be called
// more than once.
func (v *verifier) finish() error {
	v.once.Do(func() { close(v.ch) })
	<-v.done
	return v.err
}

// checkBatch reports batch IDs with no record, and records outside the batch.
func checkBatch(batchIDs []string, have map[string]bool) error {
	if len(batchIDs) == 0 && len(have) > 0 {
		return coded(CodeBatchMismatch, ErrTampered, "manifest: the batch lists no enrollments but the bundle has %d records", len(have))
	}
	inBatch := make(map[string]bool, len(batchIDs))
	var missing []string
	for _, id := range batchIDs {
		if inBatch[id] {
			return coded(CodeBatchMismatch, ErrMalformed, "manifest: the batch lists an enrollment twice")
		}
		inBatch[id] = true
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return &MissingRecordError{EnrollmentIDs: missing}
	}
	for id := range have {
		if !inBatch[id] {
			return coded(CodeBatchMismatch, ErrTampered, "manifest: record %s is not in the batch", id)
		}
	}
	return nil
}

// statementHashes returns the portrait (index 1) and template (index 2) hashes an
// approval statement names, if it is a well-formed format-v2 statement.
func statementHashes(stmt []byte) (h [len(memberNames)][32]byte, ok bool) {
	if len(stmt) == 0 {
		return h, false
	}
	st, err := statement.Parse(stmt)
	if err != nil {
		return h, false
	}
	if decodeHex32(st.PortraitSHA256, &h[1]) != nil || decodeHex32(st.TemplateSHA256, &h[2]) != nil {
		return h, false
	}
	return h, true
}
