package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"enrollstation/exporter"
	"enrollstation/exporter/attestation"
	"enrollstation/vault"
)

// attestCommands are station attestation and registration (docs/bundle-format.md,
// "Station registration"): the station exports its attestation and answers the
// issuer's challenge; the issuer verifies, challenges and registers.
func attestCommands() []Command {
	return []Command{{
		Name:    "station attest",
		Args:    "--out FILE [--as ADMIN]",
		Summary: "export the TPM's EK certificate, an attestation key and certifications of the station and supervisor keys",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			out := fs.String("out", "", "write the attestation to `FILE` (station.att)")
			as := fs.String("as", "", "administrator `NAME` (needed the first time, to create the attestation key)")
			return func(ctx context.Context, env *Env, args []string) error {
				if *out == "" || len(args) > 0 {
					return fmt.Errorf("%w: give --out FILE and no arguments", ErrUsage)
				}
				return withStation(env, func(st *vault.Station) error {
					var admin *vault.Session
					if *as != "" {
						s, err := loginAs(env, st, *as)
						if err != nil {
							return err
						}
						admin = s
					}
					ev, err := st.Attest(admin, attestation.QualifyingData)
					if err != nil {
						return err
					}
					a := attestation.Attestation{
						StationID:      st.ID(),
						TPM:            attestation.TPMInfo{Manufacturer: ev.TPM.Manufacturer, Firmware: ev.TPM.Firmware},
						EKCertificates: ev.EKCertificates, EKPublic: ev.EKPublic, AKPublic: ev.AKPublic,
						Created: time.Now().UTC(),
					}
					for _, k := range ev.Keys {
						a.Keys = append(a.Keys, attestation.Key{Role: k.Role, ID: k.ID, Public: k.Public, Attestation: k.Attestation, Signature: k.Signature})
					}
					b, err := a.Marshal()
					if err != nil {
						return err
					}
					if err := writeNew(*out, b, 0o644, true); err != nil {
						return err
					}
					for _, name := range ev.Skipped {
						fmt.Fprintf(env.Stderr, "warning: supervisor %s's approval key predates attestation and is not certified; reset their password to give them a new key, then attest again\n", name)
					}
					fmt.Fprintf(env.Stdout, "attested station %s: EK certificate, attestation key, %d certified keys → %s\n", st.ID(), len(a.Keys), *out)
					return nil
				})
			}
		},
	}, {
		Name:    "station activate",
		Args:    "CHALLENGE --out FILE --as ADMIN",
		Summary: "answer the issuer's registration challenge with the TPM (credential activation)",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			out := fs.String("out", "", "write the answer to `FILE` (answer.bin)")
			as := fs.String("as", "", "administrator `NAME` authorising this")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) != 1 || *out == "" || *as == "" {
					return fmt.Errorf("%w: give one CHALLENGE file, --out FILE and --as ADMIN", ErrUsage)
				}
				b, err := os.ReadFile(args[0])
				if err != nil {
					return fmt.Errorf("%w: %v", ErrUsage, err)
				}
				c, err := attestation.ParseChallenge(b)
				if err != nil {
					return err
				}
				return withSession(env, *as, func(st *vault.Station, admin *vault.Session) error {
					if c.StationID != st.ID() {
						return fmt.Errorf("the challenge is for station %s, this is %s", c.StationID, st.ID())
					}
					secret, err := st.Activate(admin, c.AKName, c.CredentialBlob, c.EncryptedSecret)
					if err != nil {
						return err
					}
					ans := attestation.Answer{StationID: st.ID(), Secret: secret}
					b, err := ans.Marshal()
					if err != nil {
						return err
					}
					if err := writeNew(*out, b, 0o600, true); err != nil {
						return err
					}
					fmt.Fprintf(env.Stdout, "answered the challenge → %s (give it to the issuer)\n", *out)
					return nil
				})
			}
		},
	}, {
		Name: "issuer register",
		Args: "--attestation FILE --tpm-ca DIR --out PENDING --challenge-out FILE [--accept-software-tpm] | " +
			"--finish PENDING --answer FILE --out station.reg",
		Summary: "issuer side: verify a station's attestation, challenge its TPM, then write its registration",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			att := fs.String("attestation", "", "the station's attestation `FILE` (station.att)")
			caDir := fs.String("tpm-ca", "", "`DIR` of PEM CA certificates of the TPM manufacturers the issuer trusts")
			out := fs.String("out", "", "write the pending registration (first step) or the registration (--finish) to `FILE`")
			chOut := fs.String("challenge-out", "", "write the challenge for 'station activate' to `FILE`")
			acceptSW := fs.Bool("accept-software-tpm", false, "accept a software TPM (swtpm; tests and demos only, recorded in the registration)")
			finish := fs.String("finish", "", "complete the pending registration `FILE` with --answer")
			answer := fs.String("answer", "", "the station's answer `FILE` (answer.bin)")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) > 0 || *out == "" {
					return fmt.Errorf("%w: give --out FILE and no arguments", ErrUsage)
				}
				if *finish != "" {
					if *answer == "" || *att != "" || *chOut != "" {
						return fmt.Errorf("%w: --finish takes --answer and --out only", ErrUsage)
					}
					return registerFinish(env, *finish, *answer, *out)
				}
				if *att == "" || *caDir == "" || *chOut == "" {
					return fmt.Errorf("%w: give --attestation FILE, --tpm-ca DIR, --out FILE and --challenge-out FILE", ErrUsage)
				}
				b, err := os.ReadFile(*att)
				if err != nil {
					return fmt.Errorf("%w: %v", ErrUsage, err)
				}
				trust, err := attestation.LoadTrust(*caDir)
				if err != nil {
					return fmt.Errorf("%w: --tpm-ca: %v", ErrUsage, err)
				}
				a, err := attestation.ParseAttestation(b)
				if err == nil {
					var p *attestation.Pending
					var c *attestation.Challenge
					if p, c, err = attestation.Register(a, trust, attestation.RegisterOptions{AcceptSoftwareTPM: *acceptSW}); err == nil {
						return writeRegistrationStart(env, p, c, *out, *chOut)
					}
				}
				fmt.Fprintf(env.Stderr, "FAIL %s: %s\n", attestation.Reason(err), printable(err.Error()))
				return ExitError{Code: 1}
			}
		},
	}}
}

func writeRegistrationStart(env *Env, p *attestation.Pending, c *attestation.Challenge, out, chOut string) error {
	pb, err := p.Marshal()
	if err != nil {
		return err
	}
	cb, err := c.Marshal()
	if err != nil {
		return err
	}
	if err := writeNew(out, pb, 0o600, true); err != nil {
		return err
	}
	if err := writeNew(chOut, cb, 0o644, true); err != nil {
		return err
	}
	r := p.Registration
	fmt.Fprintf(env.Stdout, "station      %s\nTPM          %s (manufacturer %s, model %s, version %s)\nEK CA        %s\nkeys         station key and %d supervisor keys certified by the TPM\n",
		r.StationID, r.TPM.Kind, r.TPM.Manufacturer, r.TPM.Model, r.TPM.Version, r.TPM.CA, len(r.SupervisorKeys))
	if r.AcceptedSoftwareTPM {
		fmt.Fprintln(env.Stdout, "warning      software TPM accepted (--accept-software-tpm): not for production")
	}
	fmt.Fprintf(env.Stdout, "next         give %s to the station ('station activate'), then 'issuer register --finish %s --answer ANSWER --out station.reg'\n", chOut, out)
	return nil
}

func registerFinish(env *Env, pendingPath, answerPath, out string) error {
	pb, err := os.ReadFile(pendingPath)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	ab, err := os.ReadFile(answerPath)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	p, err := attestation.ParsePending(pb)
	var reg *attestation.Registration
	if err == nil {
		var a *attestation.Answer
		if a, err = attestation.ParseAnswer(ab); err == nil {
			reg, err = attestation.Finish(p, a, time.Now())
		}
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "FAIL %s: %s\n", attestation.Reason(err), printable(err.Error()))
		return ExitError{Code: 1}
	}
	b, err := reg.Marshal()
	if err != nil {
		return err
	}
	if err := writeNew(out, b, 0o644, true); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "registered station %s (%s TPM, %d supervisor keys) → %s\n", reg.StationID, reg.TPM.Kind, len(reg.SupervisorKeys), out)
	return nil
}

// loadRegistration reads --station: the registered station key replaces --station-key.
func (k *bundleKeys) loadRegistration() error {
	b, err := os.ReadFile(k.regPath)
	if err != nil {
		return fmt.Errorf("%w: --station: %v", ErrUsage, err)
	}
	reg, err := attestation.ParseRegistration(b)
	if err != nil {
		return fmt.Errorf("%w: --station %s: %v", ErrUsage, k.regPath, err)
	}
	if k.station, err = reg.StationPublicKey(); err != nil {
		return fmt.Errorf("%w: --station %s: %v", ErrUsage, k.regPath, err)
	}
	k.reg = reg
	return nil
}

// checkRegistered refuses a bundle whose approvals were signed by a key the station's
// TPM did not certify at registration.
func (k *bundleKeys) checkRegistered(b *exporter.Bundle) error {
	for _, r := range b.Records {
		if _, err := k.reg.Supervisor(r.Approval.SupervisorPublicKey); err != nil {
			return fmt.Errorf("approval of record %s (supervisor %q): %w", r.EnrollmentID, r.Approval.SupervisorID, err)
		}
	}
	return nil
}

// reason is the stable reason code of a verification failure, from the bundle reader or
// the registration check.
func reason(err error) string {
	if r := attestation.Reason(err); r != "error" {
		return r
	}
	return exporter.Reason(err)
}
