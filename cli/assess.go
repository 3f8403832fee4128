package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"enrollstation/biometrics"
)

func assessCommands() []Command {
	return []Command{{
		Name:    "assess",
		Args:    "[--json | --ofiq-csv] [--portraits DIR] IMAGE...",
		Summary: "judge face images (JPEG or PNG) against the ISO/IEC 29794-5 quality measures; exit 1 if any image fails or cannot be read",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			asJSON := fs.Bool("json", false, "print the reports as JSON")
			portraits := fs.String("portraits", "", "also write each subject's ICAO portrait as `DIR`/NAME.portrait.jpg")
			ofiqCSV := fs.Bool("ofiq-csv", false, "print OFIQ's CSV layout (its column names; measures we do not compute are empty) to put beside OFIQ's output")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) == 0 {
					return fmt.Errorf("%w: name at least one image", ErrUsage)
				}
				if *asJSON && *ofiqCSV {
					return fmt.Errorf("%w: --json and --ofiq-csv exclude each other", ErrUsage)
				}
				csv := biometrics.NewOFIQCSV(env.Stdout)
				rec, err := biometrics.NewRecognizer(env.Models)
				if err != nil {
					return err
				}
				defer rec.Close()
				a := biometrics.NewAssessor(rec, biometrics.DefaultConfig())
				defer a.Close()
				type result struct {
					File     string             `json:"file"`
					Error    string             `json:"error,omitempty"`
					Report   *biometrics.Report `json:"report,omitempty"`
					Portrait string             `json:"portrait,omitempty"`
				}
				var out []result
				allOK := true
				for _, path := range args {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					r := result{File: path}
					rep, err := assessFile(a, path)
					r.Report = rep
					if err != nil {
						r.Error = err.Error()
					}
					if err == nil && *portraits != "" {
						r.Portrait, err = writePortrait(path, *portraits, rep)
						if err != nil {
							r.Error = err.Error()
						}
					}
					if err != nil || !rep.Pass {
						allOK = false
					}
					switch {
					case *ofiqCSV:
						if err := csv.Write(path, rep); err != nil {
							return err
						}
						if r.Error != "" {
							fmt.Fprintf(env.Stderr, "%s: %s\n", path, r.Error)
						}
					case !*asJSON:
						printReport(env, r.File, rep, err, r.Portrait)
					}
					out = append(out, r)
				}
				if *asJSON {
					enc := json.NewEncoder(env.Stdout)
					enc.SetIndent("", "  ")
					if err := enc.Encode(out); err != nil {
						return err
					}
				}
				if !allOK {
					return ExitError{Code: 1}
				}
				return nil
			}
		},
	}, {
		Name:    "compare",
		Args:    "[--json] [--threshold D] A B",
		Summary: "compare the faces in two images 1:1 (distance, score, decision); exit 0 on a match, 1 otherwise",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			asJSON := fs.Bool("json", false, "print the result as JSON")
			threshold := fs.Float64("threshold", biometrics.DefaultThreshold, "match when the descriptor distance is at most `D` (calibration: docs/quality.md)")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) != 2 {
					return fmt.Errorf("%w: compare takes two images", ErrUsage)
				}
				if *threshold <= 0 || *threshold > 2 {
					return fmt.Errorf("%w: --threshold must be in (0, 2]", ErrUsage)
				}
				rec, err := biometrics.NewRecognizer(env.Models)
				if err != nil {
					return err
				}
				defer rec.Close()
				a := biometrics.NewAssessor(rec, biometrics.DefaultConfig())
				defer a.Close()
				var tpls [2]biometrics.Template
				for i, path := range args {
					rep, err := assessFile(a, path)
					if err != nil {
						return err
					}
					tpls[i] = *rep.Template
				}
				c, err := biometrics.Verify(tpls[0], tpls[1], *threshold)
				if err != nil {
					return err
				}
				if *asJSON {
					enc := json.NewEncoder(env.Stdout)
					enc.SetIndent("", "  ")
					if err := enc.Encode(struct {
						A string `json:"a"`
						B string `json:"b"`
						biometrics.Comparison
					}{args[0], args[1], c}); err != nil {
						return err
					}
				} else {
					decision := "different people"
					if c.Match {
						decision = "same person"
					}
					fmt.Fprintf(env.Stdout, "distance %.4f  score %.1f  threshold %.2f  => %s\n", c.Distance, c.Score, c.Threshold, decision)
				}
				if !c.Match {
					return ExitError{Code: 1}
				}
				return nil
			}
		},
	}}
}

// assessFile reads and assesses one image; a report without a face comes with an error.
func assessFile(a *biometrics.Assessor, path string) (*biometrics.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rep, err := a.AssessBytes(data)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}

func writePortrait(path, dir string, rep *biometrics.Report) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	img, err := biometrics.DecodeImage(data)
	if err != nil {
		return "", err
	}
	defer img.Close()
	p, _, err := biometrics.CropPortrait(img, *rep.Face, biometrics.PortraitConfig{})
	if err != nil {
		return "", err
	}
	defer p.Close()
	jpg, err := biometrics.EncodeJPEG(p, 92)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+".portrait.jpg")
	if err := os.WriteFile(out, jpg, 0o644); err != nil {
		return "", fmt.Errorf("writing portrait: %w", err)
	}
	return out, nil
}

func printReport(env *Env, file string, rep *biometrics.Report, err error, portrait string) {
	w := env.Stdout
	fmt.Fprintf(w, "%s\n", file)
	if rep == nil {
		fmt.Fprintf(w, "  error: %v\n\n", err)
		return
	}
	fmt.Fprintf(w, "  image %dx%d, %d face(s)", rep.Width, rep.Height, len(rep.Faces))
	if rep.Face != nil {
		fmt.Fprintf(w, "; subject box %v, landmarks %v", rep.Face.Rect, rep.Face.Landmarks)
	}
	fmt.Fprintln(w)
	for _, m := range rep.Measures {
		mark := "pass"
		if !m.Pass {
			mark = "FAIL"
		}
		if !m.Mandatory {
			mark += "?"
		}
		detail := ""
		if m.Detail != "" {
			detail = "  (" + m.Detail + ")"
		}
		fmt.Fprintf(w, "  %-5s %-28s %10.4g %-15s score %3d  limit %s%s\n", mark, m.ID, m.Raw, m.Unit, m.Score, m.Limit, detail)
	}
	verdict := "PASS"
	if !rep.Pass {
		verdict = "FAIL"
	}
	if errors.Is(err, biometrics.ErrNoFace) || rep.Face == nil {
		verdict = "FAIL (no face)"
	}
	fmt.Fprintf(w, "  verdict: %s  score %d  guidance: %s [%s]\n", verdict, rep.Score, rep.Guidance.Text, rep.Guidance.Key)
	if portrait != "" {
		fmt.Fprintf(w, "  portrait: %s\n", portrait)
	}
	if err != nil && rep.Face != nil {
		fmt.Fprintf(w, "  error: %v\n", err)
	}
	fmt.Fprintln(w, "  (? = advisory measure, not part of the verdict)")
	fmt.Fprintln(w)
}
