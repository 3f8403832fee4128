package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// clerkStation provisions a software-TPM station in a temporary data directory with the
// administrator root ("root-password") and the clerk clara ("clara-password"), and
// returns a runner of commands on it (common flags and --password-stdin added) and the
// data directory.
func clerkStation(t *testing.T, models string) (run func(stdin string, args ...string) (string, string, int), data string) {
	t.Helper()
	data = t.TempDir()
	all := Commands()
	run = func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		args = append(args, "--data", data, "--tpm", "swtpm", "--models", models, "--password-stdin")
		code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, all, testRoot)
		return out.String(), errb.String(), code
	}
	if _, e, code := run("root-password\n", "station", "init", "--admin", "root"); code != 0 {
		t.Fatalf("init: %s", e)
	}
	if _, e, code := run("root-password\nclara-password\n", "user", "add", "clara", "--roles", "clerk", "--as", "root"); code != 0 {
		t.Fatalf("user add: %s", e)
	}
	// The test subjects are candid photos a few degrees turned: the demo station's
	// head-pose limits (enroll.DemoQuality), set as an administrator would.
	if _, e, code := run("root-password\n", "settings", "set", "--quality", "MaxYaw=10", "--quality", "MaxPitch=10", "--as", "root"); code != 0 {
		t.Fatalf("settings set: %s", e)
	}
	return run, data
}
