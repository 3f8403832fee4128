package exporter

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

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

// Escape makes text from a bundle safe to print on a terminal: every character that is
// not graphic (control characters, terminal escapes, bidirectional overrides, zero-width
// characters) and the backslash become \uXXXX escapes, so nothing in a bundle can move
// the cursor, recolour or reorder what the issuer's screen shows.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if !unicode.IsGraphic(r) || r == '\\' || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsGraphic(r) && r != '\\' && r != utf8.RuneError {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

// WriteReport writes the human-readable report of a verified bundle, as
// `enrollstation verify` prints it.
func WriteReport(w io.Writer, b *Bundle) error {
	var sb strings.Builder
	p := func(format string, args ...any) {
		for i, a := range args { // everything a bundle says is escaped before it is printed
			if s, ok := a.(string); ok {
				args[i] = Escape(s)
			}
		}
		fmt.Fprintf(&sb, format, args...)
	}
	p("bundle       %s (format %d)\n", b.ID, b.Version)
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
	if b.Version >= formatVersion {
		p("roster       %d supervisor keys, each certified by the station\n", len(b.Roster))
		for _, e := range b.Roster {
			state := string(e.Status) + " since " + fmtTime(e.Created)
			if e.Status != KeyActive {
				state = fmt.Sprintf("%s %s (%s)", e.Status, fmtTime(e.EndedAt), e.Reason)
				if e.ReplacedBy != "" {
					state += ", replaced by " + e.ReplacedBy[:16]
				}
			}
			p("  %s  %s  key %s  %s\n", e.SupervisorID, e.DisplayName, KeyID(e.PublicKey)[:16], state)
		}
		p("issuer keys  %d changes since the previous bundle\n", len(b.IssuerKeyChanges))
		for _, c := range b.IssuerKeyChanges {
			p("  %s  %s → %s  by %s  %s\n", fmtTime(c.ChangedAt), orDash(hexOrEmpty(c.PreviousKeyID)), Fingerprint(c.KeyID), strings.Join(c.ApprovedBy, ", "), c.Reason)
		}
	}
	p("records      %d\n", len(b.Records))
	for _, r := range b.Records {
		forced := ""
		if r.Capture.ForcedReason != "" {
			forced = ", forced: " + r.Capture.ForcedReason
		}
		p("  %s  %s, %s  born %s  %s  %s  application %s\n", r.EnrollmentID, r.Identity.FamilyName, r.Identity.GivenNames,
			r.Identity.DateOfBirth, r.Identity.Sex, r.Identity.Nationality, orDash(r.Identity.ApplicationNumber))
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

func hexOrEmpty(id [32]byte) string {
	if id == ([32]byte{}) {
		return ""
	}
	return Fingerprint(id)
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
