package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"enrollstation/enroll"
)

// TestCommonFlagsBeforeCommand: "enrollstation --data D selftest" runs the command with
// the data directory, not the window.
func TestCommonFlagsBeforeCommand(t *testing.T) {
	var got struct {
		data, tpm string
		verbose   bool
		args      []string
		ran, gui  bool
	}
	cmds := []Command{{Name: "sub cmd", Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
		v := fs.Bool("verbose", false, "")
		return func(_ context.Context, env *Env, args []string) error {
			got.ran, got.data, got.tpm, got.verbose, got.args = true, env.Data, env.TPM, *v, args
			return nil
		}
	}}}
	gui := &Root{Window: func(context.Context, enroll.Config, enroll.Opener, bool, io.Writer) error { got.gui = true; return nil }}
	for _, tc := range []struct {
		args      []string
		data, tpm string
		verbose   bool
		rest      []string
	}{
		{[]string{"--data", "D", "sub", "cmd"}, "D", "auto", false, nil},
		{[]string{"--data=D", "--tpm", "swtpm", "sub", "cmd", "--verbose", "x"}, "D", "swtpm", true, []string{"x"}},
		{[]string{"--password-stdin", "sub", "cmd", "--data", "E"}, "E", "auto", false, nil},
		{[]string{"sub", "cmd", "--data", "F", "y"}, "F", "auto", false, []string{"y"}},
	} {
		got.ran, got.gui = false, false
		var out, errb bytes.Buffer
		if code := Main(context.Background(), tc.args, strings.NewReader(""), &out, &errb, cmds, gui); code != 0 {
			t.Fatalf("%q: exit %d: %s", tc.args, code, errb.String())
		}
		if !got.ran || got.gui {
			t.Fatalf("%q: ran=%v gui=%v", tc.args, got.ran, got.gui)
		}
		if got.data != tc.data || got.tpm != tc.tpm || got.verbose != tc.verbose || !reflect.DeepEqual(got.args, tc.rest) && len(got.args)+len(tc.rest) > 0 {
			t.Errorf("%q: data=%q tpm=%q verbose=%v args=%q", tc.args, got.data, got.tpm, got.verbose, got.args)
		}
	}
	// Common flags alone (and --demo) still start the window.
	for _, args := range [][]string{{"--data", "D"}, {"--data", "D", "--demo"}, {"--demo", "--data", "D"}} {
		got.ran, got.gui = false, false
		var out, errb bytes.Buffer
		if code := Main(context.Background(), args, strings.NewReader(""), &out, &errb, cmds, gui); code != 0 || !got.gui || got.ran {
			t.Errorf("%q: exit %d gui=%v ran=%v %s", args, code, got.gui, got.ran, errb.String())
		}
	}
	// An unknown command after common flags is named as such.
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"--data", "D", "bogus"}, strings.NewReader(""), &out, &errb, cmds, gui); code != 2 || !strings.Contains(errb.String(), `unknown command "bogus"`) {
		t.Errorf("bogus: exit %d: %s", code, errb.String())
	}
}
