package testkit

import (
	"os"
	"path/filepath"
	"testing"

	"enrollstation/exporter"
	"enrollstation/internal/testenv"
	"enrollstation/internal/tpmtest"
	"enrollstation/vault"
)

// FastKDF is an argon2id cost that keeps password hashing cheap in tests (the
// production cost is vault.DefaultKDF).
var FastKDF = vault.KDFParams{Time: 1, Memory: 1 << 10, Threads: 1}

// ExampleIdentity is the example citizen of docs/examples/enrollment.json (陈 美玲), as
// the issuer's identity record.
func ExampleIdentity(t testing.TB) exporter.Identity {
	t.Helper()
	b, err := os.ReadFile(ExampleIdentityFile())
	if err != nil {
		t.Fatal(err)
	}
	id, err := exporter.ParseIdentity(b)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// ExampleIdentityFile is the path of docs/examples/enrollment.json.
func ExampleIdentityFile() string {
	return filepath.Join(testenv.Root(), "docs", "examples", "enrollment.json")
}

// User is an operator account to create; Password defaults to Name+"-password".
type User struct {
	Name     string
	Roles    []vault.Role
	Password string
}

func (u User) password() string {
	if u.Password == "" {
		return u.Name + "-password"
	}
	return u.Password
}

// StationOptions say what NewStation makes; the zero value is a station "Counter 1" at
// "Town Hall" with administrator root (password "root-password"), no other users, on a
// fresh swtpm, in t.TempDir(), with FastKDF.
type StationOptions struct {
	Dir                  string
	TPM                  *vault.TPM // nil: a fresh swtpm (stopped at the test's end)
	Name, Site           string
	Admin, AdminPassword string
	Config               vault.Config // KDF FastKDF when zero
	Users                []User
}

// NewStation initialises a station with its users and returns it open (closed at the
// test's end) with the administrator's session.
func NewStation(t testing.TB, o StationOptions) (*vault.Station, *vault.Session) {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.TPM == nil {
		tp, err := vault.NewTPM(tpmtest.Start(t).TPM(), "software")
		if err != nil {
			t.Fatal(err)
		}
		o.TPM = tp
	}
	if o.Name == "" {
		o.Name, o.Site = "Counter 1", "Town Hall"
	}
	if o.Admin == "" {
		o.Admin = "root"
	}
	if o.AdminPassword == "" {
		o.AdminPassword = o.Admin + "-password"
	}
	if o.Config.KDF == (vault.KDFParams{}) {
		o.Config.KDF = FastKDF
	}
	st, err := vault.Init(o.Dir, o.TPM, o.Config, vault.InitOptions{Name: o.Name, Site: o.Site, Admin: o.Admin, AdminPassword: o.AdminPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	admin, err := st.Login(o.Admin, o.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	AddUsers(t, st, admin, o.Users...)
	return st, admin
}

// AddUsers adds operator accounts, failing the test on any error.
func AddUsers(t testing.TB, st *vault.Station, admin *vault.Session, users ...User) {
	t.Helper()
	for _, u := range users {
		if err := st.AddUser(admin, u.Name, u.Roles, u.password()); err != nil {
			t.Fatalf("adding user %s: %v", u.Name, err)
		}
	}
}
