package swtpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// DefaultCADir is the directory of swtpm's local CA (swtpm-localca), as Debian's
// /etc/swtpm-localca.conf names it. scripts/setup creates the CA there; an issuer that
// accepts software TPMs for tests trusts the certificates in it.
const DefaultCADir = "/var/lib/swtpm-localca"

// ErrSetupNotInstalled means swtpm_setup or swtpm_localca could not be found.
var ErrSetupNotInstalled = errors.New("swtpm: swtpm_setup / swtpm_localca are not installed (apt-get install swtpm-tools)")

// stateFile is the file swtpm keeps a TPM 2.0's permanent state in.
const stateFile = "tpm2-00.permall"

// HasState reports whether stateDir already holds a TPM 2.0 state.
func HasState(stateDir string) bool {
	_, err := os.Stat(filepath.Join(stateDir, stateFile))
	return err == nil
}

// Manufacture provisions a new TPM 2.0 state in stateDir as a TPM factory does, with
// swtpm_setup: an RSA-2048 and an ECC EK, their certificates (NV 0x01c00002, 0x01c00016)
// and a platform certificate (NV 0x01c08000), all signed by swtpm's local CA in caDir.
// The CA (a root and an intermediate "issuer" certificate) is created in caDir on first
// use, so a test can make its own CA in a temporary directory. A state that exists
// already is left as it is.
func Manufacture(ctx context.Context, stateDir, caDir string) error {
	if HasState(stateDir) {
		return nil
	}
	setup, err := exec.LookPath("swtpm_setup")
	if err != nil {
		return ErrSetupNotInstalled
	}
	localca, err := exec.LookPath("swtpm_localca")
	if err != nil {
		return ErrSetupNotInstalled
	}
	if caDir == "" {
		return errors.New("swtpm: no CA directory given")
	}
	if err := os.MkdirAll(caDir, 0o750); err != nil {
		return fmt.Errorf("swtpm: creating CA directory: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("swtpm: creating state directory: %w", err)
	}
	// Our own configuration files, so that the CA directory is the one asked for and
	// nothing depends on what /etc/swtpm_setup.conf says.
	conf, err := os.MkdirTemp("", "swtpm-setup-")
	if err != nil {
		return fmt.Errorf("swtpm: %w", err)
	}
	defer os.RemoveAll(conf)
	caConf := filepath.Join(conf, "swtpm-localca.conf")
	caOpts := filepath.Join(conf, "swtpm-localca.options")
	setupConf := filepath.Join(conf, "swtpm_setup.conf")
	files := map[string]string{
		caConf: fmt.Sprintf("statedir = %[1]s\nsigningkey = %[1]s/signkey.pem\nissuercert = %[1]s/issuercert.pem\ncertserial = %[1]s/certserial\n", caDir),
		caOpts: "--platform-manufacturer EnrollStation\n--platform-version 2.1\n--platform-model swtpm\n",
		setupConf: fmt.Sprintf("create_certs_tool = %s\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha256\n",
			localca, caConf, caOpts),
	}
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			return fmt.Errorf("swtpm: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, setup, "--tpm2", "--tpm-state", stateDir,
		"--create-ek-cert", "--create-platform-cert", "--not-overwrite", "--config", setupConf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("swtpm: swtpm_setup for %s with CA %s: %v: %s", stateDir, caDir, err, bytes.TrimSpace(out.Bytes()))
	}
	if !HasState(stateDir) {
		return fmt.Errorf("swtpm: swtpm_setup left no TPM state in %s: %s", stateDir, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
