package exporter

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"
)

// tamperCase makes a bundle that is correctly signed and encrypted by the station, as a
// compromised or faulty station could send, but breaks one rule of the reader profile.
type tamperCase struct {
	name     string
	members  func(i int, mem *[len(memberNames)][]byte) // edit record i's member bytes
	manifest func(m *manifest)                          // edit the decoded manifest
	raw      func(mj []byte) []byte                     // edit the manifest bytes last
	header   func(h *header)
	want     string // reason code
}

// resealed builds recs, then rebuilds the bundle with tc's edits applied: member hashes
// and sizes in the manifest follow the edited members, so only tc's rule is broken.
func (f fixture) resealed(t *testing.T, p BuildParams, tc tamperCase) []byte {
	t.Helper()
	data, _ := f.build(t, p)
	b, err := f.open(data, OpenOptions{})
	if err != nil {
		t.Fatalf("the unedited bundle does not open: %v", err)
	}
	var m manifest
	if err := decodeStrict(b.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	var members []byte
	for i, r := range b.Records {
		mem, err := encodeMembers(r, formatVersion)
		if err != nil {
			t.Fatal(err)
		}
		if tc.members != nil {
			tc.members(i, &mem)
		}
		for j := range mem {
			sum := sha256.Sum256(mem[j])
			m.Records[i].Members[j].Size, m.Records[i].Members[j].SHA256 = int64(len(mem[j])), hex.EncodeToString(sum[:])
			members = append(members, mem[j]...)
		}
	}
	if tc.manifest != nil {
		tc.manifest(&m)
	}
	mj, err := canonicalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	if tc.raw != nil {
		mj = tc.raw(mj)
	}
	sid := f.stationID(t)
	mj = bytes.ReplaceAll(bytes.ReplaceAll(mj, []byte(b.ID), []byte("BUNDLEID")), []byte(`"station_id":"`+sid+`"`), []byte(`"station_id":"STATIONID"`))
	return sealRawHeader(t, f, mj, members, tc.header)
}

func replaceOnce(old, new string) func([]byte) []byte {
	return func(b []byte) []byte {
		if !bytes.Contains(b, []byte(old)) {
			panic("test: " + old + " not found")
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

// tamperCases are the reader-profile holes, each with the reason code it is refused with.
func tamperCases() []tamperCase {
	return []tamperCase{
		{name: "case-variant key in capture.json", want: "json-unknown-field", members: func(i int, mem *[6][]byte) {
			if i == 0 {
				mem[4] = replaceOnce(`"operator":"clerk1"`, `"OPERATOR":"clerk1","operator":"clerk1"`)(mem[4])
			}
		}},
		{name: "duplicate key in the manifest", want: "json-duplicate-key", raw: func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte(`"seq":"`)) // the manifest's own, after the roster
			return append(append(bytes.Clone(b[:i]), `"seq":"9",`...), b[i:]...)
		}},
		{name: "duplicate family_name in identity.json", want: "json-duplicate-key", members: func(i int, mem *[6][]byte) {
			if i == 1 {
				mem[0] = replaceOnce(`"family_name":`, `"family_name":"Mallory","family_name":`)(mem[0])
			}
		}},
		{name: "non-canonical identity.json", want: "json-non-canonical", members: func(i int, mem *[6][]byte) {
			if i == 1 {
				mem[0] = append([]byte(" "), mem[0]...)
			}
		}},
		{name: "non-canonical manifest", want: "json-non-canonical", raw: func(b []byte) []byte { return append(b, '\n') }},
		{name: "member absent from capture.json", want: "json-missing-field", members: func(i int, mem *[6][]byte) {
			if i == 0 {
				mem[4] = replaceOnce(`"forced_reason":"",`, ``)(mem[4])
			}
		}},
		{name: "batch ID ../b", want: "bad-id", manifest: func(m *manifest) { m.Batch.ID = "../b" }},
		{name: "empty enrollment list with records", want: "batch-mismatch", manifest: func(m *manifest) { m.Batch.EnrollmentIDs = []string{} }},
		{name: "record outside the batch", want: "batch-mismatch", manifest: func(m *manifest) { m.Batch.EnrollmentIDs = m.Batch.EnrollmentIDs[:len(m.Batch.EnrollmentIDs)-1] }},
		{name: "bad header created", want: "bad-time", header: func(h *header) { h.Created = "2026-11-25 12:00:00" }},
		{name: "header created with an offset", want: "bad-time", header: func(h *header) { h.Created = "2026-11-25T20:00:00+08:00" }},
		{name: "bad manifest created", want: "bad-time", manifest: func(m *manifest) { m.Created = "yesterday" }},
		{name: "uppercase hex", want: "bad-hex", manifest: func(m *manifest) {
			m.Records[0].Members[1].SHA256 = strings.ToUpper(m.Records[0].Members[1].SHA256)
		}},
		{name: "roster entry not certified by the station", want: "bad-signature", manifest: func(m *manifest) {
			(*m.Roster)[0].DisplayName = "Someone Else"
		}},
	}
}

// TestStrictReader checks every hole of the v1 reader is refused with its reason code.
func TestStrictReader(t *testing.T) {
	f := newFixture(t)
	recs := f.synthRecords(t, 3, 16)
	for _, tc := range tamperCases() {
		t.Run(tc.name, func(t *testing.T) {
			data := f.resealed(t, f.params(recs, 1, nil), tc)
			_, err := f.open(data, OpenOptions{})
			if got := Reason(err); got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

// approvalKeyCase edits a bundle's records or roster so that an approval must not verify.
type approvalKeyCase struct {
	name string
	edit func(p *BuildParams, r []Record)
	want string
}

// approvalKeyCases are the approval-key holes of format v1: keys the station never
// registered, approvals moved between stations, keys used after replacement.
func approvalKeyCases(t testing.TB, f fixture) []approvalKeyCase {
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	at := time.Date(2026, 11, 25, 10, 30, 0, 5, time.UTC)
	signAs := func(r Record, k *ecdsa.PrivateKey, station, sup string) Record {
		a, err := SignApproval(r, k, station, sup, at)
		if err != nil {
			t.Fatal(err)
		}
		r.Approval = a
		return r
	}
	other := newFixture(t) // another station
	otherID := other.stationID(t)
	return []approvalKeyCase{
		{"foreign key, never registered", func(p *BuildParams, r []Record) {
			r[1] = signAs(r[1], stranger, f.stationID(t), "supervisor1")
		}, CodeUnregisteredKey},
		{"registered key under another supervisor's name", func(p *BuildParams, r []Record) {
			p.Roster = append(p.Roster, rosterEntry("supervisor2", stranger))
			r[1] = signAs(r[1], stranger, f.stationID(t), "supervisor1")
		}, CodeUnregisteredKey},
		{"approval moved from another station", func(p *BuildParams, r []Record) {
			// Genuine approval by a supervisor of station B, whose key this station
			// also lists: the statement names station B.
			r[0] = signAs(r[0], f.supervisor, otherID, "supervisor1")
		}, CodeApprovalStation},
		{"replaced key used after its replacement", func(p *BuildParams, r []Record) {
			old := rosterEntry("supervisor1", f.supervisor)
			old.Status, old.EndedAt, old.Reason = KeyReplaced, at.Add(-time.Minute), "password reset"
			nw := rosterEntry("supervisor1", stranger)
			nw.Created = old.EndedAt
			old.ReplacedBy = KeyID(nw.PublicKey)
			p.Roster = []RosterEntry{old, nw}
		}, CodeKeyReplaced},
		{"revoked key", func(p *BuildParams, r []Record) {
			old := rosterEntry("supervisor1", f.supervisor)
			old.Status, old.EndedAt, old.Reason = KeyRevoked, at.Add(-time.Second), "account removed"
			p.Roster = []RosterEntry{old}
		}, CodeKeyRevoked},
	}
}

// TestApprovalKeys checks approvals verify only against the station's roster.
func TestApprovalKeys(t *testing.T) {
	f := newFixture(t)
	recs := f.synthRecords(t, 2, 16)
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	at := time.Date(2026, 11, 25, 10, 30, 0, 5, time.UTC)
	for _, tt := range approvalKeyCases(t, f) {
		t.Run(tt.name, func(t *testing.T) {
			bad := append([]Record(nil), recs...)
			p := f.params(bad, 1, nil)
			tt.edit(&p, bad)
			p.Records = Records(bad)
			var out bytes.Buffer
			if _, err := Build(&out, p); Reason(err) != tt.want {
				t.Errorf("Build: reason %q (%v), want %q", Reason(err), err, tt.want)
			}
			p.skipRecordChecks = true
			data, _ := f.build(t, p)
			if _, err := f.open(data, OpenOptions{}); Reason(err) != tt.want {
				t.Errorf("Open: reason %q (%v), want %q", Reason(err), err, tt.want)
			}
		})
	}
	// A key replaced after the approval still verifies it: the approval was made while
	// the key was in service.
	old := rosterEntry("supervisor1", f.supervisor)
	old.Status, old.EndedAt, old.Reason = KeyReplaced, at.Add(time.Hour), "password reset"
	nw := rosterEntry("supervisor1", stranger)
	nw.Created = old.EndedAt
	old.ReplacedBy = KeyID(nw.PublicKey)
	p := f.params(recs, 1, nil)
	p.Roster = []RosterEntry{old, nw}
	data, _ := f.build(t, p)
	b, err := f.open(data, OpenOptions{})
	if err != nil || len(b.Roster) != 2 || b.Roster[0].Status != KeyReplaced {
		t.Fatalf("approval made before the replacement: %v", err)
	}
}

// TestHeaderSignatureBeforeParsing: a header whose signature fails is refused as such,
// whatever its JSON says.
func TestHeaderSignatureBeforeParsing(t *testing.T) {
	f := newFixture(t)
	data, _ := f.build(t, f.params(f.synthRecords(t, 1, 16), 1, nil))
	other := newFixture(t)
	if _, err := Open(bytes.NewReader(data), f.issuer, &other.station.PublicKey, OpenOptions{}); Reason(err) != "wrong-station" {
		t.Fatalf("another station's key: %v", err)
	}
	// Flip a byte inside the signed header payload: the signature fails first.
	hl := int(data[10])<<24 | int(data[11])<<16 | int(data[12])<<8 | int(data[13])
	bad := bytes.Clone(data)
	i := bytes.Index(bad[:preambleSize+hl], []byte(`"format"`))
	bad[i+1] = 'F'
	if _, err := f.open(bad, OpenOptions{}); Reason(err) != "bad-signature" {
		t.Fatalf("edited header: %v", err)
	}
}

// TestReportEscapesText: free text from a bundle reaches the issuer's terminal escaped,
// and schema errors name the field, never the citizen's value.
func TestReportEscapesText(t *testing.T) {
	f := newFixture(t)
	recs := f.synthRecords(t, 1, 16)
	recs[0].Capture.ForcedReason = "\x1b]0;owned\x07\x1b[2J medical \u202eeye patch"
	recs[0] = f.approve(t, recs[0])
	data, _ := f.build(t, f.params(recs, 1, nil))
	b, err := f.open(data, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	WriteReport(&out, b)
	for _, c := range "\x1b\x07\u202e" {
		if strings.ContainsRune(out.String(), c) {
			t.Fatalf("report carries %U:\n%q", c, out.String())
		}
	}
	if !strings.Contains(out.String(), `\u001b]0;owned\u0007\u001b[2J medical \u202eeye patch`) {
		t.Errorf("escaped reason not shown: %q", out.String())
	}

	secret := "Mallory\x1b[31m-SECRET"
	bad := f.synthRecords(t, 1, 16)
	bad[0].Identity.FamilyName = secret
	p := f.params(bad, 1, nil)
	p.skipRecordChecks = true
	data, _ = f.build(t, p)
	_, err = f.open(data, OpenOptions{})
	if Reason(err) != "schema" || strings.Contains(err.Error(), "Mallory") || !strings.Contains(err.Error(), "/family_name") {
		t.Fatalf("schema error %q (%s): must name the field, not the value", err, Reason(err))
	}
}

// TestAckProtocol: an acknowledgement accounts for every record exactly once, comes
// after the last one imported, and a negative one names no records.
func TestAckProtocol(t *testing.T) {
	f := newFixture(t)
	data, _ := f.build(t, f.params(f.synthRecords(t, 3, 16), 1, nil))
	b, err := f.open(data, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{b.Records[0].EnrollmentID, b.Records[1].EnrollmentID, b.Records[2].EnrollmentID}
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	parse := func(raw []byte, err error) *Ack {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		a, err := ParseAck(raw, f.issuer.Public())
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	full := parse(Acknowledge(f.issuer, b, 7, map[string]Rejection{ids[1]: {Reason: "duplicate", Detail: "enrolled at counter 3"}}, now))
	if err := CheckAck(full, ids, 6); err != nil || full.Seq != 7 || full.BundleSeq != 1 || len(full.Accepted) != 2 || full.Rejected[0].Reason != "duplicate" {
		t.Fatalf("complete acknowledgement: %+v %v", full, err)
	}
	if err := CheckAck(full, ids, 7); Reason(err) != CodeAckReplay {
		t.Errorf("replayed: %v", err)
	}
	if err := CheckAck(full, append(ids, "E-4"), 0); Reason(err) != CodeAckIncomplete {
		t.Errorf("one of four records: %v", err)
	}
	if err := CheckAck(full, ids[:2], 0); Reason(err) != CodeAckExtra {
		t.Errorf("names a record not in the bundle: %v", err)
	}
	twice := *full
	twice.Accepted = append(slices.Clone(full.Accepted), ids[1])
	if err := CheckAck(&twice, ids, 0); Reason(err) != CodeAckExtra {
		t.Errorf("accepts and refuses one record: %v", err)
	}
	if _, err := Acknowledge(f.issuer, b, 8, map[string]Rejection{"E-NOT": {Reason: "other"}}, now); Reason(err) != CodeAckExtra {
		t.Errorf("refusing a record not in the bundle: %v", err)
	}
	if _, err := Acknowledge(f.issuer, b, 8, map[string]Rejection{ids[0]: {Reason: "looks odd"}}, now); err == nil {
		t.Error("a refusal reason outside the vocabulary was signed")
	}
	nack := parse(Refuse(f.issuer, BundleRef{ID: b.ID, SHA256: b.SHA256, StationID: b.StationID}, 9, "bad-signature", "approval of E-00001", now))
	if err := CheckAck(nack, ids, 8); err != nil || nack.Kind != AckNegative || nack.Reason != "bad-signature" || len(nack.Accepted) != 0 {
		t.Fatalf("negative acknowledgement: %+v %v", nack, err)
	}
	if _, err := Refuse(f.issuer, BundleRef{ID: b.ID}, 9, "because", "", now); err == nil {
		t.Error("a bundle refusal reason outside the vocabulary was signed")
	}
}
