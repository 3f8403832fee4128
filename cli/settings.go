package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"enrollstation/enroll"
	"enrollstation/vault"
)

// qualityFlags collects repeated --quality NAME=VALUE flags.
type qualityFlags []string

func (q *qualityFlags) String() string     { return strings.Join(*q, ",") }
func (q *qualityFlags) Set(s string) error { *q = append(*q, s); return nil }

// settingsCommands are the administrator's station settings (issue 12): the quality
// thresholds the capture screen and `enroll` judge photos with.
func settingsCommands() []Command {
	return []Command{
		{
			Name:    "settings set",
			Args:    "--quality NAME=VALUE... --as ADMIN",
			Summary: "change the station's quality thresholds (administrator; audited); VALUE 'default' drops an override",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				var quality qualityFlags
				fs.Var(&quality, "quality", "threshold `NAME=VALUE` (repeatable), e.g. MinInterEye=120; see 'settings show'")
				as := fs.String("as", "", "administrator `NAME` making the change")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) > 0 {
						return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
					}
					if len(quality) == 0 || *as == "" {
						return fmt.Errorf("%w: one or more --quality NAME=VALUE and --as ADMIN expected", ErrUsage)
					}
					set := map[string]*float64{}
					for _, q := range quality {
						name, v, err := enroll.ParseQualityAssignment(q)
						if err != nil {
							return fmt.Errorf("%w: --quality %v", ErrUsage, err)
						}
						set[name] = v
					}
					return withSession(env, *as, func(st *vault.Station, admin *vault.Session) error {
						if err := enroll.SetQuality(st, admin, set); err != nil {
							if errors.Is(err, vault.ErrInvalid) {
								return fmt.Errorf("%w: %v", ErrUsage, err)
							}
							return err
						}
						qs, err := enroll.QualitySettings(st)
						if err != nil {
							return err
						}
						for _, q := range qs {
							if _, ok := set[q.Name]; ok {
								fmt.Fprintf(env.Stdout, "%s = %g (default %g)\n", q.Name, q.Value, q.Default)
							}
						}
						return nil
					})
				}
			},
		},
		{
			Name:    "settings show",
			Args:    "[--json]",
			Summary: "the station's settings and the quality thresholds photos are judged with",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				asJSON := fs.Bool("json", false, "print the settings as JSON")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) > 0 {
						return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
					}
					return withStation(env, func(st *vault.Station) error {
						s, err := enroll.Settings(st)
						if err != nil {
							return err
						}
						qs, err := enroll.QualitySettings(st)
						if err != nil {
							return err
						}
						issuer := ""
						if k, err := enroll.IssuerKey(st); err == nil {
							issuer = k.Fingerprint()
						} else if !errors.Is(err, enroll.ErrNoIssuerKey) {
							return err
						}
						if *asJSON {
							return stationJSON(env.Stdout, struct {
								Name             string                  `json:"station_name"`
								Site             string                  `json:"site"`
								RetentionDays    int                     `json:"retention_days"`
								LockoutThreshold int                     `json:"lockout_threshold"`
								IdleLockMinutes  int                     `json:"idle_lock_minutes"`
								Language         string                  `json:"language"`
								ActiveProfile    string                  `json:"active_profile"`
								IssuerKey        string                  `json:"issuer_key_fingerprint"`
								Quality          []enroll.QualitySetting `json:"quality"`
							}{s.StationName, s.Site, s.RetentionDays, s.LockoutThreshold, s.IdleLockMinutes, s.Language, s.ActiveProfile, issuer, qs})
						}
						w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
						fmt.Fprintf(w, "station name\t%s\n", s.StationName)
						fmt.Fprintf(w, "site\t%s\n", s.Site)
						fmt.Fprintf(w, "retention\t%d days\n", s.RetentionDays)
						fmt.Fprintf(w, "lockout threshold\t%d failed logins\n", s.LockoutThreshold)
						fmt.Fprintf(w, "idle lock\t%d minutes (0: default)\n", s.IdleLockMinutes)
						fmt.Fprintf(w, "language\t%s\n", s.Language)
						fmt.Fprintf(w, "camera profile\t%s\n", s.ActiveProfile)
						fmt.Fprintf(w, "issuer key\t%s\n", issuer)
						fmt.Fprintln(w, "\nquality threshold\tvalue\tdefault\trange\t")
						for _, q := range qs {
							mark := ""
							if q.Override {
								mark = "  (set by the administrator)"
							}
							fmt.Fprintf(w, "%s\t%g\t%g\t%g..%g %s\t%s\n", q.Name, q.Value, q.Default, q.Min, q.Max, q.Unit, mark)
						}
						return w.Flush()
					})
				}
			},
		},
	}
}
