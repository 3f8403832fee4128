package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"enrollstation/enroll"
	"enrollstation/vault"
)

// stationCommands are the station, user and audit commands (issue 5).
func stationCommands() []Command {
	return []Command{
		{
			Name:    "station init",
			Args:    "--admin NAME [--name N] [--site S] [--pcr LIST] [--issuer-key FILE]",
			Summary: "first-run provisioning: TPM keys, encrypted store, first administrator",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				admin := fs.String("admin", "", "first administrator's `NAME`")
				name := fs.String("name", "", "station name")
				site := fs.String("site", "", "site (office) name")
				pcrs := fs.String("pcr", "", "bind the store key to these PCRs, e.g. 7 (comma-separated; off by default)")
				issuerKey := fs.String("issuer-key", "", "issuer's public key `FILE` (PEM) for encrypting bundles; can be set later")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) > 0 {
						return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
					}
					if *admin == "" {
						return fmt.Errorf("%w: --admin NAME is required", ErrUsage)
					}
					pcrList, err := parsePCRs(*pcrs)
					if err != nil {
						return fmt.Errorf("%w: %v", ErrUsage, err)
					}
					var issuer []byte
					var issuerFP string
					if *issuerKey != "" {
						if issuer, err = os.ReadFile(*issuerKey); err != nil {
							return fmt.Errorf("reading issuer key: %w", err)
						}
						if issuerFP, err = enroll.CheckIssuerKey(issuer); err != nil {
							return fmt.Errorf("%s: %w", *issuerKey, err)
						}
					}
					if vault.Initialized(env.Data) {
						return fmt.Errorf("%w (%s)", vault.ErrAlreadyInitialized, env.Data)
					}
					pw, err := newPassword(env, *admin)
					if err != nil {
						return err
					}
					op, err := env.opener()
					if err != nil {
						return err
					}
					tp, err := op.OpenTPM()
					if err != nil {
						return err
					}
					defer tp.Close()
					st, err := enroll.Provision(op, tp, vault.Config{PCRs: pcrList}, enroll.ProvisionOptions{Name: *name, Site: *site, Admin: *admin, AdminPassword: pw, IssuerKey: issuer})
					if err != nil {
						return err
					}
					defer st.Close()
					info := tp.Info()
					fmt.Fprintf(env.Stdout, "station initialised in %s\nstation ID: %s\nTPM: %s (%s, firmware %s)\nadministrator: %s\n", env.Data, st.ID(), info.Kind, info.Manufacturer, info.Firmware, *admin)
					if info.Kind == "software" {
						fmt.Fprintln(env.Stdout, "warning: software TPM: keys are only as safe as the data directory; not for production")
					}
					if issuerFP != "" {
						fmt.Fprintf(env.Stdout, "issuer key fingerprint: %s (compare it with the issuer's)\n", issuerFP)
					}
					fmt.Fprintln(env.Stdout, "register the station with the issuer: enrollstation station pubkey --out station.pem")
					return nil
				}
			},
		},
		{
			Name:    "station status",
			Args:    "[--json]",
			Summary: "station ID, TPM, bundle counter and record counts",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				asJSON := fs.Bool("json", false, "print the status as JSON")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) > 0 {
						return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
					}
					return withStation(env, func(st *vault.Station) error {
						s, err := st.Status()
						if err != nil {
							return err
						}
						if *asJSON {
							return stationJSON(env.Stdout, s)
						}
						w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
						fmt.Fprintf(w, "station ID\t%s\n", s.ID)
						fmt.Fprintf(w, "name\t%s\n", s.Name)
						fmt.Fprintf(w, "site\t%s\n", s.Site)
						fmt.Fprintf(w, "TPM\t%s (%s, firmware %s)\n", s.TPM.Kind, s.TPM.Manufacturer, s.TPM.Firmware)
						fmt.Fprintf(w, "bundle counter\t%d\n", s.Counter)
						for _, k := range vault.Statuses {
							fmt.Fprintf(w, "enrollments %s\t%d\n", k, s.Enrollments[k])
						}
						fmt.Fprintf(w, "batches\t%d\n", s.Batches)
						fmt.Fprintf(w, "operators\t%d\n", s.Operators)
						fmt.Fprintf(w, "audit entries\t%d\n", s.AuditEntries)
						return w.Flush()
					})
				}
			},
		},
		{
			Name:    "station pubkey",
			Args:    "[--out FILE]",
			Summary: "the station signing public key (PEM), to register with the issuer",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				out := fs.String("out", "", "write the key to `FILE` instead of standard output")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) > 0 {
						return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
					}
					return withStation(env, func(st *vault.Station) error {
						pemKey := st.PublicKeyPEM()
						if *out == "" {
							_, err := env.Stdout.Write(pemKey)
							return err
						}
						if err := os.WriteFile(*out, pemKey, 0o644); err != nil {
							return err
						}
						fmt.Fprintf(env.Stderr, "wrote %s (station ID %s)\n", *out, st.ID())
						return nil
					})
				}
			},
		},
		{
			Name:    "station purge",
			Args:    "",
			Summary: "delete biometrics of enrollments exported longer ago than the retention period",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) > 0 {
						return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
					}
					return withStation(env, func(st *vault.Station) error {
						n, err := st.PurgeExpired()
						if err == nil {
							fmt.Fprintf(env.Stdout, "purged biometrics of %d enrollment(s)\n", n)
						}
						return err
					})
				}
			},
		},
		{
			Name:    "user add",
			Args:    "NAME --roles ROLE[,ROLE] --as ADMIN",
			Summary: "create an operator (asks the administrator's password, then the new user's)",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				roles := fs.String("roles", "", "comma-separated roles: clerk, supervisor, technician, admin")
				as := fs.String("as", "", "administrator `NAME` authorising this")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) != 1 {
						return fmt.Errorf("%w: one user NAME expected", ErrUsage)
					}
					if *as == "" || *roles == "" {
						return fmt.Errorf("%w: --roles and --as are required", ErrUsage)
					}
					var rs []vault.Role
					for _, r := range strings.Split(*roles, ",") {
						role, err := vault.ParseRole(strings.TrimSpace(r))
						if err != nil {
							return fmt.Errorf("%w: %v", ErrUsage, err)
						}
						rs = append(rs, role)
					}
					return withSession(env, *as, func(st *vault.Station, admin *vault.Session) error {
						pw, err := newPassword(env, args[0])
						if err != nil {
							return err
						}
						if err := st.AddUser(admin, args[0], rs, pw); err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "added %s (%s)\n", args[0], *roles)
						return nil
					})
				}
			},
		},
		{
			Name:    "user list",
			Args:    "[--json]",
			Summary: "list operators with their roles and lock state",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				asJSON := fs.Bool("json", false, "print as JSON")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) > 0 {
						return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
					}
					return withStation(env, func(st *vault.Station) error {
						users, err := st.Users()
						if err != nil {
							return err
						}
						type row struct {
							Name     string       `json:"name"`
							Roles    []vault.Role `json:"roles"`
							Locked   bool         `json:"locked"`
							Failures int          `json:"failed_logins"`
						}
						rows := []row{}
						for _, u := range users {
							rows = append(rows, row{u.Name, u.Roles, u.Locked, u.Failures})
						}
						if *asJSON {
							return stationJSON(env.Stdout, rows)
						}
						w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
						fmt.Fprintln(w, "NAME\tROLES\tSTATE")
						for _, r := range rows {
							state := "active"
							if r.Locked {
								state = "locked"
							}
							roles := make([]string, len(r.Roles))
							for i, x := range r.Roles {
								roles[i] = string(x)
							}
							fmt.Fprintf(w, "%s\t%s\t%s\n", r.Name, strings.Join(roles, ","), state)
						}
						return w.Flush()
					})
				}
			},
		},
		{
			Name:    "user lock",
			Args:    "NAME --as ADMIN [--unlock]",
			Summary: "lock (or with --unlock, unlock) an operator's account",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				as := fs.String("as", "", "administrator `NAME` authorising this")
				unlock := fs.Bool("unlock", false, "unlock instead, clearing failed logins")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) != 1 || *as == "" {
						return fmt.Errorf("%w: one user NAME and --as ADMIN expected", ErrUsage)
					}
					return withSession(env, *as, func(st *vault.Station, admin *vault.Session) error {
						if err := st.SetLocked(admin, args[0], !*unlock); err != nil {
							return err
						}
						verb := "locked"
						if *unlock {
							verb = "unlocked"
						}
						fmt.Fprintf(env.Stdout, "%s %s\n", verb, args[0])
						return nil
					})
				}
			},
		},
		{
			Name:    "user passwd",
			Args:    "NAME",
			Summary: "change an operator's password (asks the old one, then the new one)",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) != 1 {
						return fmt.Errorf("%w: one user NAME expected", ErrUsage)
					}
					return withStation(env, func(st *vault.Station) error {
						old, err := env.Password("current password for " + args[0] + ": ")
						if err != nil {
							return err
						}
						pw, err := newPassword(env, args[0])
						if err != nil {
							return err
						}
						if err := st.ChangePassword(args[0], old, pw); err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "password changed for %s\n", args[0])
						return nil
					})
				}
			},
		},
		{
			Name:    "audit verify",
			Args:    "[--json]",
			Summary: "check the audit log's hash chain and signed checkpoints (exit 1 if tampered)",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				asJSON := fs.Bool("json", false, "print the report as JSON")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) > 0 {
						return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
					}
					return withStation(env, func(st *vault.Station) error {
						rep, err := st.VerifyAudit()
						if rep == nil {
							return err
						}
						if *asJSON {
							out := struct {
								OK bool `json:"ok"`
								*vault.AuditReport
							}{rep.OK(), rep}
							if err := stationJSON(env.Stdout, out); err != nil {
								return err
							}
						} else {
							fmt.Fprintf(env.Stdout, "%d entries, %d signed checkpoints (signed up to entry %d)\n", rep.Entries, rep.Checkpoints, rep.LastSigned)
							for _, p := range rep.Problems {
								fmt.Fprintf(env.Stdout, "FAIL entry %d: %s\n", p.Seq, p.Problem)
							}
							if rep.OK() {
								fmt.Fprintln(env.Stdout, "OK audit log intact")
							}
						}
						if !rep.OK() {
							return ExitError{Code: 1}
						}
						return nil
					})
				}
			},
		},
	}
}

// withService opens the station's service (TPM, station; the recognizer on demand),
// runs fn, and closes it.
func withService(env *Env, fn func(*enroll.Service) error) error {
	op, err := env.opener()
	if err != nil {
		return err
	}
	svc, err := enroll.Open(env.Config, op)
	if err != nil {
		return err
	}
	defer svc.Close()
	return fn(svc)
}

// withStation is withService for commands that need only the station.
func withStation(env *Env, fn func(*vault.Station) error) error {
	return withService(env, func(svc *enroll.Service) error { return fn(svc.Station()) })
}

// withSession is withStation with the operator name logged in (password prompted or
// from --password-stdin) for fn.
func withSession(env *Env, name string, fn func(*vault.Station, *vault.Session) error) error {
	return withStation(env, func(st *vault.Station) error {
		s, err := loginAs(env, st, name)
		if err != nil {
			return err
		}
		return fn(st, s)
	})
}

func loginAs(env *Env, st *vault.Station, name string) (*vault.Session, error) {
	pw, err := env.Password("password for " + name + ": ")
	if err != nil {
		return nil, err
	}
	return st.Login(name, pw)
}

// newPassword asks for a new password; at a terminal it asks twice.
func newPassword(env *Env, name string) (string, error) {
	pw, err := env.Password("new password for " + name + ": ")
	if err != nil || env.PasswordStdin {
		return pw, err
	}
	again, err := env.Password("repeat the new password: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the passwords do not match")
	}
	return pw, nil
}

func parsePCRs(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n > 23 {
			return nil, fmt.Errorf("--pcr: %q is not a PCR number 0..23", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func stationJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
