package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enrollstation/vault"
)

// stationRunner runs commands of the whole command set on one data directory with a
// software TPM kept in it.
type stationRunner struct {
	t    *testing.T
	data string
}

func (r stationRunner) run(stdin string, args ...string) (string, string, int) {
	r.t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--data", r.data, "--tpm", "swtpm", "--password-stdin")
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, Commands(), nil)
	if strings.Contains(errb.String(), "panic") || strings.Contains(errb.String(), "goroutine ") {
		r.t.Fatalf("%v panicked:\n%s", args, errb.String())
	}
	return out.String(), errb.String(), code
}

func (r stationRunner) must(stdin string, args ...string) string {
	r.t.Helper()
	out, errs, code := r.run(stdin, args...)
	if code != 0 {
		r.t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

// hashFiles hashes the station's store and station file (the swtpm state and the lock
// file change with every command, as a hardware TPM's NV would).
func hashFiles(t *testing.T, data string) map[string][32]byte {
	t.Helper()
	m := map[string][32]byte{}
	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(data, p)
		if strings.HasPrefix(rel, "swtpm") || rel == "station.lock" {
			return nil
		}
		b, _ := os.ReadFile(p)
		m[rel] = sha256.Sum256(b)
		return nil
	})
	return m
}

func sameHashes(t *testing.T, before, after map[string][32]byte) {
	t.Helper()
	for p, h := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("%s was deleted", p)
		} else if a != h {
			t.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s was created", p)
		}
	}
}

// populatedStation provisions a station with a clerk and two enrollments, through the
// command line, and returns its data directory.
func populatedStation(t *testing.T) string {
	t.Helper()
	r := stationRunner{t, t.TempDir()}
	r.must("root-password\n", "station", "init", "--admin", "root", "--name", "Counter 1")
	r.must("root-password\nclara-password\n", "user", "add", "clara", "--roles", "clerk", "--as", "root")
	submitForTest(t, r.data, "clara", "bona.jpg", 1)
	submitForTest(t, r.data, "clara", "luda.jpg", 2)
	return r.data
}

func copyData(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// The repros through the command line: a read-only command on a store whose
// MANIFEST, KEYREGISTRY, a table or the whole store is gone or damaged used to recreate
// an empty store (or panic); now it exits 1 with a clear error and changes no file.
func TestDamagedStoreCommands(t *testing.T) {
	good := populatedStation(t)
	sst := func(store string) string {
		m, _ := filepath.Glob(filepath.Join(store, "*.sst"))
		if len(m) == 0 {
			t.Fatal("no table file")
		}
		return m[0]
	}
	for _, c := range []struct {
		name   string
		damage func(store string)
		says   string
	}{
		{"MANIFEST deleted", func(s string) { os.Remove(filepath.Join(s, "MANIFEST")) }, "MANIFEST is missing"},
		{"store deleted", func(s string) { os.RemoveAll(s) }, "is missing or empty"},
		{"table truncated", func(s string) {
			f := sst(s)
			st, _ := os.Stat(f)
			os.Truncate(f, st.Size()-100)
		}, "is damaged: truncated"},
		{"KEYREGISTRY deleted", func(s string) { os.Remove(filepath.Join(s, "KEYREGISTRY")) }, "KEYREGISTRY is missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := stationRunner{t, copyData(t, good)}
			c.damage(filepath.Join(r.data, "store"))
			before := hashFiles(t, r.data)
			for _, cmd := range [][]string{{"station", "status"}, {"audit", "verify"}, {"batch", "list"}} {
				_, errs, code := r.run("", cmd...)
				if code != 1 || !strings.Contains(errs, c.says) {
					t.Fatalf("%v: exit %d, %q; want exit 1 saying %q", cmd, code, errs, c.says)
				}
			}
			if _, errs, code := r.run("root-password\n", "station", "init", "--admin", "root"); code != 1 || !strings.Contains(errs, "already") {
				t.Fatalf("init over the damaged station: exit %d %q", code, errs)
			}
			sameHashes(t, before, hashFiles(t, r.data))
		})
	}
}

// `station init` with station.json missing used to delete a populated store without a
// word; now it refuses, naming the files and their sizes, and changes nothing, unless
// the wipe is asked for and confirmed by typing what it names.
func TestInitOverExistingDataRefused(t *testing.T) {
	r := stationRunner{t, copyData(t, populatedStation(t))}
	if _, errs, code := r.run("root-password\n", "station", "init", "--admin", "root"); code != 1 || !strings.Contains(errs, "station ID") || !strings.Contains(errs, "MANIFEST (") {
		t.Fatalf("init over a station: exit %d %q", code, errs)
	}
	os.Remove(filepath.Join(r.data, "station.json"))
	before := hashFiles(t, r.data)
	_, errs, code := r.run("root-password\n", "station", "init", "--admin", "root")
	if code != 1 || !strings.Contains(errs, "store data without a station file") || !strings.Contains(errs, "MANIFEST (") || !strings.Contains(errs, "KB)") || !strings.Contains(errs, "--wipe-existing-store") {
		t.Fatalf("init over store data: exit %d %q", code, errs)
	}
	if _, errs, code := r.run("root-password\n", "station", "init", "--admin", "root", "--wipe-existing-store"); code != 2 || !strings.Contains(errs, "--confirm") {
		t.Fatalf("wipe without confirmation: exit %d %q", code, errs)
	}
	if _, errs, code := r.run("root-password\n", "station", "init", "--admin", "root", "--wipe-existing-store", "--confirm", "yes"); code != 1 || !strings.Contains(errs, "not confirmed") {
		t.Fatalf("wipe with a wrong confirmation: exit %d %q", code, errs)
	}
	sameHashes(t, before, hashFiles(t, r.data))
	r.must("root-password\n", "station", "init", "--admin", "root", "--wipe-existing-store", "--confirm", filepath.Join(r.data, "store"))
	r.must("root-password\nsam-password\n", "user", "add", "sam", "--roles", "supervisor", "--as", "root")
}

// An administrator's rollback: a snapshot of the data directory copied back after more
// work (the TPM is not part of it: with --tpm swtpm its state is left in place, as a
// hardware TPM's would be) is refused by every command, audit verify included.
func TestRestoredSnapshotRefused(t *testing.T) {
	r := stationRunner{t, populatedStation(t)}
	snap := copyData(t, r.data)
	r.must("root-password\nmallory-password\n", "user", "add", "mallory", "--roles", "supervisor", "--as", "root")
	os.RemoveAll(filepath.Join(r.data, "store"))
	os.Remove(filepath.Join(r.data, "station.json"))
	os.CopyFS(filepath.Join(r.data, "store"), os.DirFS(filepath.Join(snap, "store")))
	b, _ := os.ReadFile(filepath.Join(snap, "station.json"))
	os.WriteFile(filepath.Join(r.data, "station.json"), b, 0o600)
	for _, cmd := range [][]string{{"station", "status"}, {"audit", "verify"}} {
		_, errs, code := r.run("", cmd...)
		if code != 1 || !strings.Contains(errs, "the store is older than this station's TPM says: restored from a backup?") {
			t.Fatalf("%v on a restored snapshot: exit %d %q", cmd, code, errs)
		}
	}
}

// A flipped bit in a portrait: the export names the damaged record and uses no bundle
// sequence number; a supervisor quarantines it (audited) and the rest exports as
// bundle 1. A record that reads correctly cannot be quarantined.
func TestQuarantineDamagedRecord(t *testing.T) {
	keys := t.TempDir()
	r := stationRunner{t, t.TempDir()}
	r.must("", "issuer", "keygen", "--out", keys)
	r.must("root-password\n", "station", "init", "--admin", "root", "--name", "Counter 1", "--issuer-key", filepath.Join(keys, "issuer.pub"))
	r.must("root-password\nclara-password\n", "user", "add", "clara", "--roles", "clerk", "--as", "root")
	r.must("root-password\nsam-password\n", "user", "add", "sam", "--roles", "supervisor", "--as", "root")
	ids := []string{submitForTest(t, r.data, "clara", "bona.jpg", 1), submitForTest(t, r.data, "clara", "luda.jpg", 2), submitForTest(t, r.data, "clara", "joy.jpg", 3)}
	r.must("sam-password\n", append([]string{"approve", "--as", "sam"}, ids...)...)
	batch := strings.TrimSpace(r.must("sam-password\n", "batch", "close", "--as", "sam"))
	good := copyData(t, r.data)

	// Flip one bit, trying offsets from the middle of the largest table (portraits are
	// most of it) until one lands in an enrollment's data.
	var damaged string
	for try := 0; try < 8 && damaged == ""; try++ {
		r = stationRunner{t, copyData(t, good)}
		m, _ := filepath.Glob(filepath.Join(r.data, "store", "*.sst"))
		var big string
		var size int64
		for _, f := range m {
			if st, _ := os.Stat(f); st.Size() > size {
				big, size = f, st.Size()
			}
		}
		b, _ := os.ReadFile(big)
		b[int(size)*(2+try)/12] ^= 0x10
		os.WriteFile(big, b, 0o600)
		_, errs, code := r.run("sam-password\n", "export", "--batch", batch, "--to", t.TempDir(), "--as", "sam")
		if code != 1 || !strings.Contains(errs, "integrity") {
			t.Fatalf("export of a batch with a flipped bit: exit %d %q", code, errs)
		}
		for _, id := range ids {
			if strings.Contains(errs, "batch quarantine "+id) {
				damaged = id
			}
		}
		if damaged != "" && !strings.Contains(errs, "no bundle sequence number was used") {
			t.Fatalf("export error: %q", errs)
		}
	}
	if damaged == "" {
		t.Fatal("no flip landed in an enrollment's data")
	}
	status := func() (seq int) {
		out := r.must("", "station", "status", "--json")
		var s struct {
			Counter int `json:"counter"`
		}
		json.Unmarshal([]byte(out), &s)
		return s.Counter
	}
	if c := status(); c != 0 {
		t.Fatalf("bundle counter %d after a failed build, want 0", c)
	}
	var intact string
	for _, id := range ids {
		if id != damaged {
			intact = id
		}
	}
	if _, errs, code := r.run("sam-password\n", "batch", "quarantine", intact, "--batch", batch, "--as", "sam"); code != 1 || !strings.Contains(errs, "reads correctly") {
		t.Fatalf("quarantine of an intact record: exit %d %q", code, errs)
	}
	r.must("sam-password\n", "batch", "quarantine", damaged, "--batch", batch, "--as", "sam", "--reason", "portrait unreadable")
	usb := t.TempDir()
	loc := strings.TrimSpace(r.must("sam-password\n", "export", "--batch", batch, "--to", usb, "--as", "sam"))
	if c := status(); c != 1 {
		t.Fatalf("bundle counter %d after one bundle, want 1", c)
	}
	out := r.must("", "batch", "list", "--json")
	if !strings.Contains(out, `"bundle_seq": 1`) || !strings.Contains(out, `"enrollments": 2`) {
		t.Fatalf("batch list: %s", out)
	}
	stationPEM := filepath.Join(keys, "station.pem")
	r.must("", "station", "pubkey", "--out", stationPEM)
	vout := r.must("", "verify", "--issuer-key", filepath.Join(keys, "issuer.key"), "--station-key", stationPEM, loc)
	if strings.Contains(vout, damaged) {
		t.Fatalf("the quarantined record was exported:\n%s", vout)
	}
	for _, id := range ids {
		if id != damaged && !strings.Contains(vout, id) {
			t.Fatalf("%s missing from the bundle:\n%s", id, vout)
		}
	}
	if out := r.must("", "audit", "verify"); !strings.Contains(out, "OK") {
		t.Fatalf("audit verify: %s", out)
	}
}

// A second user of a station (here the same process, through the lock file) is told
// which process holds it instead of waiting for the TPM.
func TestStationInUseNamesPID(t *testing.T) {
	r := stationRunner{t, t.TempDir()}
	r.must("root-password\n", "station", "init", "--admin", "root")
	tp, err := vault.OpenTPM("swtpm", r.data)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	_, errs, code := r.run("", "station", "status")
	if want := fmt.Sprintf("the station is in use by PID %d", os.Getpid()); code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("status while in use: exit %d %q, want %q", code, errs, want)
	}
}
