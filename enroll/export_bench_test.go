package enroll

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"enrollstation/biometrics"
	"enrollstation/exporter"
	"enrollstation/internal/testenv"
	"enrollstation/internal/testkit"
	"enrollstation/internal/tpmtest"
	"enrollstation/vault"
)

// benchStation provisions a station and stores n pending enrollments from clerk clara,
// each with a real test-photo JPEG as portrait, a template in the biometrics format (a
// random descriptor: what matters here is size and format) and a quality report.
func benchStation(b *testing.B, n int) (*vault.Station, string, []string) {
	b.Helper()
	dir := b.TempDir()
	tp, err := vault.NewTPM(tpmtest.Start(b).TPM(), "software")
	if err != nil {
		b.Fatal(err)
	}
	issuer, _ := exporter.GenerateIssuerKey()
	pub, _ := issuer.Public().MarshalText()
	st, err := Provision(testkit.Opener{Data: dir}, tp, vault.Config{KDF: testkit.FastKDF},
		ProvisionOptions{Name: "Bench", Admin: "root", AdminPassword: "root-password", IssuerKey: pub})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	admin, _ := st.Login("root", "root-password")
	st.AddUser(admin, "clara", []vault.Role{vault.RoleClerk}, "clara-password")
	st.AddUser(admin, "sam", []vault.Role{vault.RoleSupervisor}, "sam-password")
	clerk, _ := st.Login("clara", "clara-password")
	img, err := os.ReadFile(testenv.Face(b, "bona.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	q, _ := json.Marshal(map[string]any{"pass": true, "score": 90, "measures": []biometrics.Measure{
		{ID: biometrics.SingleFacePresent, Raw: 1, Score: 100, Pass: true, Mandatory: true},
		{ID: "Sharpness", Raw: 812.5, Score: 97, Pass: true, Mandatory: true},
	}})
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, n)
	for i := range ids {
		var d biometrics.Descriptor
		for j := range d {
			d[j] = float32(r.NormFloat64() * 0.1)
		}
		tmpl, _ := biometrics.NewTemplate(d, 0).MarshalBinary()
		e := &vault.Enrollment{Status: vault.StatusPending, Portrait: img, Template: tmpl, Quality: q,
			Demographics: vault.Demographics{Surname: fmt.Sprintf("BENCH%d", i), GivenNames: "Test", DateOfBirth: "1990-01-01",
				Sex: "F", Nationality: "HKG", PlaceOfBirth: "Hong Kong", AddressLines: []string{"1 Queen's Road"}, Locality: "Central", Country: "HKG"},
			Capture: vault.CaptureMeta{Camera: "bench", CapturedAt: time.Now().UTC()}}
		if err := st.SaveEnrollment(clerk, e); err != nil {
			b.Fatal(err)
		}
		ids[i] = e.ID
	}
	return st, dir, ids
}

// BenchmarkPendingQueue loads a 200-item queue with duplicate search for every item.
func BenchmarkPendingQueue(b *testing.B) {
	st, _, _ := benchStation(b, 200)
	b.ResetTimer()
	for b.Loop() {
		q, err := PendingQueue(st, "sam")
		if err != nil || len(q) != 200 {
			b.Fatalf("%d items, %v", len(q), err)
		}
	}
}

// BenchmarkExportBatch builds a 100-enrollment bundle from the vault (TPM-signed
// manifest, HPKE encryption) into the outbox and delivers it to a directory.
func BenchmarkExportBatch(b *testing.B) {
	st, dir, ids := benchStation(b, 100)
	sam, _ := st.Login("sam", "sam-password")
	for _, id := range ids {
		if _, err := st.Approve(sam, id); err != nil {
			b.Fatal(err)
		}
	}
	batch, err := CloseBatch(st, sam)
	if err != nil {
		b.Fatal(err)
	}
	x, err := NewExporter(st, dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		bt := *batch
		bf, err := x.build(ctx, &bt, func(Progress) {})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := x.outbox.Deliver(ctx, &exporter.DirTarget{Dir: b.TempDir()}, bf.ID); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(bf.Size)
	}
}
