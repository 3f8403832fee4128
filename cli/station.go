package cli

import (
	"bufio"
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
			Args:    "--admin NAME [--name N] [--site S] [--pcr LIST] [--issuer-key FILE] [--wipe-existing-store [--confirm TEXT]]",
			Summary: "first-run provisioning: TPM keys, encrypted store, first administrator",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				admin := fs.String("admin", "", "first administrator's `NAME`")
				name := fs.String("name", "", "station name")
				site := fs.String("site", "", "site (office) name")
				pcrs := fs.String("pcr", "", "bind the store key to these PCRs, e.g. 7 (comma-separated; off by default)")
				issuerKey := fs.String("issuer-key", "", "issuer's public key `FILE` (PEM) for encrypting bundles; can be set later")
				wipe := fs.Bool("wipe-existing-store", false, "delete the station and store data already in --data (asks for a typed confirmation)")
				confirm := fs.String("confirm", "", "with --wipe-existing-store: the confirmation `TEXT` (the station ID, or the store directory when there is no station file), for scripts")
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
					existing, err := vault.Inspect(env.Data)
					if err != nil {
						return err
					}
					if !existing.Empty() {
						if !*wipe {
							return refuseExisting(env.Data, existing)
						}
						if err := confirmWipe(env, existing, *confirm); err != nil {
							return err
						}
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
					st, err := enroll.Provision(op, tp, vault.Config{PCRs: pcrList}, enroll.ProvisionOptions{Name: *name, Site: *site, Admin: *admin, AdminPassword: pw, IssuerKey: issuer, WipeExistingStore: *wipe && !existing.Empty()})
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
						fmt.Fprintf(w, "audit anchor (TPM)\t%d\n", s.AuditAnchor)
						for _, k := range s.Damaged {
							fmt.Fprintf(w, "damaged record\t%s (fails its integrity check)\n", k)
						}
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
							fmt.Fprintf(env.Stdout, "%d entries, %d signed checkpoints (signed up to entry %d; anchored in the TPM up to entry %d, anchor %d)\n", rep.Entries, rep.Checkpoints, rep.LastSigned, rep.Anchored, rep.Anchor)
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

// refuseExisting is station init's answer when the data directory holds a station or
// store data: what is there, and how to wipe it on purpose.
func refuseExisting(dataDir string, d *vault.ExistingData) error {
	var b strings.Builder
	if d.StationFile {
		id := d.StationID
		if id == "" {
			id = "unreadable"
		}
		fmt.Fprintf(&b, "%v (%s: station file station.json, station ID %s", vault.ErrAlreadyInitialized, dataDir, id)
	} else {
		fmt.Fprintf(&b, "refusing to initialise %s: it already holds store data without a station file (station.json missing or deleted; restore it to use the store)", dataDir)
		b.WriteString(" (")
	}
	if len(d.StoreFiles) > 0 {
		var total int64
		names := make([]string, len(d.StoreFiles))
		for i, f := range d.StoreFiles {
			names[i], total = f.String(), total+f.Size
		}
		if d.StationFile {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "store %s: %d files, %d bytes: %s", d.StoreDir, len(d.StoreFiles), total, strings.Join(names, ", "))
	}
	b.WriteString("); nothing was changed. To destroy this data and provision a new station, run station init again with --wipe-existing-store")
	return errors.New(b.String())
}

// confirmWipe asks the operator to type the station ID (or, without a station file, the
// store directory) before station init destroys existing data; --confirm gives it for
// scripts.
func confirmWipe(env *Env, d *vault.ExistingData, given string) error {
	want, what := d.StationID, "the station ID"
	if want == "" {
		want, what = d.StoreDir, "the store directory"
	}
	if given == "" {
		if env.PasswordStdin {
			return fmt.Errorf("%w: --wipe-existing-store with --password-stdin needs --confirm TEXT (%s: %s)", ErrUsage, what, want)
		}
		fmt.Fprintf(env.Stderr, "this deletes the station and its store in %s (%d store files); type %s (%s) to confirm: ", env.Data, len(d.StoreFiles), what, want)
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("wipe not confirmed; nothing was changed")
		}
		given = strings.TrimSpace(line)
	}
	if given != want {
		return fmt.Errorf("wipe not confirmed: expected %s %q; nothing was changed", what, want)
	}
	return nil
}

// withService opens the station's service (TPM, station; the recognizer on demand),
// runs fn, and closes it.
func withService(env *Env, fn func(*enroll.Service) error) (err error) {
	op, err := env.opener()
	if err != nil {
		return err
	}
	svc, err := enroll.Open(env.Config, op)
	if err != nil {
		return err
	}
	// Closing anchors the audit log in the TPM (vault.Station.Close), so its error counts.
	defer func() {
		if cerr := svc.Close(); err == nil {
			err = cerr
		}
	}()
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
