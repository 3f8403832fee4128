package vault

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"enrollstation/exporter/statement"
)

// SaveEnrollment creates or updates an enrollment as a clerk: new enrollments and
// drafts may be saved as draft or pending (submitted for approval). A new enrollment
// gets an ID and CapturedBy = the clerk. The write is durable when it returns.
func (st *Station) SaveEnrollment(clerk *Session, e *Enrollment) error {
	if err := clerk.require(RoleClerk); err != nil {
		return err
	}
	if e.Status != StatusDraft && e.Status != StatusPending {
		return fmt.Errorf("%w: a clerk saves drafts or submits (pending), not %s", ErrNotInWorkflow, e.Status)
	}
	now := st.cfg.now()
	if e.ID == "" {
		e.ID = NewID(now)
		e.CreatedAt = now
	}
	if e.CapturedBy == "" {
		e.CapturedBy = clerk.Name
	}
	e.UpdatedAt = now
	e.Approval = nil
	return st.store.UpdateRecord(func(tx *Tx) error {
		if old, err := tx.EnrollmentMeta(e.ID); err == nil && old.CapturedBy != e.CapturedBy {
			return fmt.Errorf("%w: captured by %s", ErrInvalid, old.CapturedBy)
		}
		if err := tx.PutEnrollment(e); err != nil {
			return err
		}
		return tx.Audit(clerk.Name, "enrollment.save", e.ID, string(e.Status))
	})
}

// RoomForEnrollment is nil when the data disk has room for a new enrollment, else the
// *LowDiskError that SaveEnrollment would return: check it before a citizen sits down.
func (st *Station) RoomForEnrollment() error { return st.store.RoomForRecord() }

// EnrollmentFrame reads an enrollment's captured camera frame (JPEG); nil when none was
// kept or it was purged.
func (st *Station) EnrollmentFrame(id string) (f []byte, err error) {
	err = st.store.View(func(tx *Tx) error { f, err = tx.EnrollmentFrame(id); return err })
	return f, err
}

// Enrollment reads an enrollment with its portrait and template (not the frame).
func (st *Station) Enrollment(id string) (e *Enrollment, err error) {
	err = st.store.View(func(tx *Tx) error { e, err = tx.Enrollment(id); return err })
	return e, err
}

// ApprovalStatement is the byte string a supervisor's approval signs: the exporter's
// approval statement (package exporter/statement, docs/bundle-format.md "Approval
// statement") for this enrollment as stored, naming this station (stationID, hex) and the
// supervisor's registered approval key (keyDER, PKIX DER). The vault's storage structs
// are mapped field by field onto the statement's own types, so renaming a stored field
// cannot change what is signed. The signature is ECDSA P-256 (ASN.1 DER) over SHA-256 of
// these bytes.
func ApprovalStatement(e *Enrollment, stationID, supervisor string, keyDER []byte, at time.Time) ([]byte, error) {
	d, c := e.Demographics, e.Capture
	captured := c.CapturedAt
	if captured.IsZero() { // no frame time kept: the record's creation time stands in
		captured = e.CreatedAt
	}
	return statement.Statement{
		StationID: stationID, EnrollmentID: e.ID, ApplicationNumber: d.ApplicationNumber,
		Supervisor: supervisor, SupervisorKeyID: statement.KeyID(keyDER), ApprovedAt: statement.FormatTime(at),
		CapturedBy: e.CapturedBy, CreatedAt: statement.FormatTime(e.CreatedAt),
		Demographics: statement.Demographics{
			Surname: d.Surname, GivenNames: d.GivenNames, DateOfBirth: d.DateOfBirth, Sex: d.Sex,
			Nationality: d.Nationality, PlaceOfBirth: d.PlaceOfBirth, Address: d.Address,
			AddressLines: d.AddressLines, Locality: d.Locality, PostalCode: d.PostalCode, Country: d.Country,
			DocumentNumber: d.DocumentNumber, Phone: d.Phone,
		},
		Capture: statement.Capture{
			Camera: c.Camera, ProfileID: c.ProfileID, CapturedAt: statement.FormatTime(captured),
			Width: c.Width, Height: c.Height, Attempts: c.Attempts, ForcedReason: c.Extra["forced_reason"],
		},
		PortraitSHA256: statement.Hash(e.Portrait), TemplateSHA256: statement.Hash(e.Template),
		QualitySHA256: statement.Hash(e.Quality),
	}.Marshal()
}

// VerifyApproval checks an enrollment's approval: the statement matches the record as
// it is now and the signature is the stated supervisor key's.
func VerifyApproval(e *Enrollment) error {
	a := e.Approval
	if a == nil {
		return fmt.Errorf("%w: not approved", ErrBadApprovalSig)
	}
	signed, err := statement.Parse(a.Statement)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadApprovalSig, err)
	}
	want, err := ApprovalStatement(e, signed.StationID, a.Supervisor, a.PublicKey, a.At)
	if err != nil {
		return err
	}
	if string(want) != string(a.Statement) {
		return fmt.Errorf("%w: the enrollment changed after approval", ErrBadApprovalSig)
	}
	pk, err := x509.ParsePKIXPublicKey(a.PublicKey)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadApprovalSig, err)
	}
	ek, ok := pk.(*ecdsa.PublicKey)
	d := sha256.Sum256(a.Statement)
	if !ok || !ecdsa.VerifyASN1(ek, d[:], a.Signature) {
		return ErrBadApprovalSig
	}
	return nil
}

// SupervisorKey returns a supervisor's approval public key (for bundles and verifiers).
func (st *Station) SupervisorKey(name string) (*ecdsa.PublicKey, error) {
	var o *Operator
	if err := st.store.View(func(tx *Tx) (err error) { o, err = tx.Operator(name); return err }); err != nil {
		return nil, err
	}
	if o.ApprovalKey == nil {
		return nil, ErrNoApprovalKey
	}
	s, err := st.tpm.Signer(o.ApprovalKey, nil)
	if err != nil {
		return nil, err
	}
	return s.PublicKey(), nil
}

// Approve approves a pending enrollment, signing ApprovalStatement with the supervisor's
// TPM key. A supervisor cannot approve what they captured (ErrSelfApproval).
func (st *Station) Approve(sup *Session, id string) (*Enrollment, error) {
	if err := sup.require(RoleSupervisor); err != nil {
		return nil, err
	}
	e, err := st.Enrollment(id)
	if err != nil {
		return nil, err
	}
	if e.CapturedBy == sup.Name {
		return nil, ErrSelfApproval
	}
	if e.Status != StatusPending {
		return nil, fmt.Errorf("%w: enrollment %s is %s, not pending", ErrNotInWorkflow, id, e.Status)
	}
	var o *Operator
	if err := st.store.View(func(tx *Tx) (err error) { o, err = tx.Operator(sup.Name); return err }); err != nil {
		return nil, err
	}
	if o.ApprovalKey == nil {
		return nil, ErrNoApprovalKey
	}
	signer, err := st.tpm.Signer(o.ApprovalKey, sup.auth)
	if err != nil {
		return nil, err
	}
	at := st.cfg.now()
	pub, _ := x509.MarshalPKIXPublicKey(signer.PublicKey())
	stmt, err := ApprovalStatement(e, st.ID(), sup.Name, pub, at)
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256(stmt)
	sig, err := signer.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	err = st.store.Update(func(tx *Tx) error {
		cur, err := tx.EnrollmentMeta(id)
		if err != nil {
			return err
		}
		if cur.Status != StatusPending || !cur.UpdatedAt.Equal(e.UpdatedAt) {
			return fmt.Errorf("%w: enrollment %s changed while being approved", ErrNotInWorkflow, id)
		}
		cur.Status = StatusApproved
		cur.Approval = &Approval{Supervisor: sup.Name, At: at, Statement: stmt, Signature: sig, PublicKey: pub}
		cur.UpdatedAt = at
		if err := tx.PutEnrollment(cur); err != nil {
			return err
		}
		return tx.Audit(sup.Name, "enrollment.approve", id, "")
	})
	if err != nil {
		return nil, err
	}
	return st.Enrollment(id)
}

// Reject rejects a pending enrollment with a short reason (no personal data).
func (st *Station) Reject(sup *Session, id, reason string) error {
	if err := sup.require(RoleSupervisor); err != nil {
		return err
	}
	return st.store.Update(func(tx *Tx) error {
		e, err := tx.EnrollmentMeta(id)
		if err != nil {
			return err
		}
		if e.Status != StatusPending {
			return fmt.Errorf("%w: enrollment %s is %s, not pending", ErrNotInWorkflow, id, e.Status)
		}
		e.Status, e.RejectedBy, e.RejectReason = StatusRejected, sup.Name, reason
		e.UpdatedAt = st.cfg.now()
		if err := tx.PutEnrollment(e); err != nil {
			return err
		}
		return tx.Audit(sup.Name, "enrollment.reject", id, reason)
	})
}

// MarkExported records that the approved enrollments ids went out in bundle seq (from
// NextBundleSeq) with SHA-256 bundleHash, as batch batchID (created if new), and signs
// an audit checkpoint for the batch.
func (st *Station) MarkExported(sup *Session, batchID string, ids []string, seq uint64, bundleHash []byte) error {
	if err := sup.require(RoleSupervisor); err != nil {
		return err
	}
	now := st.cfg.now()
	_, err := st.anchoredUpdate(func(tx *Tx) error {
		b, err := tx.Batch(batchID)
		if errors.Is(err, ErrNotFound) {
			b = &Batch{ID: batchID, Status: BatchOpen, CreatedBy: sup.Name, CreatedAt: now}
		} else if err != nil {
			return err
		}
		if b.Status == BatchExported {
			return fmt.Errorf("%w: batch %s was already exported", ErrNotInWorkflow, batchID)
		}
		for _, id := range ids {
			e, err := tx.EnrollmentMeta(id)
			if err != nil {
				return err
			}
			if e.Status != StatusApproved {
				return fmt.Errorf("%w: enrollment %s is %s, not approved", ErrNotInWorkflow, id, e.Status)
			}
			e.Status, e.BatchID, e.BundleSeq, e.ExportedAt, e.UpdatedAt = StatusExported, batchID, seq, now, now
			if err := tx.PutEnrollment(e); err != nil {
				return err
			}
		}
		b.Status, b.ClosedAt, b.ExportedAt, b.BundleSeq, b.BundleHash = BatchExported, now, now, seq, bundleHash
		if err := tx.PutBatch(b); err != nil {
			return err
		}
		return tx.Audit(sup.Name, "batch.export", batchID, fmt.Sprintf("%d enrollments, bundle %d", len(ids), seq))
	})
	return err
}

// IssuerAck is the issuer's answer to one exported batch: the enrollments it took over
// and those it refused, with its reasons.
type IssuerAck struct {
	Accepted []string
	Refused  map[string]string // enrollment ID → the issuer's reason
	At       time.Time         // when the issuer made it (zero: now)
}

// AckOutcome is what AckIssuer did.
type AckOutcome struct {
	Accepted int // enrollments acknowledged and purged (this import or an earlier one)
	Refused  int // enrollments marked refused; their biometrics stay
	Unknown  int // IDs the acknowledgement names that are not exported members of the batch
}

// AckIssuer records the issuer's acknowledgement of a batch, record by record: accepted
// enrollments get IssuerAckAt and their biometrics are purged at once (the issuer holds
// them now); refused ones keep their biometrics, carry the issuer's reason in
// IssuerRefusal and are audited. The batch records the acknowledgement and its counts.
// Importing the same acknowledgement again changes nothing.
func (st *Station) AckIssuer(actor *Session, batchID string, ack IssuerAck) (AckOutcome, error) {
	if err := actor.require(RoleSupervisor); err != nil {
		return AckOutcome{}, err
	}
	for id := range ack.Refused {
		if slices.Contains(ack.Accepted, id) {
			return AckOutcome{}, fmt.Errorf("%w: the acknowledgement both accepts and refuses enrollment %s", ErrInvalid, id)
		}
	}
	now := st.cfg.now()
	at := ack.At
	if at.IsZero() {
		at = now
	}
	var out AckOutcome
	err := st.store.Update(func(tx *Tx) error {
		out = AckOutcome{}
		b, err := tx.Batch(batchID)
		if err != nil {
			return err
		}
		members := map[string]bool{}
		for _, id := range tx.EnrollmentsByBatch(batchID) {
			members[id] = true
		}
		member := func(id string) (*Enrollment, error) {
			if !members[id] {
				return nil, nil
			}
			e, err := tx.EnrollmentMeta(id)
			if err != nil || (e.Status != StatusExported && e.Status != StatusPurged) {
				return nil, err
			}
			return e, nil
		}
		for _, id := range ack.Accepted {
			e, err := member(id)
			if err != nil {
				return err
			}
			switch {
			case e == nil:
				out.Unknown++
				continue
			case e.Status == StatusExported:
				e.IssuerAckAt, e.IssuerRefusal = at, ""
				if err := purge(tx, e, now); err != nil {
					return err
				}
			}
			out.Accepted++ // already purged: by an earlier import or by retention
		}
		for _, id := range slices.Sorted(maps.Keys(ack.Refused)) {
			reason := ack.Refused[id]
			e, err := member(id)
			if err != nil {
				return err
			}
			if e == nil {
				out.Unknown++
				continue
			}
			out.Refused++
			if e.IssuerRefusal == reason || e.Status != StatusExported {
				continue // imported before, or purged by retention meanwhile
			}
			e.IssuerRefusal, e.UpdatedAt = reason, now
			if err := tx.PutEnrollment(e); err != nil {
				return err
			}
			if err := tx.Audit(actor.Name, "enrollment.issuer-refused", id, reason); err != nil {
				return err
			}
		}
		b.IssuerAckAt, b.AckAccepted, b.AckRefused = at, out.Accepted, out.Refused
		if err := tx.PutBatch(b); err != nil {
			return err
		}
		return tx.Audit(actor.Name, "batch.issuer-ack", batchID,
			fmt.Sprintf("%d accepted and purged, %d refused, %d unknown", out.Accepted, out.Refused, out.Unknown))
	})
	return out, err
}

func purge(tx *Tx, e *Enrollment, now time.Time) error {
	if err := tx.PurgeBiometrics(e.ID); err != nil {
		return err
	}
	e.Status, e.PurgedAt, e.UpdatedAt = StatusPurged, now, now
	e.Quality = nil
	if err := tx.PutEnrollment(e); err != nil {
		return err
	}
	return tx.Audit("station", "enrollment.purge", e.ID, "biometrics deleted")
}

// PurgeExpired deletes the portrait, template, frame and quality report of enrollments
// exported more than Settings.RetentionDays ago; metadata and audit stay. It returns
// how many were purged. Work is split into transactions of purgeChunk enrollments so
// that a large backlog stays within badger's transaction size.
func (st *Station) PurgeExpired() (int, error) {
	now := st.cfg.now()
	var due []string
	err := st.store.View(func(tx *Tx) error {
		set, err := tx.Settings()
		if err != nil {
			return err
		}
		cutoff := now.Add(-time.Duration(set.RetentionDays) * 24 * time.Hour)
		for _, id := range tx.EnrollmentsByStatus(StatusExported) {
			e, err := tx.EnrollmentMeta(id)
			if err != nil {
				return err
			}
			if !e.ExportedAt.After(cutoff) {
				due = append(due, id)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for len(due) > 0 {
		chunk := due[:min(purgeChunk, len(due))]
		due = due[len(chunk):]
		err := st.store.Update(func(tx *Tx) error {
			for _, id := range chunk {
				e, err := tx.EnrollmentMeta(id)
				if err != nil {
					return err
				}
				if e.Status != StatusExported {
					continue // changed since listed
				}
				if err := purge(tx, e, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(chunk)
	}
	return n, nil
}

const purgeChunk = 200
