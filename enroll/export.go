package enroll

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

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
			return "", x.recordFailure(sup, batchID, target, "building the bundle", err)
		}
	}
	progress(Progress{Stage: "delivering", Done: 0, Total: 1})
	rc, err := x.outbox.Deliver(ctx, target, bf.ID)
	if err != nil {
		err = fmt.Errorf("workflow: delivering batch %s (bundle %d) to %s: %w", batchID, b.BundleSeq, target, err)
		return "", x.recordFailure(sup, batchID, target, fmt.Sprintf("delivering bundle %d", b.BundleSeq), err)
	}
	progress(Progress{Stage: "recording", Done: 1, Total: 1})
	if err := x.st.MarkExported(sup, batchID, b.EnrollmentIDs, b.BundleSeq, bf.SHA256[:]); err != nil {
		return "", x.recordFailure(sup, batchID, target, fmt.Sprintf("recording bundle %d as exported", b.BundleSeq), err)
	}
	if err := x.updateBatch(batchID, func(b *vault.Batch) { b.Target, b.Location, b.DeliveryError = target.String(), rc.Location, "" }); err != nil {
		return "", fmt.Errorf("workflow: batch %s was exported to %s but recording where failed: %w", batchID, rc.Location, err)
	}
	return rc.Location, nil
}

// recordFailure keeps a failed export's one consistent state: the batch not exported,
// its bundle (when built) still queued, the error on the batch, and an audit entry, all
// in one transaction. It returns err, joined with any error recording it.
func (x *Exporter) recordFailure(sup *vault.Session, batchID string, target exporter.Target, step string, err error) error {
	msg := err.Error()
	rerr := x.st.Store().Update(func(tx *vault.Tx) error {
		b, e := tx.Batch(batchID)
		if e != nil {
			return e
		}
		b.Target, b.DeliveryError = target.String(), msg
		if e := tx.PutBatch(b); e != nil {
			return e
		}
		return tx.Audit(sup.Name, "batch.export-failed", batchID, fmt.Sprintf("%s to %s: %s", step, target, msg))
	})
	if rerr != nil {
		return errors.Join(err, fmt.Errorf("workflow: recording the failed export: %w", rerr))
	}
	return err
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
	seq, err := x.st.NextBundleSeq()
	if err != nil {
		return exporter.BundleFile{}, err
	}
	src := &vaultRecords{ctx: ctx, st: x.st, ids: b.EnrollmentIDs, progress: progress}
	p := exporter.BuildParams{
		Records: src, StationSigner: x.st.Signer(), IssuerKey: issuer, Seq: seq, PrevHash: prev,
		Batch: exporter.Batch{ID: b.ID, ClosedAt: b.ClosedAt, EnrollmentIDs: b.EnrollmentIDs},
	}
	if cp != nil {
		p.Audit = exporter.AuditCheckpoint{Seq: cp.Seq, Hash: cp.Hash, Signature: cp.Signature}
	}
	bf, err := x.outbox.Build(p)
	if err != nil {
		return exporter.BundleFile{}, fmt.Errorf("workflow: building batch %s: %w", b.ID, err)
	}
	// Remember the bundle at once: its sequence number is spent, and the next bundle
	// chains to it whether or not this one has been delivered yet.
	err = x.updateBatch(b.ID, func(nb *vault.Batch) {
		nb.BundleID, nb.BundleSeq, nb.BundleHash, nb.DeliveryError = bf.ID, seq, bf.SHA256[:], ""
	})
	if err != nil {
		return exporter.BundleFile{}, err
	}
	b.BundleID, b.BundleSeq, b.BundleHash = bf.ID, seq, bf.SHA256[:]
	return bf, nil
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
	BatchID  string
	Purged   int                  // enrollments the issuer accepted: their biometrics are deleted
	Rejected []exporter.Rejection // records the issuer refused, with its reasons (biometrics kept)
}

// ImportAck reads an issuer acknowledgement, checks it is signed by the station's issuer
// key and names a bundle this station exported, and records it record by record: the
// enrollments the issuer accepted are acknowledged and their biometrics purged (the
// issuer holds them now); those it refused keep their biometrics, carry its reason and
// are audited (the citizen must be enrolled again).
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
		if b.Status != vault.BatchExported {
			return AckResult{}, fmt.Errorf("%w: batch %s is not confirmed as delivered yet", ErrAckMismatch, b.ID)
		}
		refused := make(map[string]string, len(a.Rejected))
		for _, r := range a.Rejected {
			refused[r.EnrollmentID] = r.Reason
		}
		out, err := x.st.AckIssuer(sup, b.ID, vault.IssuerAck{Accepted: a.Accepted, Refused: refused, At: a.Created.UTC()})
		if err != nil {
			return AckResult{}, fmt.Errorf("workflow: recording the acknowledgement: %w", err)
		}
		return AckResult{BatchID: b.ID, Purged: out.Accepted, Rejected: a.Rejected}, nil
	}
	return AckResult{}, fmt.Errorf("%w: bundle %s", ErrAckMismatch, a.BundleID)
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
	return exporter.Record{
		EnrollmentID:    e.ID,
		Identity:        IdentityOf(e.Demographics),
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
