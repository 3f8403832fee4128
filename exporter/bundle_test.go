package exporter

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip200Photos(t *testing.T) {
	f := newFixture(t)
	recs := f.photoRecords(t, 200)
	p := f.params(recs, 5, bytes.Repeat([]byte{1}, 32))
	data, res := f.build(t, p)
	if res.Size != int64(len(data)) || res.SHA256 != sha256.Sum256(data) || res.Records != 200 || res.Seq != 5 {
		t.Fatalf("result %+v does not describe the %d-byte bundle", res, len(data))
	}
	b, err := f.open(data, OpenOptions{AfterSeq: 4, PrevHash: p.PrevHash})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if b.ID != res.BundleID || b.SHA256 != res.SHA256 || b.Size != res.Size || b.Seq != 5 {
		t.Errorf("bundle %s seq %d sha %x size %d, want %s 5 %x %d", b.ID, b.Seq, b.SHA256, b.Size, res.BundleID, res.SHA256, res.Size)
	}
	if !bytes.Equal(b.PrevHash, p.PrevHash) || !reflect.DeepEqual(b.Batch, p.Batch) || !reflect.DeepEqual(b.Audit, p.Audit) || !b.Created.Equal(p.Created) {
		t.Errorf("bundle metadata differs:\n got %+v %+v %v\nwant %+v %+v %v", b.Batch, b.Audit, b.Created, p.Batch, p.Audit, p.Created)
	}
	if len(b.Records) != len(recs) {
		t.Fatalf("%d records, want %d", len(b.Records), len(recs))
	}
	for i := range recs {
		if !reflect.DeepEqual(b.Records[i], recs[i]) {
			t.Errorf("record %d differs:\n got %+v\nwant %+v", i, b.Records[i].Identity, recs[i].Identity)
		}
		if !bytes.Equal(b.Records[i].Portrait, recs[i].Portrait) {
			t.Errorf("record %d portrait bytes differ", i)
		}
	}
}

func TestRoundTripEdgeSizes(t *testing.T) {
	f := newFixture(t)
	// Payload sizes around chunk boundaries exercise the final-chunk logic.
	base := f.synthRecords(t, 1, 16)
	for _, extra := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize} {
		r := base[0]
		r.Template = bytes.Repeat([]byte{7}, extra)
		r = f.approve(t, r)
		data, _ := f.build(t, f.params([]Record{r}, 1, nil))
		b, err := f.open(data, OpenOptions{})
		if err != nil {
			t.Fatalf("template of %d bytes: %v", extra, err)
		}
		if !reflect.DeepEqual(b.Records[0], r) {
			t.Fatalf("template of %d bytes: record differs", extra)
		}
	}
	// An empty bundle (no records) is valid too.
	p := f.params(nil, 1, nil)
	data, _ := f.build(t, p)
	if b, err := f.open(data, OpenOptions{}); err != nil || len(b.Records) != 0 {
		t.Fatalf("empty bundle: %v", err)
	}
}

// isAny reports whether err wraps one of the targets.
func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func TestTamperSingleByte(t *testing.T) {
	f := newFixture(t)
	recs := f.synthRecords(t, 3, 320) // more than 2 chunks of payload
	data, _ := f.build(t, f.params(recs, 3, nil))
	if _, err := f.open(data, OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	hl := int(data[10])<<24 | int(data[11])<<16 | int(data[12])<<8 | int(data[13])
	ctStart := preambleSize + hl
	// Find the trailer: its length prefix precedes the last tl bytes.
	var ctEnd int
	for i := len(data) - 5; i > ctStart; i-- {
		tl := int(data[i])<<24 | int(data[i+1])<<16 | int(data[i+2])<<8 | int(data[i+3])
		if i+4+tl == len(data) {
			ctEnd = i
			break
		}
	}
	if ctEnd == 0 || (ctEnd-ctStart) < 2*(chunkSize+tagSize) {
		t.Fatalf("bad layout: ciphertext %d..%d", ctStart, ctEnd)
	}
	regions := []struct {
		name     string
		from, to int
		want     []error
	}{
		{"preamble", 0, preambleSize, []error{ErrMalformed, ErrUnsupported, ErrTooLarge, ErrTruncated}},
		{"header", preambleSize, ctStart, []error{ErrBadSignature, ErrMalformed, ErrUnsupported, ErrWrongStation}},
		{"ciphertext", ctStart, ctEnd, []error{ErrTampered}},
		{"trailer", ctEnd, len(data), []error{ErrBadSignature, ErrMalformed, ErrUnsupported, ErrTooLarge, ErrTruncated}},
	}
	for _, reg := range regions {
		// Every byte of the cleartext parts; a spread of offsets (both ends and about 60 in
		// between) of the ciphertext, where every byte is equally covered by its chunk's tag.
		offs := map[int]bool{reg.from: true, reg.to - 1: true}
		step := 1
		if reg.name == "ciphertext" {
			step = max(1, (reg.to-reg.from)/60)
		}
		for o := reg.from; o < reg.to; o += step {
			offs[o] = true
		}
		if reg.name == "ciphertext" {
			for _, o := range []int{chunkSize + tagSize - 1, chunkSize + tagSize, 2*(chunkSize+tagSize) - 1} {
				offs[ctStart+o] = true
			}
		}
		for o := range offs {
			for _, mask := range []byte{0x01, 0x80} {
				bad := bytes.Clone(data)
				bad[o] ^= mask
				_, err := f.open(bad, OpenOptions{})
				if !isAny(err, reg.want...) {
					t.Errorf("%s: flipping byte %d (mask %#x): got %v, want one of %v", reg.name, o, mask, err, reg.want)
				}
			}
		}
	}
}

func TestTamperAndPolicyErrors(t *testing.T) {
	f := newFixture(t)
	recs := f.synthRecords(t, 4, 64)
	prev := bytes.Repeat([]byte{9}, 32)
	data, _ := f.build(t, f.params(recs, 10, prev))
	other := newFixture(t)

	dropped := f.params(recs, 10, prev)
	dropped.dropFromPayload = recs[2].EnrollmentID
	droppedData, _ := f.build(t, dropped)

	badApproval := slices.Clone(recs)
	badApproval[1].Approval.Signature = other.approve(t, recs[1]).Approval.Signature // right format, wrong key
	pa := f.params(badApproval, 10, prev)
	pa.skipRecordChecks = true
	badApprovalData, _ := f.build(t, pa)

	badSchema := slices.Clone(recs)
	badSchema[3].Identity.Sex = "female"
	badSchema[3] = f.approve(t, badSchema[3])
	ps := f.params(badSchema, 10, prev)
	ps.skipRecordChecks = true
	badSchemaData, _ := f.build(t, ps)

	tests := []struct {
		name string
		data []byte
		open func([]byte) (*Bundle, error)
		want error
	}{
		{"wrong issuer key", data, func(d []byte) (*Bundle, error) {
			return Open(bytes.NewReader(d), other.issuer, &f.station.PublicKey, OpenOptions{})
		}, ErrWrongIssuer},
		{"wrong station key", data, func(d []byte) (*Bundle, error) {
			return Open(bytes.NewReader(d), f.issuer, &other.station.PublicKey, OpenOptions{})
		}, ErrWrongStation},
		{"replayed sequence", data, func(d []byte) (*Bundle, error) { return f.open(d, OpenOptions{AfterSeq: 10}) }, ErrReplay},
		{"older sequence", data, func(d []byte) (*Bundle, error) { return f.open(d, OpenOptions{AfterSeq: 11}) }, ErrReplay},
		{"broken chain", data, func(d []byte) (*Bundle, error) {
			return f.open(d, OpenOptions{AfterSeq: 9, PrevHash: bytes.Repeat([]byte{8}, 32)})
		}, ErrChain},
		{"removed record", droppedData, func(d []byte) (*Bundle, error) { return f.open(d, OpenOptions{}) }, ErrMissingRecord},
		{"bad approval", badApprovalData, func(d []byte) (*Bundle, error) { return f.open(d, OpenOptions{}) }, ErrBadSignature},
		{"identity fails schema", badSchemaData, func(d []byte) (*Bundle, error) { return f.open(d, OpenOptions{}) }, ErrSchema},
		{"appended byte", append(bytes.Clone(data), 0), func(d []byte) (*Bundle, error) { return f.open(d, OpenOptions{}) }, ErrMalformed},
		{"empty input", nil, func(d []byte) (*Bundle, error) { return f.open(d, OpenOptions{}) }, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.open(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	var me *MissingRecordError
	if _, err := f.open(droppedData, OpenOptions{}); !errors.As(err, &me) || len(me.EnrollmentIDs) != 1 || me.EnrollmentIDs[0] != recs[2].EnrollmentID {
		t.Errorf("removed record: got %v, want it to name %s", err, recs[2].EnrollmentID)
	}
	var se *SignatureError
	if _, err := f.open(badApprovalData, OpenOptions{}); !errors.As(err, &se) || se.What != "approval of record "+recs[1].EnrollmentID {
		t.Errorf("bad approval: got %v, want it to name record %s", err, recs[1].EnrollmentID)
	}
	// The chain check passes with the right predecessor.
	if _, err := f.open(data, OpenOptions{AfterSeq: 9, PrevHash: prev}); err != nil {
		t.Errorf("right predecessor: %v", err)
	}
}

func TestTruncation(t *testing.T) {
	f := newFixture(t)
	data, _ := f.build(t, f.params(f.synthRecords(t, 2, 160), 1, nil))
	for _, n := range []int{0, 5, preambleSize, preambleSize + 10, 2000, len(data) / 2, len(data) - 200, len(data) - 4, len(data) - 1} {
		_, err := f.open(data[:n], OpenOptions{})
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d of %d: got %v, want ErrTruncated", n, len(data), err)
		}
	}
	// Cutting at every chunk boundary must also fail (a whole chunk dropped is no shorter file).
	hl := int(data[10])<<24 | int(data[11])<<16 | int(data[12])<<8 | int(data[13])
	for k := 1; k <= 3; k++ {
		n := preambleSize + hl + k*(chunkSize+tagSize)
		if n >= len(data) {
			break
		}
		if _, err := f.open(data[:n], OpenOptions{}); !errors.Is(err, ErrTruncated) {
			t.Errorf("cut after chunk %d: got %v, want ErrTruncated", k, err)
		}
	}
}

func TestBuildRefusesBadRecords(t *testing.T) {
	f := newFixture(t)
	good := f.synthRecords(t, 2, 16)
	tests := []struct {
		name  string
		edit  func(p *BuildParams, r []Record)
		want  error
		wantS string
	}{
		{"unsigned approval", func(p *BuildParams, r []Record) { r[0].Approval.Signature = nil }, ErrBadSignature, ""},
		{"changed after approval", func(p *BuildParams, r []Record) { r[1].Portrait = append(bytes.Clone(r[1].Portrait), 0) }, ErrBadSignature, ""},
		{"schema", func(p *BuildParams, r []Record) { r[0].Identity.DateOfBirth = "1990-02-30"; r[0] = f.approve(t, r[0]) }, ErrSchema, ""},
		{"batch lists a missing record", func(p *BuildParams, r []Record) { p.Batch.EnrollmentIDs = append(p.Batch.EnrollmentIDs, "E-99999") }, ErrMissingRecord, ""},
		{"bad enrollment ID", func(p *BuildParams, r []Record) {
			r[0].EnrollmentID = "../etc"
			p.Batch.EnrollmentIDs = []string{"../etc", r[1].EnrollmentID}
		}, nil, "enrollment ID"},
		{"duplicate", func(p *BuildParams, r []Record) {
			r[1].EnrollmentID = r[0].EnrollmentID
			r[1] = f.approve(t, r[1])
			p.Batch.EnrollmentIDs = []string{r[0].EnrollmentID}
		}, nil, "twice"},
		{"zero sequence", func(p *BuildParams, r []Record) { p.Seq = 0 }, nil, "sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := slices.Clone(good)
			p := f.params(recs, 1, nil)
			tt.edit(&p, recs)
			p.Records = Records(recs)
			var out bytes.Buffer
			_, err := Build(&out, p)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || (tt.wantS != "" && !bytes.Contains([]byte(err.Error()), []byte(tt.wantS))) {
				t.Fatalf("got %v, want %v %q", err, tt.want, tt.wantS)
			}
		})
	}
}

func TestOpenOnRecordStreams(t *testing.T) {
	f := newFixture(t)
	recs := f.synthRecords(t, 5, 32)
	data, _ := f.build(t, f.params(recs, 1, nil))
	var got []Record
	b, err := f.open(data, OpenOptions{OnRecord: func(r Record) error { got = append(got, r); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 0 || !reflect.DeepEqual(got, recs) {
		t.Fatalf("streamed %d records (kept %d): %v", len(got), len(b.Records), err)
	}
	stop := errors.New("stop")
	if _, err := f.open(data, OpenOptions{OnRecord: func(Record) error { return stop }}); err != stop {
		t.Fatalf("OnRecord error: got %v", err)
	}
}

func TestSignApproval(t *testing.T) {
	f := newFixture(t)
	r := f.synthRecords(t, 1, 16)[0]
	r.Approval = Approval{}
	a, err := SignApproval(r, f.supervisor, f.stationID(t), "sup-7", time.Date(2026, 11, 25, 10, 0, 0, 0, time.FixedZone("HKT", 8*3600)))
	if err != nil {
		t.Fatal(err)
	}
	r.Approval = a
	if err := VerifyApproval(r, f.stationID(t)); err != nil || a.SupervisorID != "sup-7" || a.SignedAt.Location() != time.UTC {
		t.Fatalf("%+v: %v", a, err)
	}
	// The statement covers the identity, portrait, template and capture, so any change
	// breaks it (the quality vector and model are covered by the manifest signature).
	for name, edit := range map[string]func(*Record){
		"identity":  func(r *Record) { r.Identity.GivenNames += "x" },
		"portrait":  func(r *Record) { r.Portrait = append(slices.Clone(r.Portrait), 0) },
		"template":  func(r *Record) { r.Template = slices.Clone(r.Template); r.Template[0] ^= 1 },
		"capture":   func(r *Record) { r.Capture.Retries++ },
		"id":        func(r *Record) { r.EnrollmentID += "0" },
		"signed_at": func(r *Record) { r.Approval.SignedAt = r.Approval.SignedAt.Add(time.Hour) },
	} {
		c := r
		edit(&c)
		if err := VerifyApproval(c, f.stationID(t)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	if err := VerifyApproval(r, strings.Repeat("0", 64)); Reason(err) != CodeApprovalStation {
		t.Errorf("another station: %v", err)
	}
}

// changingSource returns a different quality vector the second time record 1 is read
// (the portrait's hash comes from the signed statement, which reports differently).
type changingSource struct {
	recs  []Record
	reads map[int]int
}

func (c *changingSource) Len() int { return len(c.recs) }
func (c *changingSource) Record(i int) (Record, error) {
	c.reads[i]++
	r := c.recs[i]
	if i == 1 && c.reads[i] > 1 {
		r.Quality = slices.Clone(r.Quality)
		r.Quality[0].Scalar++
	}
	return r, nil
}

func TestBuildDetectsSourceChangingBetweenPasses(t *testing.T) {
	f := newFixture(t)
	recs := f.synthRecords(t, 3, 16)
	p := f.params(recs, 1, nil)
	src := &changingSource{recs: recs, reads: map[int]int{}}
	p.Records = src
	var out bytes.Buffer
	if _, err := Build(&out, p); err == nil || !strings.Contains(err.Error(), "changed while exporting") {
		t.Fatalf("got %v, want a changed-record error", err)
	}
	// A stable source works, and is read exactly twice per record.
	src = &changingSource{recs: recs[:1], reads: map[int]int{}}
	p = f.params(recs[:1], 1, nil)
	p.Records = src
	data, _ := f.build(t, p)
	if _, err := f.open(data, OpenOptions{}); err != nil || src.reads[0] != 2 {
		t.Fatalf("stable source: %d reads, %v", src.reads[0], err)
	}
}

// secondReadSource applies edit to record 1 from its second read on.
type secondReadSource struct {
	recs  []Record
	reads map[int]int
	edit  func(*Record)
}

func (s *secondReadSource) Len() int { return len(s.recs) }
func (s *secondReadSource) Record(i int) (Record, error) {
	s.reads[i]++
	r := s.recs[i]
	if i == 1 && s.reads[i] > 1 {
		s.edit(&r)
	}
	return r, nil
}

// With statement approvals pass 1 takes the portrait and template hashes from the signed
// statement and pass 2 hashes the streamed bytes: a source that changes in between, or an
// in-memory record whose portrait no longer matches its statement, must fail the build
// before the bundle is complete, never produce a bundle naming other bytes.
func TestBuildVerifiesStatementHashesWhileStreaming(t *testing.T) {
	f := newFixture(t)
	recs := f.synthRecords(t, 3, 16)
	for i := range recs {
		recs[i] = f.statementApproval(t, recs[i], recs[i].EnrollmentID)
	}
	for _, tc := range []struct {
		name   string
		edit   func(*Record)
		wantIs error  // nil: want the "changed while exporting" error
		member string // named in the error
	}{
		{"portrait", func(r *Record) { r.Portrait = append(slices.Clone(r.Portrait), 0xff) }, ErrBadSignature, MemberPortrait},
		{"template", func(r *Record) { r.Template = slices.Clone(r.Template); r.Template[0] ^= 1 }, ErrBadSignature, MemberTemplate},
		{"identity", func(r *Record) { r.Identity.FamilyName += "X" }, nil, MemberIdentity},
		{"quality", func(r *Record) { r.Quality = slices.Clone(r.Quality); r.Quality[0].Scalar++ }, nil, MemberQuality},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := f.params(recs, 1, nil)
			p.Records = &secondReadSource{recs: recs, reads: map[int]int{}, edit: tc.edit}
			var out bytes.Buffer
			_, err := Build(&out, p)
			switch {
			case err == nil:
				t.Fatal("Build succeeded with a record that changed between the passes")
			case tc.wantIs != nil && !errors.Is(err, tc.wantIs):
				t.Fatalf("got %v, want %v", err, tc.wantIs)
			case tc.wantIs == nil && !strings.Contains(err.Error(), "changed while exporting"):
				t.Fatalf("got %v, want a changed-record error", err)
			case !strings.Contains(err.Error(), tc.member):
				t.Fatalf("error %q does not name %s", err, tc.member)
			}
			if _, err := f.open(out.Bytes(), OpenOptions{}); err == nil {
				t.Fatal("the partial output of a failed build opens as a bundle")
			}
		})
	}
	// The same records, unchanged, stream from a source and round-trip.
	p := f.params(recs, 1, nil)
	p.Records = &secondReadSource{recs: recs, reads: map[int]int{}, edit: func(*Record) {}}
	data, _ := f.build(t, p)
	b, err := f.open(data, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Records, recs) {
		t.Fatal("records differ after the round trip")
	}
}

// statementApproval signs an approval statement over r's data naming enrollment id.
func (f fixture) statementApproval(t testing.TB, r Record, id string) Record {
	t.Helper()
	rr := r
	rr.EnrollmentID = id
	a, err := SignApproval(rr, f.supervisor, f.stationID(t), "supervisor1", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	r.Approval = a
	return r
}

func TestStatementApprovals(t *testing.T) {
	f := newFixture(t)
	recs := f.synthRecords(t, 3, 32)
	for i := range recs {
		recs[i] = f.statementApproval(t, recs[i], recs[i].EnrollmentID)
	}
	data, _ := f.build(t, f.params(recs, 1, nil))
	b, err := f.open(data, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Records, recs) {
		t.Fatal("records with statement approvals differ after the round trip")
	}
	for _, tc := range []struct {
		name string
		edit func(r []Record)
		want string // in the error
	}{
		{"statement for another record", func(r []Record) { r[1] = f.statementApproval(t, r[1], r[0].EnrollmentID) }, "another enrollment"},
		{"portrait changed after signing", func(r []Record) { r[2].Portrait = append(slices.Clone(r[2].Portrait), 1) }, "another portrait.jpg"},
		{"statement edited", func(r []Record) {
			r[0].Approval.Statement = bytes.Replace(r[0].Approval.Statement, []byte("supervisor1"), []byte("supervisor2"), 1)
		}, "approval of record " + recs[0].EnrollmentID},
		// The supervisor approved these identity and capture values: a station that
		// changes them afterwards must not get them past the issuer.
		{"identity changed after signing", func(r []Record) { r[1].Identity.FamilyName = "MALLORY" }, "identity.json family_name"},
		{"address changed after signing", func(r []Record) {
			r[1].Identity.Address.Lines = append(slices.Clone(r[1].Identity.Address.Lines), "Flat 9")
		}, "identity.json address.lines"},
		{"operator changed after signing", func(r []Record) { r[2].Capture.Operator = "clerk9" }, "capture.json operator"},
		{"capture time moved after signing", func(r []Record) { r[2].Capture.CapturedAt = r[2].Capture.CapturedAt.Add(time.Second) }, "capture.json captured_at"},
		{"forced reason dropped after signing", func(r []Record) {
			r[0] = f.statementApproval(t, withForcedReason(r[0], "applicant wears a medical eye patch"), r[0].EnrollmentID)
			r[0].Capture.ForcedReason = ""
		}, "capture.json forced_reason"},
	} {
		bad := slices.Clone(recs)
		tc.edit(bad)
		var out bytes.Buffer
		if _, err := Build(&out, f.params(bad, 1, nil)); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Build: %v, want ErrBadSignature naming %q", tc.name, err, tc.want)
		}
		p := f.params(bad, 1, nil)
		p.skipRecordChecks = true
		data, _ := f.build(t, p)
		if _, err := f.open(data, OpenOptions{}); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Open: %v, want ErrBadSignature naming %q", tc.name, err, tc.want)
		}
	}
}

func withForcedReason(r Record, reason string) Record {
	r.Capture.ForcedReason = reason
	return r
}

// strictSigner behaves like a TPM-backed key: it signs SHA-256 digests only and refuses
// nil options (go-cose's own crypto.Signer adapter passes nil).
type strictSigner struct{ k *ecdsa.PrivateKey }

func (s strictSigner) Public() crypto.PublicKey { return &s.k.PublicKey }
func (s strictSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	if o == nil || o.HashFunc() != crypto.SHA256 || len(d) != 32 {
		return nil, errors.New("signs SHA-256 digests only")
	}
	return s.k.Sign(r, d, o)
}

func TestBuildWithTPMStyleSigner(t *testing.T) {
	f := newFixture(t)
	p := f.params(f.synthRecords(t, 2, 16), 1, nil)
	p.StationSigner = strictSigner{f.station}
	data, _ := f.build(t, p)
	if _, err := f.open(data, OpenOptions{}); err != nil {
		t.Fatal(err)
	}
}
