package cli

import (
	"context"
	"flag"
	"fmt"

	"enrollstation/enroll"
	"enrollstation/vault"
)

// receiptCommands reprint a citizen's receipt (issue 16).
func receiptCommands() []Command {
	return []Command{{
		Name:    "receipt print",
		Args:    "APPLICATION-NUMBER [--printer NAME] --as USER",
		Summary: "reprint an enrollment's receipt on the station's receipt printer (or --printer); audited",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			as := fs.String("as", "", "operator `NAME` printing (clerk, supervisor or administrator)")
			queue := fs.String("printer", "", "CUPS printer `NAME` (default: the station's receipt printer)")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) != 1 || *as == "" {
					return fmt.Errorf("%w: one APPLICATION-NUMBER and --as USER expected", ErrUsage)
				}
				return withSession(env, *as, func(st *vault.Station, who *vault.Session) error {
					e, err := enroll.FindApplication(st, args[0])
					if err != nil {
						return err
					}
					pdf, err := enroll.ReceiptPDF(st, e, enroll.EnglishReceipt)
					if err != nil {
						return err
					}
					job, err := enroll.PrintReceipt(ctx, st, who, e, pdf, *queue)
					if err != nil {
						return err
					}
					fmt.Fprintf(env.Stdout, "printed the receipt of %s (enrollment %s) as job %s\n", e.Demographics.ApplicationNumber, e.ID, job)
					if len(e.Portrait) == 0 {
						fmt.Fprintln(env.Stdout, "note: the portrait is no longer kept on this station; the receipt has none")
					}
					return nil
				})
			}
		},
	}}
}
