package exporter

import (
	"bytes"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"regexp"
	"testing"
	"time"

	"enrollstation/exporter/internal/stream"
)

// sealRaw frames an arbitrary payload as a correctly signed and encrypted bundle, as a
// compromised or buggy station could: manifestJSON is signed as the manifest (with
// "BUNDLEID" and "STATIONID" replaced by the real values) and members follow it.
func sealRaw(t testing.TB, f fixture, manifestJSON, members []byte) []byte {
	t.Helper()
	return sealRawHeader(t, f, manifestJSON, members, nil)
}

// sealRawHeader is sealRaw with editHeader applied to the header before it is signed.
func sealRawHeader(t testing.TB, f fixture, manifestJSON, members []byte, editHeader func(*header)) []byte {
	t.Helper()
	stationID, _ := StationID(&f.station.PublicKey)
	sid := hex.EncodeToString(stationID[:])
	const bundleID = "00112233445566778899aabbccddeeff"
	mj := bytes.ReplaceAll(bytes.ReplaceAll(manifestJSON, []byte("BUNDLEID"), []byte(bundleID)), []byte("STATIONID"), []byte(sid))
	sm, err := sign1(rand.Reader, f.station, ctManifest, stationID[:], mj)
	if err != nil {
		t.Fatal(err)
	}
	payload := binary.BigEndian.AppendUint32(nil, uint32(len(sm)))
	payload = append(append(payload, sm...), members...)
	enc, sender, err := hpke.NewSender(f.issuer.Public().kem, suiteKDF, suiteAEAD, []byte(hpkeInfo))
	if err != nil {
		t.Fatal(err)
	}
	kid := f.issuer.Public().KeyID()
	h := header{Format: headerFormat, BundleID: bundleID, StationID: sid, IssuerKeyID: hex.EncodeToString(kid[:]),
		KEM: suiteKEM.ID(), KDF: suiteKDF.ID(), AEAD: suiteAEAD.ID(), Enc: enc, ChunkSize: chunkSize,
		PlaintextLength: int64(len(payload)), CiphertextLength: sealedLength(int64(len(payload))), Created: fmtTime(time.Now())}
	if m := regexp.MustCompile(`"created":"([^"]*)"`).FindSubmatch(manifestJSON); m != nil {
		h.Created = string(m[1]) // format 2: the header's created equals the manifest's
	}
	if editHeader != nil {
		editHeader(&h)
	}
	hj, _ := canonicalJSON(h)
	sh, err := sign1(rand.Reader, f.station, ctHeader, stationID[:], hj)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.WriteString(magic)
	out.Write(binary.BigEndian.AppendUint16(nil, formatVersion))
	out.Write(binary.BigEndian.AppendUint32(nil, uint32(len(sh))))
	out.Write(sh)
	cw := stream.NewWriter(sender, sha256.Sum256(sh), &out)
	cw.Write(payload)
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	body := sha256.Sum256(out.Bytes())
	tj, _ := canonicalJSON(trailer{Format: trailerFormat, BundleID: bundleID, HeaderSHA256: hex.EncodeToString(func() []byte { s := sha256.Sum256(sh); return s[:] }()),
		CiphertextLength: cw.Sealed(), BodySHA256: hex.EncodeToString(body[:])})
	st, err := sign1(rand.Reader, f.station, ctTrailer, stationID[:], tj)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(binary.BigEndian.AppendUint32(nil, uint32(len(st))))
	out.Write(st)
	return out.Bytes()
}

// FuzzOpenPayload feeds Open validly signed and encrypted bundles whose manifest and
// members are arbitrary: the payload parser must not panic nor allocate beyond its limits.
func FuzzOpenPayload(f *testing.F) {
	fx := vectorFixture(f)
	stationID, _ := StationID(&fx.station.PublicKey)
	// addSeed adds the manifest and members of a valid bundle of recs.
	addSeed := func(recs []Record) {
		data, _ := fx.build(f, fx.params(recs, 1, nil))
		b, err := fx.open(data, OpenOptions{})
		if err != nil {
			f.Fatal(err)
		}
		var m manifest
		if err := decodeStrict(b.Manifest, &m); err != nil {
			f.Fatal(err)
		}
		seed := bytes.ReplaceAll(bytes.ReplaceAll(b.Manifest, []byte(b.ID), []byte("BUNDLEID")), []byte(hex.EncodeToString(stationID[:])), []byte("STATIONID"))
		var members []byte
		for _, r := range recs {
			mem, _ := encodeMembers(r, formatVersion)
			for _, x := range mem {
				members = append(members, x...)
			}
		}
		if _, err := fx.open(sealRaw(f, fx, seed, members), OpenOptions{}); err != nil {
			f.Fatalf("the seed does not open: %v", err) // the fuzzer must start from a valid payload
		}
		f.Add(seed, members)
	}
	recs := fx.synthRecords(f, 2, 16)
	addSeed(recs)
	// The same records approved with station statements, so that statement parsing and
	// checking (checkStatement) is fuzzed too.
	for i := range recs {
		recs[i] = fx.statementApproval(f, recs[i], recs[i].EnrollmentID)
	}
	addSeed(recs)
	f.Add([]byte(`{"format":"enrollstation-bundle-manifest/2","bundle_id":"BUNDLEID","station_id":"STATIONID","seq":"1","prev_bundle_sha256":"","created":"2026-01-01T00:00:00Z","batch":{"id":"","closed_at":"","enrollment_ids":[]},"audit_checkpoint":{"seq":"0","hash":null,"signature":null},"roster":[],"issuer_key_changes":[],"records":[{"enrollment_id":"E1","template_model":"m","template_version":"1","members":[{"name":"identity.json","size":1099511627776,"sha256":""}]}]}`), []byte("x"))
	f.Fuzz(func(t *testing.T, manifestJSON, members []byte) {
		if len(manifestJSON)+len(members) > 1<<20 {
			return
		}
		bundle := sealRaw(t, fx, manifestJSON, members)
		got, err := Open(bytes.NewReader(bundle), fx.issuer, &fx.station.PublicKey, OpenOptions{MaxMemberSize: 1 << 20, MaxManifestSize: 1 << 20})
		if err != nil {
			if Reason(err) == "error" {
				t.Fatalf("error names no reason: %v", err)
			}
			return
		}
		for _, r := range got.Records {
			if err := VerifyApproval(r, hex.EncodeToString(stationID[:])); err != nil {
				t.Fatalf("opened a record whose approval does not verify: %v", err)
			}
		}
	})
}
