package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"enrollstation/selftest"
)

func selftestCommands() []Command {
	return []Command{{
		Name:    "selftest",
		Args:    "[--json]",
		Summary: "check models, face recognition, OpenCV, cameras, TPM, data dir and encrypted store",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			asJSON := fs.Bool("json", false, "print the results as JSON")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("%w: selftest takes no arguments", ErrUsage)
				}
				op, err := env.opener()
				if err != nil {
					return err
				}
				var report func(selftest.Result)
				if !*asJSON {
					report = func(r selftest.Result) { printResult(env, r) }
				}
				rs := selftest.Run(ctx, selftest.StationChecks(env.Config, op.OpenTPM, true), report)
				ok := selftest.Passed(rs)
				if *asJSON {
					enc := json.NewEncoder(env.Stdout)
					enc.SetIndent("", "  ")
					if err := enc.Encode(struct {
						OK     bool              `json:"ok"`
						Checks []selftest.Result `json:"checks"`
					}{ok, rs}); err != nil {
						return err
					}
				} else if ok {
					fmt.Fprintf(env.Stdout, "selftest: all %d checks passed\n", len(rs))
				} else {
					fmt.Fprintln(env.Stdout, "selftest: FAILED")
				}
				if !ok {
					return ExitError{Code: 1}
				}
				return nil
			}
		},
	}}
}

func printResult(env *Env, r selftest.Result) {
	mark := "PASS"
	switch {
	case !r.OK:
		mark = "FAIL"
	case r.Warning:
		mark = "WARN" // passes, but the hint says what to change
	}
	fmt.Fprintf(env.Stdout, "%s  %-14s %s\n", mark, r.Name, r.Detail)
	if r.Hint != "" {
		fmt.Fprintf(env.Stdout, "      hint: %s\n", r.Hint)
	}
}
