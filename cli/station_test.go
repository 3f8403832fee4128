package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runStation(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, stationCommands(), testRoot)
	return out.String(), errb.String(), code
}

func TestStationCommands(t *testing.T) {
	data := t.TempDir()
	common := []string{"--data", data, "--tpm", "swtpm", "--password-stdin"}
	run := func(stdin string, args ...string) (string, string, int) {
		return runStation(t, stdin, append(args, common...)...)
	}

	if _, errs, code := run("", "station", "status"); code != 1 || !strings.Contains(errs, "station init") {
		t.Fatalf("status before init: exit %d, %q", code, errs)
	}
	if _, errs, code := run("", "station", "init"); code != 2 || !strings.Contains(errs, "--admin") {
		t.Fatalf("init without --admin: exit %d, %q", code, errs)
	}
	out, errs, code := run("root-password\n", "station", "init", "--admin", "root", "--name", "Counter 1", "--site", "Town Hall")
	if code != 0 || !strings.Contains(out, "station ID:") {
		t.Fatalf("init: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := run("root-password\n", "station", "init", "--admin", "root"); code != 1 || !strings.Contains(errs, "already") {
		t.Fatalf("re-init: exit %d, %q", code, errs)
	}

	out, errs, code = run("", "station", "status", "--json")
	if code != 0 {
		t.Fatalf("status: exit %d %s", code, errs)
	}
	var status struct {
		ID        string         `json:"station_id"`
		Name      string         `json:"name"`
		TPM       map[string]any `json:"tpm"`
		Operators int            `json:"operators"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil || len(status.ID) != 64 || status.Name != "Counter 1" || status.TPM["kind"] != "software" || status.Operators != 1 {
		t.Fatalf("status JSON %v: %s", err, out)
	}

	pemFile := filepath.Join(t.TempDir(), "station.pem")
	if _, errs, code := run("", "station", "pubkey", "--out", pemFile); code != 0 {
		t.Fatalf("pubkey: exit %d %s", code, errs)
	}
	b, _ := os.ReadFile(pemFile)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("pubkey file is not PEM: %q", b)
	}
	if k, err := x509.ParsePKIXPublicKey(blk.Bytes); err != nil {
		t.Fatal(err)
	} else if _, ok := k.(*ecdsa.PublicKey); !ok {
		t.Fatalf("public key is %T", k)
	}

	if out, errs, code := run("root-password\nclara-password\n", "user", "add", "clara", "--roles", "clerk,supervisor", "--as", "root"); code != 0 {
		t.Fatalf("user add: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := run("wrong-password\nx-password\n", "user", "add", "mallory", "--roles", "admin", "--as", "root"); code != 1 || !strings.Contains(errs, "wrong user name or password") {
		t.Fatalf("user add with a wrong admin password: exit %d %q", code, errs)
	}
	if _, errs, code := run("clara-password\nx-password\n", "user", "add", "mallory", "--roles", "admin", "--as", "clara"); code != 1 || !strings.Contains(errs, "role") {
		t.Fatalf("user add by a non-admin: exit %d %q", code, errs)
	}
	if _, _, code := run("", "user", "add", "x", "--roles", "boss", "--as", "root"); code != 2 {
		t.Fatalf("unknown role: exit %d", code)
	}
	if _, errs, code := run("root-password\n", "user", "lock", "clara", "--as", "root"); code != 0 {
		t.Fatalf("user lock: %d %s", code, errs)
	}
	out, _, _ = run("", "user", "list", "--json")
	var users []struct {
		Name   string   `json:"name"`
		Roles  []string `json:"roles"`
		Locked bool     `json:"locked"`
	}
	if err := json.Unmarshal([]byte(out), &users); err != nil || len(users) != 2 || users[0].Name != "clara" || !users[0].Locked || len(users[0].Roles) != 2 {
		t.Fatalf("user list %v: %s", err, out)
	}
	if _, errs, code := run("clara-password\nclara-new-password\n", "user", "passwd", "clara"); code != 1 || !strings.Contains(errs, "locked") {
		t.Fatalf("passwd on a locked account: %d %q", code, errs)
	}
	if _, errs, code := run("root-password\n", "user", "lock", "clara", "--as", "root", "--unlock"); code != 0 {
		t.Fatalf("user unlock: %d %s", code, errs)
	}
	if _, errs, code := run("clara-password\nclara-new-password\n", "user", "passwd", "clara"); code != 0 {
		t.Fatalf("passwd: %d %s", code, errs)
	}

	out, errs, code = run("", "audit", "verify", "--json")
	var rep struct {
		OK      bool `json:"ok"`
		Entries int  `json:"entries"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.OK || rep.Entries < 5 {
		t.Fatalf("audit verify: exit %d %s %s", code, out, errs)
	}
	if out, _, code := run("", "audit", "verify"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("audit verify (text): exit %d %s", code, out)
	}
	if out, _, code := run("", "station", "status"); code != 0 || !strings.Contains(out, status.ID) {
		t.Fatalf("status (text): exit %d %s", code, out)
	}
}

func TestStationAutoWithoutTPM(t *testing.T) {
	if _, err := os.Stat("/dev/tpmrm0"); err == nil {
		t.Skip("this machine has a TPM")
	}
	_, errs, code := runStation(t, "", "station", "status", "--data", t.TempDir())
	if code != 1 || !strings.Contains(errs, "use --tpm swtpm") {
		t.Fatalf("exit %d, %q", code, errs)
	}
}
