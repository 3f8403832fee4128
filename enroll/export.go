package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"enrollstation/biometrics"
	"enrollstation/exporter"
	"enrollstation/vault"
)

// ErrNoIssuerKey means the station has no issuer public key to encrypt bundles to.
var ErrNoIssuerKey = errors.New("workflow: the station has no issuer key; an administrator must import it (station set-issuer-key)")

// ErrAckMismatch means an acknowledgement is not for a bundle this station exported.
var ErrAckMismatch = errors.New("workflow: the acknowledgement is not for a bundle this station exported")

// OutboxDir is the outbox's place in a station's data directory.
func OutboxDir(dataDir string) string { return filepath.Join(dataDir, "outbox") }

// Progress reports an export's progress; Done counts up to Total.
type Progress struct {
	Stage       string // "building", "delivering", "recording"
	Done, Total int
}

// Exporter turns closed batches into bundles and delivers them.
type Exporter struct {
	st     *vault.Station
	outbox *exporter.Outbox
}

// NewExporter opens the station's outbox (dataDir/outbox).
func NewExporter(st *vault.Station, dataDir string) (*Exporter, error) {
	ob, err := exporter.OpenOutbox(OutboxDir(dataDir))
	if err != nil {
		return nil, fmt.Errorf("workflow: opening the outbox: %w", err)
	}
	return &Exporter{st: st, outbox: ob}, nil
}

// IssuerKey returns the station's issuer public key.
func IssuerKey(st *vault.Station) (*exporter.IssuerPublicKey, error) {
	var set vault.Settings
	if err := st.Store().View(func(tx *vault.Tx) (err error) { set, err = tx.Settings(); return err }); err != nil {
		return nil, err
	}
	if len(set.IssuerKey) == 0 {
		return nil, ErrNoIssuerKey
	}
	k, err := exporter.ParseIssuerPublicKey(set.IssuerKey)
	if err != nil {
		return nil, fmt.Errorf("workflow: the stored issuer key: %w", err)
	}
	return k, nil
}

// Export builds the batch's bundle (once: a re-run reuses the outbox copy), delivers it
// to target and, only once the target has confirmed the bundle's hash, marks the batch
// and its enrollments exported. It returns where the bundle now is. progress may be nil;
// it is called from the calling goroutine. Cancelling ctx stops the delivery; the bundle
// stays queued and a later Export completes it.
func (x *Exporter) Export(ctx context.Context, sup *vault.Session, batchID string, target exporter.Target, progress func(Progress)) (string, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	if !sup.Has(vault.RoleSupervisor) {
		return "", fmt.Errorf("%w (%s is not a supervisor)", vault.ErrForbidden, sup.Name)
	}
	b, err := Batch(x.st, batchID)
	if err != nil {
		return "", fmt.Errorf("workflow: batch %s: %w", batchID, err)
	}
	if b.Status == vault.BatchExported {
		return b.Location, nil
	}
	if len(b.EnrollmentIDs) == 0 {
		return "", fmt.Errorf("workflow: batch %s is not closed (no members)", batchID)
	}
	bf, err := x.outbox.Bundle(b.BundleID)
	if b.BundleID == "" || err != nil {
		if bf, err = x.build(ctx, b, progress); err != nil {
			return "", err
		}
	} else if err := x.countBundle(b); err != nil {
		return "", err
	}
	if h, ok := target.(*exporter.HTTPTarget); ok && h.ClientCert == nil && h.Client == nil {
		// Uploads authenticate the station by its TPM key (mutual TLS).
		if h.ClientCert, err = exporter.StationClientCertificate(x.st.Signer(), time.Now()); err != nil {
			return "", fmt.Errorf("workflow: batch %s: %w", batchID, err)
		}
	}
	progress(Progress{Stage: "delivering", Done: 0, Total: 1})
	rc, err := x.outbox.Deliver(ctx, target, bf.ID)
	if err != nil {
		x.updateBatch(batchID, func(b *vault.Batch) { b.Target, b.DeliveryError = target.String(), err.Error() })
		return "", fmt.Errorf("workflow: delivering batch %s to %s: %w", batchID, target, err)
	}
	progress(Progress{Stage: "recording", Done: 1, Total: 1})
	if err := x.st.MarkExported(sup, batchID, b.EnrollmentIDs, b.BundleSeq, bf.SHA256[:]); err != nil {
		return "", err
	}
	x.updateBatch(batchID, func(b *vault.Batch) { b.Target, b.Location, b.DeliveryError = target.String(), rc.Location, "" })
	return rc.Location, nil
}

// build makes the batch's bundle in the outbox: the next TPM counter value as its
// sequence number, the previous bundle's hash, a fresh signed audit checkpoint.
func (x *Exporter) build(ctx context.Context, b *vault.Batch, progress func(Progress)) (exporter.BundleFile, error) {
	issuer, err := IssuerKey(x.st)
	if err != nil {
		return exporter.BundleFile{}, err
	}
	prev, err := x.lastBundleHash()
	if err != nil {
		return exporter.BundleFile{}, err
	}
	cp, err := x.st.SignCheckpoint()
	if err != nil {
		return exporter.BundleFile{}, err
	}
	// The bundle is built with the counter's next value and the counter advanced only
	// once it is built, so a failed build (a damaged record, a cancelled export) uses no
	// sequence number. One process per station (the data directory's lock) keeps the
	// prediction right; the first bundle on a TPM whose counters were used before gets
	// its value from the TPM, so that bundle is rebuilt once with it.
	cur, err := x.st.BundleSeq()
	if err != nil {
		return exporter.BundleFile{}, err
	}
	roster, err := Roster(x.st)
	if err != nil {
		return exporter.BundleFile{}, err
	}
	if last, err := x.lastRecordedSeq(); err != nil {
		return exporter.BundleFile{}, err
	} else if last == cur+1 { // recorded, then a crash before it was counted
		if cur, err = x.st.NextBundleSeq(); err != nil {
			return exporter.BundleFile{}, err
		}
	}
	src := &vaultRecords{ctx: ctx, st: x.st, ids: b.EnrollmentIDs, progress: progress}
	p := exporter.BuildParams{
		Records: src, StationSigner: x.st.Signer(), IssuerKey: issuer, Seq: cur + 1, PrevHash: prev,
		Batch:  exporter.Batch{ID: b.ID, ClosedAt: b.ClosedAt, EnrollmentIDs: b.EnrollmentIDs},
		Roster: roster,
		// IssuerKeyChanges: the vault keeps no issuer-key history yet (issue 14b adds it).
	}
	if cp != nil {
		p.Audit = exporter.AuditCheckpoint{Seq: cp.Seq, Hash: cp.Hash, Signature: cp.Signature}
	}
	bf, err := x.outbox.Build(p)
	if err != nil {
		return exporter.BundleFile{}, buildError(b.ID, err)
	}
	// Record the bundle first, then count it: a crash between the two leaves the batch
	// naming a bundle one above the counter, which the next Export counts (countBundle).
	// Remembered at once also because the next bundle chains to it, delivered or not.
	if err := x.recordBundle(b, bf, p.Seq); err != nil {
		return exporter.BundleFile{}, err
	}
	if testHookBundleRecorded != nil {
		if err := testHookBundleRecorded(); err != nil {
			return exporter.BundleFile{}, err
		}
	}
	seq, err := x.st.NextBundleSeq()
	if err != nil {
		return exporter.BundleFile{}, err
	}
	if seq != p.Seq {
		os.Remove(bf.Path)
		src.calls, p.Seq = 0, seq
		if bf, err = x.outbox.Build(p); err != nil {
			return exporter.BundleFile{}, buildError(b.ID, err)
		}
		if err := x.recordBundle(b, bf, seq); err != nil {
			return exporter.BundleFile{}, err
		}
	}
	return bf, nil
}

// Roster is the station's registered supervisor approval keys as the vault holds them
// today: each supervisor's current TPM approval key, active since the account was made.
// The vault keeps no key history yet (issue 14b adds it: replaced keys then enter the
// roster as KeyReplaced with EndedAt and ReplacedBy), so an approval signed by a key
// that was replaced since fails the export with reason unregistered-key rather than
// travel unregistered.
func Roster(st *vault.Station) ([]exporter.RosterEntry, error) {
	var ops []*vault.Operator
	err := st.Store().View(func(tx *vault.Tx) error {
		for _, name := range tx.Operators() {
			o, err := tx.Operator(name)
			if err != nil {
				return err
			}
			if o.ApprovalKey != nil && o.HasRole(vault.RoleSupervisor) {
				ops = append(ops, o)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("workflow: reading the supervisors: %w", err)
	}
	var out []exporter.RosterEntry
	for _, o := range ops {
		pub, err := st.SupervisorKey(o.Name)
		if err != nil {
			return nil, fmt.Errorf("workflow: approval key of %s: %w", o.Name, err)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, err
		}
		out = append(out, exporter.RosterEntry{SupervisorID: o.Name, DisplayName: o.Name, PublicKey: der,
			Created: o.CreatedAt, Status: exporter.KeyActive})
	}
	return out, nil
}

// testHookBundleRecorded runs between recording a bundle and counting it; a test makes
// it fail to stand for a crash there.
var testHookBundleRecorded func() error

func (x *Exporter) recordBundle(b *vault.Batch, bf exporter.BundleFile, seq uint64) error {
	err := x.updateBatch(b.ID, func(nb *vault.Batch) {
		nb.BundleID, nb.BundleSeq, nb.BundleHash, nb.DeliveryError = bf.ID, seq, bf.SHA256[:], ""
	})
	if err == nil {
		b.BundleID, b.BundleSeq, b.BundleHash = bf.ID, seq, bf.SHA256[:]
	}
	return err
}

// lastRecordedSeq is the highest bundle sequence number a batch records.
func (x *Exporter) lastRecordedSeq() (uint64, error) {
	bs, err := Batches(x.st)
	var last uint64
	for _, b := range bs {
		last = max(last, b.BundleSeq)
	}
	return last, err
}

// countBundle finishes what a crash interrupted: a batch's recorded bundle one above the
// TPM counter is counted now.
func (x *Exporter) countBundle(b *vault.Batch) error {
	cur, err := x.st.BundleSeq()
	if err != nil || cur >= b.BundleSeq {
		return err
	}
	if cur+1 != b.BundleSeq {
		return fmt.Errorf("workflow: batch %s's bundle is number %d but the TPM counter is at %d", b.ID, b.BundleSeq, cur)
	}
	_, err = x.st.NextBundleSeq()
	return err
}

// buildError explains a failed build; a damaged record names the way out (quarantine).
func buildError(batchID string, err error) error {
	var ie *vault.IntegrityError
	if errors.As(err, &ie) && ie.Key != "" {
		id := ie.Key[strings.IndexByte(ie.Key, '/')+1:]
		return fmt.Errorf("workflow: building batch %s: %w; no bundle sequence number was used. A supervisor can take the damaged record out of the batch: enrollstation batch quarantine %s --batch %s --as SUPERVISOR", batchID, err, id, batchID)
	}
	return fmt.Errorf("workflow: building batch %s: %w; no bundle sequence number was used", batchID, err)
}

// lastBundleHash is the hash of the station's most recent bundle (highest sequence
// number), nil before the first.
func (x *Exporter) lastBundleHash() ([]byte, error) {
	bs, err := Batches(x.st)
	if err != nil {
		return nil, err
	}
	var best *vault.Batch
	for i := range bs {
		if b := &bs[i].Batch; len(b.BundleHash) > 0 && (best == nil || b.BundleSeq > best.BundleSeq) {
			best = b
		}
	}
	if best == nil {
		return nil, nil
	}
	return best.BundleHash, nil
}

func (x *Exporter) updateBatch(id string, f func(*vault.Batch)) error {
	return x.st.Store().Update(func(tx *vault.Tx) error {
		b, err := tx.Batch(id)
		if err != nil {
			return err
		}
		f(b)
		return tx.PutBatch(b)
	})
}

// AckResult is what importing an issuer acknowledgement did.
type AckResult struct {
	BatchID string
	Purged  int // enrollments the issuer accepted: their biometrics are deleted
	// Rejected are the records the issuer refused (biometrics kept); Reason is the text
	// kept with each record: the issuer's detail for "other", else "code: detail".
	Rejected []exporter.Rejection
	// Refused is set for a negative acknowledgement: the issuer refused the whole bundle
	// (Reason, Detail), and Returned records went back to approved for a new export.
	Refused        bool
	Reason, Detail string
	Returned       int
}

// ImportAck reads an issuer acknowledgement, checks it is signed by the station's issuer
// key, names a bundle this station exported and delivered, comes after the last one
// imported (no replay, no merging into an acknowledged batch), and accounts for every
// record of the bundle. A positive acknowledgement is recorded record by record: the
// enrollments the issuer accepted are acknowledged and their biometrics purged (the
// issuer holds them now); those it refused keep their biometrics, carry its reason and
// are audited (the citizen must be enrolled again). A negative one refuses the whole
// bundle: its records go back to approved and the batch to closed, so the next export
// builds a new bundle of them.
func (x *Exporter) ImportAck(sup *vault.Session, ack []byte) (AckResult, error) {
	issuer, err := IssuerKey(x.st)
	if err != nil {
		return AckResult{}, err
	}
	a, err := exporter.ParseAck(ack, issuer)
	if err != nil {
		return AckResult{}, fmt.Errorf("workflow: reading the acknowledgement: %w", err)
	}
	sid, err := exporter.StationID(x.st.PublicKey())
	if err != nil {
		return AckResult{}, err
	}
	if a.StationID != sid {
		return AckResult{}, fmt.Errorf("%w: it is for another station", ErrAckMismatch)
	}
	bs, err := Batches(x.st)
	if err != nil {
		return AckResult{}, err
	}
	for _, b := range bs {
		if b.BundleID != a.BundleID || !bytes.Equal(b.BundleHash, a.BundleSHA256[:]) {
			continue
		}
		if !b.IssuerAckAt.IsZero() {
			return AckResult{}, fmt.Errorf("workflow: batch %s: %w", b.ID,
				&exporter.CodedError{Code: exporter.CodeAckReplay, Err: exporter.ErrReplay, Msg: "the bundle was acknowledged already; acknowledgements are not merged"})
		}
		if b.Status != vault.BatchExported {
			return AckResult{}, fmt.Errorf("%w: batch %s is not confirmed as delivered yet", ErrAckMismatch, b.ID)
		}
		last, err := x.outbox.LastAckSeq()
		if err != nil {
			return AckResult{}, err
		}
		if err := exporter.CheckAck(a, b.EnrollmentIDs, last); err != nil {
			return AckResult{}, fmt.Errorf("workflow: batch %s: %w", b.ID, err)
		}
		var res AckResult
		if a.Kind == exporter.AckNegative {
			res, err = x.returnForExport(sup, &b.Batch, a)
		} else {
			refused := make(map[string]string, len(a.Rejected))
			shown := make([]exporter.Rejection, len(a.Rejected))
			for i, r := range a.Rejected {
				refused[r.EnrollmentID] = refusalText(r)
				shown[i] = exporter.Rejection{EnrollmentID: r.EnrollmentID, Reason: refusalText(r)}
			}
			var out vault.AckOutcome
			out, err = x.st.AckIssuer(sup, b.ID, vault.IssuerAck{Accepted: a.Accepted, Refused: refused, At: a.Created.UTC()})
			res = AckResult{BatchID: b.ID, Purged: out.Accepted, Rejected: shown}
		}
		if err != nil {
			return AckResult{}, fmt.Errorf("workflow: recording the acknowledgement: %w", err)
		}
		if err := x.outbox.RecordAck(a, ack); err != nil {
			return AckResult{}, err
		}
		return res, nil
	}
	return AckResult{}, fmt.Errorf("%w: bundle %s", ErrAckMismatch, a.BundleID)
}

// refusalText is how a refused record's reason is kept with it: the issuer's text for
// "other", else the reason code and any text.
func refusalText(r exporter.Rejection) string {
	switch {
	case r.Reason == "other" && r.Detail != "":
		return r.Detail
	case r.Detail != "":
		return r.Reason + ": " + r.Detail
	}
	return r.Reason
}

// returnForExport applies a negative acknowledgement: the batch's records go back to
// approved (keeping their approvals and biometrics) and the batch to closed without a
// bundle, so Export builds a new bundle of them; the refused bundle stays the chain's
// predecessor, and the audit log records the issuer's reason.
func (x *Exporter) returnForExport(sup *vault.Session, b *vault.Batch, a *exporter.Ack) (AckResult, error) {
	res := AckResult{BatchID: b.ID, Refused: true, Reason: a.Reason, Detail: a.Detail}
	why := "issuer refused bundle " + a.BundleID + ": " + a.Reason
	if a.Detail != "" {
		why += ": " + a.Detail
	}
	err := x.st.Store().Update(func(tx *vault.Tx) error {
		res.Returned = 0
		for _, id := range b.EnrollmentIDs {
			e, err := tx.EnrollmentMeta(id)
			if err != nil {
				return err
			}
			if e.Status != vault.StatusExported {
				return fmt.Errorf("workflow: enrollment %s is %s, not exported: the acknowledgement cannot return it", id, e.Status)
			}
			e.Status, e.BundleSeq, e.ExportedAt = vault.StatusApproved, 0, time.Time{}
			if err := tx.PutEnrollment(e); err != nil {
				return err
			}
			res.Returned++
		}
		nb, err := tx.Batch(b.ID)
		if err != nil {
			return err
		}
		nb.Status, nb.BundleID, nb.ExportedAt, nb.Location, nb.DeliveryError = vault.BatchClosed, "", time.Time{}, "", why
		if err := tx.PutBatch(nb); err != nil {
			return err
		}
		return tx.Audit(sup.Name, "batch.issuer-nack", b.ID, why)
	})
	return res, err
}

// vaultRecords loads a batch's records from the vault one at a time, so memory stays
// flat whatever the batch size.
type vaultRecords struct {
	ctx      context.Context
	st       *vault.Station
	ids      []string
	progress func(Progress)
	calls    int
}

func (v *vaultRecords) Len() int { return len(v.ids) }

func (v *vaultRecords) Record(i int) (exporter.Record, error) {
	if err := v.ctx.Err(); err != nil {
		return exporter.Record{}, err
	}
	v.calls++
	v.progress(Progress{Stage: "building", Done: v.calls, Total: 2 * len(v.ids)}) // Build reads each record twice
	e, err := v.st.Enrollment(v.ids[i])
	if err != nil {
		return exporter.Record{}, fmt.Errorf("workflow: enrollment %s: %w", v.ids[i], err)
	}
	return RecordOf(e)
}

// RecordOf maps a stored, approved enrollment onto the exporter's record: identity from
// the demographics, portrait and template as stored, the quality vector from the
// biometrics report, the capture metadata and the supervisor's signed statement.
func RecordOf(e *vault.Enrollment) (exporter.Record, error) {
	if e.Approval == nil {
		return exporter.Record{}, fmt.Errorf("workflow: enrollment %s is not approved", e.ID)
	}
	var t biometrics.Template
	if err := t.UnmarshalBinary(e.Template); err != nil {
		return exporter.Record{}, fmt.Errorf("workflow: enrollment %s: template: %w", e.ID, err)
	}
	q, err := ParseQuality(e.Quality)
	if err != nil {
		return exporter.Record{}, fmt.Errorf("workflow: enrollment %s: %w", e.ID, err)
	}
	rep := biometrics.Report{Measures: q.Measures}
	qv := make([]exporter.QualityMeasure, 0, len(q.Measures))
	for _, c := range rep.QualityVector() {
		qv = append(qv, exporter.QualityMeasure{ID: string(c.ID), Raw: c.Raw, Scalar: min(max(c.Score, 0), 100)})
	}
	at := e.Capture.CapturedAt
	if at.IsZero() {
		at = e.CreatedAt
	}
	a := e.Approval
	identity := IdentityOf(e.Demographics)
	identity.ApplicationNumber = e.Demographics.ApplicationNumber // printed on the receipt
	return exporter.Record{
		EnrollmentID:    e.ID,
		Identity:        identity,
		Portrait:        e.Portrait,
		Template:        e.Template,
		ModelID:         t.ModelID,
		TemplateVersion: strconv.Itoa(t.Version),
		Quality:         qv,
		Capture: exporter.Capture{
			Operator: e.CapturedBy, CameraProfile: e.Capture.ProfileID, Retries: e.Capture.Attempts,
			ForcedReason: e.Capture.Extra[ExtraForcedReason], CapturedAt: at.UTC(),
		},
		Approval: exporter.Approval{
			SupervisorID: a.Supervisor, SupervisorPublicKey: a.PublicKey, Signature: a.Signature,
			SignedAt: a.At.UTC(), Statement: a.Statement,
		},
	}, nil
}
