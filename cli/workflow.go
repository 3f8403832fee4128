package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"enrollstation/enroll"
	"enrollstation/exporter"
	"enrollstation/vault"
)

// workflowCommands are the supervisor's scripted commands (issue 6) and the issuer key
// import: approve, reject, batch close, export, batch ack, station set-issuer-key.
func workflowCommands() []Command {
	return []Command{
		{
			Name:    "approve",
			Args:    "ID... --as SUPERVISOR",
			Summary: "approve pending enrollments with the supervisor's TPM-held key",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				as := fs.String("as", "", "supervisor `NAME` approving")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) == 0 || *as == "" {
						return fmt.Errorf("%w: one or more enrollment IDs and --as SUPERVISOR expected", ErrUsage)
					}
					return withSession(env, *as, func(st *vault.Station, sup *vault.Session) error {
						for _, id := range args {
							if _, err := st.Approve(sup, id); err != nil {
								return fmt.Errorf("approving %s: %w", id, err)
							}
							fmt.Fprintf(env.Stdout, "approved %s\n", id)
						}
						return nil
					})
				}
			},
		},
		{
			Name:    "reject",
			Args:    "ID --reason CODE --as SUPERVISOR",
			Summary: "reject a pending enrollment with a reason code (" + strings.Join(enroll.RejectReasons, ", ") + ")",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				as := fs.String("as", "", "supervisor `NAME` rejecting")
				reason := fs.String("reason", "", "reason `CODE`: "+strings.Join(enroll.RejectReasons, ", "))
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) != 1 || *as == "" || *reason == "" {
						return fmt.Errorf("%w: one enrollment ID, --reason CODE and --as SUPERVISOR expected", ErrUsage)
					}
					return withSession(env, *as, func(st *vault.Station, sup *vault.Session) error {
						if err := enroll.Reject(st, sup, args[0], *reason); err != nil {
							if errors.Is(err, enroll.ErrUnknownReason) {
								return fmt.Errorf("%w: %v", ErrUsage, err)
							}
							return err
						}
						fmt.Fprintf(env.Stdout, "rejected %s (%s)\n", args[0], *reason)
						return nil
					})
				}
			},
		},
		{
			Name:    "batch close",
			Args:    "--as SUPERVISOR",
			Summary: "put every approved enrollment not yet in a batch into a new batch; prints the batch ID",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				as := fs.String("as", "", "supervisor `NAME` closing the batch")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) != 0 || *as == "" {
						return fmt.Errorf("%w: --as SUPERVISOR expected, no arguments", ErrUsage)
					}
					return withSession(env, *as, func(st *vault.Station, sup *vault.Session) error {
						b, err := enroll.CloseBatch(st, sup)
						if err != nil {
							return err
						}
						fmt.Fprintln(env.Stdout, b.ID)
						fmt.Fprintf(env.Stderr, "batch %s: %d enrollment(s)\n", b.ID, len(b.EnrollmentIDs))
						return nil
					})
				}
			},
		},
		{
			Name:    "batch quarantine",
			Args:    "ID --batch BATCH --as SUPERVISOR [--reason TEXT]",
			Summary: "take a damaged enrollment (integrity check failed) out of a closed batch so the rest can be exported (audited)",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				as := fs.String("as", "", "supervisor `NAME` deciding")
				batch := fs.String("batch", "", "closed batch `ID`")
				reason := fs.String("reason", "", "why, for the audit log (default: damaged record)")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) != 1 || *as == "" || *batch == "" {
						return fmt.Errorf("%w: one enrollment ID, --batch BATCH and --as SUPERVISOR expected", ErrUsage)
					}
					return withSession(env, *as, func(st *vault.Station, sup *vault.Session) error {
						if err := enroll.Quarantine(st, sup, *batch, args[0], *reason); err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "quarantined %s out of batch %s; export the batch again for the rest\n", args[0], *batch)
						return nil
					})
				}
			},
		},
		{
			Name:    "batch list",
			Args:    "[--json]",
			Summary: "the export history: each batch with its state (closed, queued, sent, confirmed, acknowledged)",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				asJSON := fs.Bool("json", false, "print as JSON")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) != 0 {
						return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
					}
					return withStation(env, func(st *vault.Station) error {
						bs, err := enroll.Batches(st)
						if err != nil {
							return err
						}
						if *asJSON {
							type row struct {
								ID          string             `json:"id"`
								State       enroll.ExportState `json:"state"`
								Enrollments int                `json:"enrollments"`
								Seq         uint64             `json:"bundle_seq,omitempty"`
								Location    string             `json:"location,omitempty"`
								Error       string             `json:"delivery_error,omitempty"`
								Accepted    int                `json:"issuer_accepted,omitempty"`
								Refused     int                `json:"issuer_refused,omitempty"`
							}
							rows := []row{}
							for _, b := range bs {
								rows = append(rows, row{b.ID, b.State, len(b.EnrollmentIDs), b.BundleSeq, b.Location, b.DeliveryError, b.AckAccepted, b.AckRefused})
							}
							return stationJSON(env.Stdout, rows)
						}
						for _, b := range bs {
							ack := ""
							if b.State == enroll.ExportAcknowledged {
								ack = fmt.Sprintf("  (issuer: %d accepted, %d refused)", b.AckAccepted, b.AckRefused)
							}
							fmt.Fprintf(env.Stdout, "%s  %-12s %3d enrollment(s)  %s%s\n", b.ID, b.State, len(b.EnrollmentIDs), b.Location, ack)
						}
						return nil
					})
				}
			},
		},
		{
			Name:    "export",
			Args:    "--batch ID --to DIR|URL --as SUPERVISOR",
			Summary: "build a closed batch's signed, encrypted bundle and deliver it; prints the bundle path or URL",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				as := fs.String("as", "", "supervisor `NAME` exporting")
				batch := fs.String("batch", "", "batch `ID` (from batch close)")
				to := fs.String("to", "", "a directory (e.g. USB media) or the issuer's https:// `URL`")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) != 0 || *as == "" || *batch == "" || *to == "" {
						return fmt.Errorf("%w: --batch ID, --to DIR|URL and --as SUPERVISOR expected", ErrUsage)
					}
					target, err := exporter.ParseTarget(*to)
					if err != nil {
						return fmt.Errorf("%w: --to: %v", ErrUsage, err)
					}
					return withSession(env, *as, func(st *vault.Station, sup *vault.Session) error {
						x, err := enroll.NewExporter(st, env.Data)
						if err != nil {
							return err
						}
						loc, err := x.Export(ctx, sup, *batch, target, nil)
						if err != nil {
							return err
						}
						fmt.Fprintln(env.Stdout, loc)
						return nil
					})
				}
			},
		},
		{
			Name:    "batch ack",
			Args:    "FILE --as SUPERVISOR",
			Summary: "import the issuer's signed acknowledgement of a bundle (purges that batch's biometrics)",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				as := fs.String("as", "", "supervisor `NAME` importing")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) != 1 || *as == "" {
						return fmt.Errorf("%w: one acknowledgement FILE and --as SUPERVISOR expected", ErrUsage)
					}
					ack, err := os.ReadFile(args[0])
					if err != nil {
						return err
					}
					return withSession(env, *as, func(st *vault.Station, sup *vault.Session) error {
						x, err := enroll.NewExporter(st, env.Data)
						if err != nil {
							return err
						}
						res, err := x.ImportAck(sup, ack)
						if err != nil {
							return err
						}
						if res.Refused {
							fmt.Fprintf(env.Stdout, "the issuer refused the bundle of batch %s (%s: %s); %d enrollment(s) returned for a new export\n",
								res.BatchID, res.Reason, exporter.Escape(res.Detail), res.Returned)
							return nil
						}
						fmt.Fprintf(env.Stdout, "batch %s acknowledged by the issuer; biometrics of %d enrollment(s) purged\n", res.BatchID, res.Purged)
						for _, r := range res.Rejected {
							fmt.Fprintf(env.Stdout, "refused by the issuer: %s (%s): biometrics kept; enrol again\n", r.EnrollmentID, exporter.Escape(r.Reason))
						}
						return nil
					})
				}
			},
		},
		{
			Name:    "station set-issuer-key",
			Args:    "FILE --as ADMIN",
			Summary: "replace the issuer public key bundles are encrypted to; prints its fingerprint",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				as := fs.String("as", "", "administrator `NAME` authorising this")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) != 1 || *as == "" {
						return fmt.Errorf("%w: one key FILE and --as ADMIN expected", ErrUsage)
					}
					key, err := os.ReadFile(args[0])
					if err != nil {
						return err
					}
					if _, err := enroll.CheckIssuerKey(key); err != nil {
						return err
					}
					return withSession(env, *as, func(st *vault.Station, admin *vault.Session) error {
						fp, err := enroll.SetIssuerKey(st, admin, key)
						if err != nil {
							return err
						}
						fmt.Fprintf(env.Stdout, "issuer key set; fingerprint:\n  %s\ncompare it with the fingerprint the issuer published\n", fp)
						return nil
					})
				}
			},
		},
	}
}
