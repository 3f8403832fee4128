package cli

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"enrollstation/exporter"
	"enrollstation/exporter/attestation"
)

// bundleKeys are the flags and keys the issuer-side commands share.
type bundleKeys struct {
	issuerPath, stationPath, prevHash string
	afterSeq                          uint64
	issuer                            *exporter.IssuerPrivateKey
	station                           *ecdsa.PublicKey
	regPath                           string
	reg                               *attestation.Registration // from --station (see attest.go)
}

func keyFlags(fs *flag.FlagSet) *bundleKeys {
	k := &bundleKeys{}
	fs.StringVar(&k.issuerPath, "issuer-key", "", "issuer private key `FILE` (from issuer keygen)")
	fs.StringVar(&k.stationPath, "station-key", "", "station public key `FILE` (PEM PUBLIC KEY; for stations without a registration)")
	fs.StringVar(&k.regPath, "station", "", "station registration `FILE` (station.reg, from issuer register)")
	fs.Uint64Var(&k.afterSeq, "after-seq", 0, "sequence number `N` of the last bundle accepted from this station")
	fs.StringVar(&k.prevHash, "prev-hash", "", "SHA-256 `HEX` of the last bundle accepted from this station")
	return k
}

// open loads the keys and opens the bundle file. Key problems are usage errors; bundle
// problems come back as exporter errors.
func (k *bundleKeys) open(path string) (*exporter.Bundle, error) {
	if k.issuerPath == "" || (k.stationPath == "") == (k.regPath == "") {
		return nil, fmt.Errorf("%w: --issuer-key and one of --station or --station-key are required", ErrUsage)
	}
	b, err := os.ReadFile(k.issuerPath)
	if err != nil {
		return nil, fmt.Errorf("%w: --issuer-key: %v", ErrUsage, err)
	}
	if k.issuer, err = exporter.ParseIssuerPrivateKey(b); err != nil {
		return nil, fmt.Errorf("%w: --issuer-key %s: %v", ErrUsage, k.issuerPath, err)
	}
	if k.regPath != "" {
		if err := k.loadRegistration(); err != nil {
			return nil, err
		}
	} else {
		if b, err = os.ReadFile(k.stationPath); err != nil {
			return nil, fmt.Errorf("%w: --station-key: %v", ErrUsage, err)
		}
		if k.station, err = exporter.ParseStationPublicKey(b); err != nil {
			return nil, fmt.Errorf("%w: --station-key %s: %v", ErrUsage, k.stationPath, err)
		}
	}
	opts := exporter.OpenOptions{AfterSeq: k.afterSeq}
	if k.prevHash != "" {
		if opts.PrevHash, err = hex.DecodeString(k.prevHash); err != nil || len(opts.PrevHash) != 32 {
			return nil, fmt.Errorf("%w: --prev-hash wants 64 hex digits", ErrUsage)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	defer f.Close()
	bundle, err := exporter.Open(f, k.issuer, k.station, opts)
	if err != nil || k.reg == nil {
		return bundle, err
	}
	return bundle, k.checkRegistered(bundle)
}

func verifyCommand() Command {
	return Command{
		Name:    "verify",
		Args:    "--issuer-key K (--station station.reg | --station-key P) [--after-seq N] [--prev-hash H] [--open DIR] [--json] BUNDLE",
		Summary: "issuer side: verify and decrypt a bundle, naming exactly what failed",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			keys := keyFlags(fs)
			openDir := fs.String("open", "", "write the records out under `DIR` (one directory per enrollment)")
			asJSON := fs.Bool("json", false, "print the result as JSON")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) != 1 {
					return fmt.Errorf("%w: give one BUNDLE file", ErrUsage)
				}
				b, err := keys.open(args[0])
				if err != nil {
					if errors.Is(err, ErrUsage) {
						return err
					}
					// The reason code is the stable verdict (docs/bundle-format.md, "Reason
					// codes"); the message is escaped: a bundle must not reach the
					// issuer's terminal with control sequences.
					if *asJSON {
						json.NewEncoder(env.Stdout).Encode(map[string]any{"ok": false, "reason": reason(err), "error": printable(err.Error())})
					}
					fmt.Fprintf(env.Stderr, "FAIL %s: %s\n", reason(err), printable(err.Error()))
					return ExitError{Code: 1}
				}
				if *openDir != "" {
					if err := exporter.WriteRecords(*openDir, b); err != nil {
						return err
					}
				}
				if *asJSON {
					ids := make([]string, len(b.Records))
					for i, r := range b.Records {
						ids[i] = r.EnrollmentID
					}
					return json.NewEncoder(env.Stdout).Encode(map[string]any{
						"ok": true, "reason": "ok", "format": b.Version, "bundle_id": b.ID, "seq": b.Seq, "sha256": hex.EncodeToString(b.SHA256[:]),
						"station_id": hex.EncodeToString(b.StationID[:]), "records": ids})
				}
				if err := exporter.WriteReport(env.Stdout, b); err != nil {
					return err
				}
				if *openDir != "" {
					fmt.Fprintf(env.Stdout, "opened       %d records under %s\n", len(b.Records), *openDir)
				}
				return nil
			}
		},
	}
}

// printable escapes what came from a bundle or a file for a terminal (exporter.Escape).
func printable(s string) string { return exporter.Escape(s) }
