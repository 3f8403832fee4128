package exporter

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"enrollstation/exporter/internal/jsonprofile"
)

// Reason is a short stable code for what an Open error says failed, for scripts and
// reports: "bad-signature", "tampered", "truncated", "wrong-issuer", "wrong-station",
// "replay", "chain", "missing-record", "schema", "malformed", "unsupported", "too-large",
// "bad-key", or "error" for anything else (e.g. I/O).
//
// Finer codes come from a *CodedError or a JSON profile violation in the chain
// (docs/bundle-format.md, "Reason codes", lists them all).
func Reason(err error) string {
	var ce *CodedError
	if errors.As(err, &ce) {
		return ce.Code
	}
	var pe *jsonprofile.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrWrongIssuer, "wrong-issuer"}, {ErrWrongStation, "wrong-station"},
		{ErrBadSignature, "bad-signature"}, {ErrTampered, "tampered"}, {ErrTruncated, "truncated"},
		{ErrReplay, "replay"}, {ErrChain, "chain"}, {ErrMissingRecord, "missing-record"},
		{ErrSchema, "schema"}, {ErrUnsupported, "unsupported"}, {ErrTooLarge, "too-large"},
		{ErrMalformed, "malformed"}, {ErrBadKey, "bad-key"},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "error"
}

// WriteReport writes the human-readable report of a verified bundle, as
// `enrollstation verify` prints it.
func WriteReport(w io.Writer, b *Bundle) error {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	p("bundle       %s\n", b.ID)
	p("station      %s\n", hex.EncodeToString(b.StationID[:]))
	p("issuer key   %s\n", Fingerprint(b.IssuerKeyID))
	p("sequence     %d, follows %s\n", b.Seq, hexOrNone(b.PrevHash))
	p("created      %s\n", fmtTime(b.Created))
	closed := "not closed"
	if !b.Batch.ClosedAt.IsZero() {
		closed = "closed " + fmtTime(b.Batch.ClosedAt)
	}
	p("batch        %s, %s, lists %d enrollments\n", orDash(b.Batch.ID), closed, len(b.Batch.EnrollmentIDs))
	p("audit        checkpoint %d, hash %s\n", b.Audit.Seq, orDash(hex.EncodeToString(b.Audit.Hash)))
	p("file         %d bytes, sha256 %s\n", b.Size, hex.EncodeToString(b.SHA256[:]))
	p("records      %d\n", len(b.Records))
	for _, r := range b.Records {
		forced := ""
		if r.Capture.ForcedReason != "" {
			forced = ", forced: " + r.Capture.ForcedReason
		}
		p("  %s  %s, %s  born %s  %s  %s\n", r.EnrollmentID, r.Identity.FamilyName, r.Identity.GivenNames,
			r.Identity.DateOfBirth, r.Identity.Sex, r.Identity.Nationality)
		p("      portrait %d B, template %s/%s %d B, %d quality measures, captured %s by %s%s\n",
			len(r.Portrait), r.ModelID, r.TemplateVersion, len(r.Template), len(r.Quality),
			fmtTime(r.Capture.CapturedAt), r.Capture.Operator, forced)
		p("      approved by %s at %s\n", r.Approval.SupervisorID, fmtTime(r.Approval.SignedAt))
	}
	p("checks       header signature, decryption, manifest signature, %d member hashes, trailer,\n", len(b.Records)*len(memberNames))
	p("             sequence and chain, batch completeness, %d approvals, %d identities against the schema: all OK\n", len(b.Records), len(b.Records))
	_, err := io.WriteString(w, sb.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteRecords writes a verified bundle's records under dir: manifest.json, and per record
// a directory named by its enrollment ID holding its six members byte for byte
// (identity.json, portrait.jpg, template.bin, quality.json, capture.json, approval.json).
func WriteRecords(dir string, b *Bundle) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("exporter: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b.Manifest, 0o600); err != nil {
		return fmt.Errorf("exporter: %w", err)
	}
	for _, r := range b.Records {
		if !validID.MatchString(r.EnrollmentID) { // Open already checked; file names must be safe
			return fmt.Errorf("exporter: unsafe enrollment ID %q", r.EnrollmentID)
		}
		mem, err := encodeMembers(r, uint16(b.Version))
		if err != nil {
			return err
		}
		rd := filepath.Join(dir, r.EnrollmentID)
		if err := os.MkdirAll(rd, 0o700); err != nil {
			return fmt.Errorf("exporter: %w", err)
		}
		for i, name := range memberNames {
			if err := os.WriteFile(filepath.Join(rd, name), mem[i], 0o600); err != nil {
				return fmt.Errorf("exporter: %w", err)
			}
		}
	}
	return nil
}
