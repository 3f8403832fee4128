package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"enrollstation/biometrics"
	"enrollstation/enroll"
	"enrollstation/exporter"
)

// enrollCommands is the scripted clerk path (issue 6/7): enroll from a details file and a
// photo, with the same assessment, crop, template and duplicate search as the capture
// screen.
func enrollCommands() []Command {
	return []Command{{
		Name:    "enroll",
		Args:    "--details FILE.json --photo IMG --as CLERK [--force --reason TEXT] [--json]",
		Summary: "enrol a citizen from a details file and a photo; prints the enrollment ID",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			details := fs.String("details", "", "citizen details `FILE` (JSON, see docs/examples/enrollment.json)")
			photo := fs.String("photo", "", "portrait photo `IMG` (JPEG or PNG)")
			as := fs.String("as", "", "clerk `NAME` enrolling (consent is taken as collected by them)")
			force := fs.Bool("force", false, "accept a photo that fails the quality checks (needs --reason)")
			reason := fs.String("reason", "", "why a failing photo is accepted, with --force")
			asJSON := fs.Bool("json", false, "print the result as JSON")
			return func(ctx context.Context, env *Env, args []string) error {
				switch {
				case len(args) > 0:
					return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
				case *details == "" || *photo == "" || *as == "":
					return fmt.Errorf("%w: --details FILE, --photo IMG and --as CLERK are required", ErrUsage)
				case *force && *reason == "":
					return fmt.Errorf("%w: --force needs --reason TEXT", ErrUsage)
				case *reason != "" && !*force:
					return fmt.Errorf("%w: --reason is only for --force", ErrUsage)
				}
				return runEnroll(env, enrollArgs{details: *details, photo: *photo, as: *as, force: *force, reason: *reason, json: *asJSON})
			}
		},
	}}
}

type enrollArgs struct {
	details, photo, as string
	force              bool
	reason             string
	json               bool
}

// enrollResult is what `enroll --json` prints.
type enrollResult struct {
	ID                string   `json:"id"`
	ApplicationNumber string   `json:"application_number"`
	Pass              bool     `json:"pass"`
	Score             int      `json:"score"`
	Failed            []string `json:"failed,omitempty"`
	Forced            bool     `json:"forced,omitempty"`
	Duplicates        []string `json:"duplicate_suspects,omitempty"`
}

func runEnroll(env *Env, a enrollArgs) error {
	raw, err := os.ReadFile(a.details)
	if err != nil {
		return fmt.Errorf("reading the details file: %w", err)
	}
	id, err := exporter.ParseIdentity(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", a.details, err)
	}
	d := enroll.DetailsFromIdentity(id).Normalize()
	if err := d.Validate(time.Now()); err != nil {
		return fmt.Errorf("%s: %w", a.details, err)
	}
	img, err := os.ReadFile(a.photo)
	if err != nil {
		return fmt.Errorf("reading the photo: %w", err)
	}
	m, err := biometrics.DecodeImage(img)
	if err != nil {
		return fmt.Errorf("%s: %w", a.photo, err)
	}
	defer m.Close()

	// The service judges the photo with the station's settings (the administrator's
	// quality thresholds), exactly as the capture screen does.
	return withService(env, func(svc *enroll.Service) error {
		clerk, err := loginAs(env, svc.Station(), a.as)
		if err != nil {
			return err
		}
		pe, err := svc.EnrollPhoto(clerk, d, m, enroll.PhotoOptions{Source: a.photo, Force: a.force, Reason: a.reason, Now: time.Now()})
		var qe *enroll.QualityError
		switch {
		case enroll.NoUsableFace(err):
			fmt.Fprintf(env.Stderr, "enroll: %s: no usable face in the photo; it cannot be enrolled, even with --force\n", a.photo)
			return ExitError{Code: 1}
		case errors.As(err, &qe):
			fmt.Fprintf(env.Stderr, "enroll: %s fails the quality checks (score %d): %v\n  guidance: %s\n  use --force --reason TEXT to accept it anyway\n",
				a.photo, qe.Report.Score, qe.Report.Failed, qe.Report.Guidance.Text)
			return ExitError{Code: 1}
		case err != nil:
			return err
		}
		c, e, appNo := pe.Capture, pe.Enrollment, pe.AppNo
		res := enrollResult{ID: e.ID, ApplicationNumber: appNo, Pass: c.Report.Pass, Score: c.Report.Score, Forced: c.Forced}
		for _, f := range c.Report.Failed {
			res.Failed = append(res.Failed, string(f))
		}
		for _, dd := range pe.Review.Duplicates {
			if dd.Match.Match {
				res.Duplicates = append(res.Duplicates, dd.ID)
			}
		}
		if a.json {
			enc := json.NewEncoder(env.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		fmt.Fprintln(env.Stdout, e.ID)
		fmt.Fprintf(env.Stderr, "application number %s, quality score %d", appNo, c.Report.Score)
		if c.Forced {
			fmt.Fprintf(env.Stderr, ", FORCED (%v)", c.Report.Failed)
		}
		if len(res.Duplicates) > 0 {
			fmt.Fprintf(env.Stderr, ", possible duplicate of %v", res.Duplicates)
		}
		fmt.Fprintln(env.Stderr)
		return nil
	})
}
