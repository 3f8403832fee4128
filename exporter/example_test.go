package exporter_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"enrollstation/exporter"
)

// The station side: sign approvals, build a bundle into the outbox, deliver it, read the
// acknowledgement; and the issuer side: open it. In the station the keys are TPM-backed
// crypto.Signers and the records come from vault.
func Example() {
	dir, _ := os.MkdirTemp("", "exporter-example")
	defer os.RemoveAll(dir)
	stationKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	supervisorKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	issuerKey, _ := exporter.GenerateIssuerKey()

	rec := exporter.Record{
		EnrollmentID: "E-1",
		Identity: exporter.Identity{FamilyName: "陈", GivenNames: "美玲", DateOfBirth: "1988-04-17", Sex: "F",
			Nationality: "CHN", PlaceOfBirth: "广州", Address: exporter.Address{Lines: []string{"德辅道中 88 号"}, Locality: "中環", Country: "HKG"}},
		Portrait: []byte("\xff\xd8...jpeg..."), Template: make([]byte, 512),
		ModelID: "dlib_face_recognition_resnet_model_v1", TemplateVersion: "1",
		Quality: []exporter.QualityMeasure{{ID: "UnifiedQualityScore", Raw: 0.71, Scalar: 71}},
		Capture: exporter.Capture{Operator: "clerk1", CameraProfile: "c920", CapturedAt: time.Now()},
	}
	stationID, _ := exporter.StationID(&stationKey.PublicKey)
	supervisorDER, _ := x509.MarshalPKIXPublicKey(&supervisorKey.PublicKey)
	registered := time.Now().Add(-time.Hour)
	var err error
	if rec.Approval, err = exporter.SignApproval(rec, supervisorKey, hex.EncodeToString(stationID[:]), "supervisor1", time.Now()); err != nil {
		log.Fatal(err)
	}

	outbox, err := exporter.OpenOutbox(filepath.Join(dir, "outbox"))
	if err != nil {
		log.Fatal(err)
	}
	bf, err := outbox.Build(exporter.BuildParams{
		Records: exporter.Records{rec}, StationSigner: stationKey, IssuerKey: issuerKey.Public(),
		Seq: 1, Batch: exporter.Batch{ID: "B-1", EnrollmentIDs: []string{"E-1"}},
		Roster: []exporter.RosterEntry{{SupervisorID: "supervisor1", DisplayName: "Wong Ka Yan",
			PublicKey: supervisorDER, Created: registered}},
	})
	if err != nil {
		log.Fatal(err)
	}
	usb := filepath.Join(dir, "usb")
	os.Mkdir(usb, 0o700)
	target, _ := exporter.ParseTarget(usb) // or an https:// URL
	receipt, err := outbox.Deliver(context.Background(), target, bf.ID)
	if err != nil {
		log.Fatal(err)
	}

	// Issuer side.
	f, _ := os.Open(receipt.Location)
	defer f.Close()
	b, err := exporter.Open(f, issuerKey, &stationKey.PublicKey, exporter.OpenOptions{AfterSeq: 0})
	if err != nil {
		log.Fatalf("verify failed (%s): %v", exporter.Reason(err), err)
	}
	ackFile, _ := exporter.MakeAck(issuerKey, b, nil, time.Now())

	// Back at the station.
	ack, err := exporter.ParseAck(ackFile, issuerKey.Public())
	if err != nil || ack.BundleSHA256 != bf.SHA256 {
		log.Fatal("acknowledgement does not match the bundle")
	}
	fmt.Println(len(b.Records), b.Records[0].Identity.FamilyName, bytes.Equal(b.Records[0].Portrait, rec.Portrait), ack.Accepted)
	// Output: 1 陈 true [E-1]
}
