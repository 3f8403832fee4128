package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"enrollstation/exporter"
)

// issuerCommands are the issuer-side commands: keys, verification, acknowledgements.
func issuerCommands() []Command {
	return []Command{verifyCommand(), serveCommand(), {
		Name:    "issuer keygen",
		Args:    "--out DIR [--force] [--json]",
		Summary: "make an issuer key pair (issuer.key, issuer.pub) for pilots and tests",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			out := fs.String("out", "", "write issuer.key (0600) and issuer.pub into `DIR`")
			force := fs.Bool("force", false, "overwrite existing key files")
			asJSON := fs.Bool("json", false, "print the result as JSON")
			return func(ctx context.Context, env *Env, args []string) error {
				if *out == "" || len(args) > 0 {
					return fmt.Errorf("%w: give --out DIR and no arguments", ErrUsage)
				}
				k, err := exporter.GenerateIssuerKey()
				if err != nil {
					return err
				}
				priv, err := k.MarshalText()
				if err != nil {
					return err
				}
				pub, err := k.Public().MarshalText()
				if err != nil {
					return err
				}
				if err := os.MkdirAll(*out, 0o700); err != nil {
					return err
				}
				privPath, pubPath := filepath.Join(*out, "issuer.key"), filepath.Join(*out, "issuer.pub")
				if err := writeNew(privPath, priv, 0o600, *force); err != nil {
					return err
				}
				if err := writeNew(pubPath, pub, 0o644, *force); err != nil {
					return err
				}
				if *asJSON {
					return json.NewEncoder(env.Stdout).Encode(map[string]string{
						"private_key": privPath, "public_key": pubPath, "fingerprint": k.Public().Fingerprint()})
				}
				fmt.Fprintf(env.Stdout, "private key  %s (keep it secret, mode 0600)\npublic key   %s (give it to stations)\nfingerprint  %s\n",
					privPath, pubPath, k.Public().Fingerprint())
				return nil
			}
		},
	}, {
		Name:    "issuer ack",
		Args:    "--issuer-key K --station-key P [--seq N] [--reject ID=REASON[:DETAIL]]... --out FILE BUNDLE",
		Summary: "verify a bundle and write the signed acknowledgement the station imports",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			keys := keyFlags(fs)
			out := fs.String("out", "", "write the acknowledgement to `FILE`")
			seq := fs.Uint64("seq", 0, "acknowledgement sequence `N` for this station, above every earlier one (default: the time in microseconds)")
			rejects := map[string]exporter.Rejection{}
			fs.Func("reject", "refuse record `ID=REASON[:DETAIL]` (repeatable; REASON one of "+strings.Join(exporter.RecordRefusalReasons, ", ")+"); every other record is accepted", func(s string) error {
				id, rest, ok := strings.Cut(s, "=")
				reason, detail, _ := strings.Cut(rest, ":")
				if !ok || id == "" || !slices.Contains(exporter.RecordRefusalReasons, reason) {
					return fmt.Errorf("want ID=REASON[:DETAIL], REASON one of %s", strings.Join(exporter.RecordRefusalReasons, ", "))
				}
				rejects[id] = exporter.Rejection{EnrollmentID: id, Reason: reason, Detail: detail}
				return nil
			})
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) != 1 || *out == "" {
					return fmt.Errorf("%w: give --out FILE and one BUNDLE", ErrUsage)
				}
				b, err := keys.open(args[0])
				if err != nil {
					if errors.Is(err, ErrUsage) {
						return err
					}
					fmt.Fprintf(env.Stderr, "FAIL %s: %s\n", reason(err), printable(err.Error()))
					return ExitError{Code: 1}
				}
				for id := range rejects {
					if !hasRecord(b, id) {
						return fmt.Errorf("%w: --reject %s: no such record in the bundle", ErrUsage, printable(id))
					}
				}
				now := time.Now()
				n := *seq
				if n == 0 {
					n = uint64(now.UnixMicro())
				}
				ack, err := exporter.Acknowledge(keys.issuer, b, n, rejects, now)
				if err != nil {
					return err
				}
				if err := writeNew(*out, ack, 0o644, true); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "acknowledged bundle %s (acknowledgement %d): %d accepted, %d refused → %s\n", b.ID, n, len(b.Records)-len(rejects), len(rejects), *out)
				return nil
			}
		},
	}, {
		Name:    "issuer nack",
		Args:    "--issuer-key K --station-key P --reason CODE [--detail TEXT] [--seq N] --out FILE BUNDLE",
		Summary: "refuse a whole bundle: the station puts its records back for a new export",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			keys := keyFlags(fs)
			out := fs.String("out", "", "write the negative acknowledgement to `FILE`")
			seq := fs.Uint64("seq", 0, "acknowledgement sequence `N` for this station (default: the time in microseconds)")
			reason := fs.String("reason", "", "refusal reason `CODE`: a verify reason code, policy or other")
			detail := fs.String("detail", "", "free `TEXT` for the station's supervisor")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) != 1 || *out == "" || !slices.Contains(exporter.BundleRefusalReasons, *reason) {
					return fmt.Errorf("%w: give --out FILE, --reason CODE (one of %s) and one BUNDLE", ErrUsage, strings.Join(exporter.BundleRefusalReasons, ", "))
				}
				// A bundle that does not open is refused too: it is named by its file's
				// hash, the station key given and its file name.
				ref := exporter.BundleRef{}
				b, err := keys.open(args[0])
				switch {
				case errors.Is(err, ErrUsage):
					return err
				case err == nil:
					ref = exporter.BundleRef{ID: b.ID, SHA256: b.SHA256, Seq: b.Seq, StationID: b.StationID}
				default:
					data, rerr := os.ReadFile(args[0])
					if rerr != nil {
						return rerr
					}
					ref.SHA256 = sha256.Sum256(data)
					ref.ID = strings.TrimSuffix(filepath.Base(args[0]), exporter.FileExt)
					if ref.StationID, err = exporter.StationID(keys.station); err != nil {
						return err
					}
				}
				now := time.Now()
				n := *seq
				if n == 0 {
					n = uint64(now.UnixMicro())
				}
				nack, err := exporter.Refuse(keys.issuer, ref, n, *reason, *detail, now)
				if err != nil {
					return fmt.Errorf("%w: %v", ErrUsage, err)
				}
				if err := writeNew(*out, nack, 0o644, true); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "refused bundle %s (acknowledgement %d): %s → %s\n", ref.ID, n, *reason, *out)
				return nil
			}
		},
	}}
}

// serveCommand runs the reference upload receiver (docs/bundle-format.md, "HTTPS upload").
func serveCommand() Command {
	return Command{
		Name:    "issuer serve",
		Args:    "--dir DIR --tls-cert FILE --tls-key FILE --station-key FILE... [--addr HOST:PORT] [--max-size BYTES]",
		Summary: "receive bundle uploads from registered stations into a directory (reference receiver, mutual TLS)",
		Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			dir := fs.String("dir", "", "store received bundles in `DIR`")
			addr := fs.String("addr", "127.0.0.1:8443", "listen on `HOST:PORT`")
			cert := fs.String("tls-cert", "", "server TLS certificate `FILE` (PEM)")
			key := fs.String("tls-key", "", "server TLS private key `FILE` (PEM)")
			maxSize := fs.Int64("max-size", 4<<30, "refuse bundles larger than `BYTES`")
			var stations []*ecdsa.PublicKey
			fs.Func("station-key", "accept uploads from the station with this public key `FILE` (PEM PUBLIC KEY; repeatable)", func(p string) error {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				k, err := exporter.ParseStationPublicKey(b)
				if err != nil {
					return err
				}
				stations = append(stations, k)
				return nil
			})
			return func(ctx context.Context, env *Env, args []string) error {
				if *dir == "" || len(args) > 0 || *cert == "" || *key == "" || len(stations) == 0 {
					return fmt.Errorf("%w: give --dir DIR, --tls-cert and --tls-key, and --station-key for each registered station", ErrUsage)
				}
				sc, err := tls.LoadX509KeyPair(*cert, *key)
				if err != nil {
					return fmt.Errorf("%w: --tls-cert/--tls-key: %v", ErrUsage, err)
				}
				if err := os.MkdirAll(*dir, 0o700); err != nil {
					return err
				}
				ln, err := net.Listen("tcp", *addr)
				if err != nil {
					return err
				}
				rc := exporter.NewReceiver(*dir, stations...)
				rc.MaxSize = *maxSize
				srv := &http.Server{Handler: rc, TLSConfig: rc.TLSConfig(sc), ReadHeaderTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
				fmt.Fprintf(env.Stdout, "receiving bundles from %d registered station(s) into %s at https://%s\n", len(stations), *dir, ln.Addr())
				errc := make(chan error, 1)
				go func() { errc <- srv.ServeTLS(ln, "", "") }()
				select {
				case err := <-errc:
					return err
				case <-ctx.Done():
					sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					return srv.Shutdown(sctx)
				}
			}
		},
	}
}

func hasRecord(b *exporter.Bundle, id string) bool {
	for _, r := range b.Records {
		if r.EnrollmentID == id {
			return true
		}
	}
	return false
}

// writeNew writes a file, refusing to replace an existing one unless overwrite is set.
func writeNew(path string, b []byte, perm os.FileMode, overwrite bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if overwrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists; use --force to replace it", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil { // O_TRUNC keeps an old file's mode
		f.Close()
		return err
	}
	return f.Close()
}
