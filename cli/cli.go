// Package cli is the command line of enrollstation: the GUI when no subcommand is given,
// and subcommands for technicians, scripts and the issuer.
//
// Every subcommand takes the common flags (--data, --tpm, --models, --camera,
// --password-stdin) after its name, then its own flags, then arguments.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/term"

	"enrollstation/enroll"
)

// Env is what a command runs with: the station's configuration (from the common
// flags), how to read passwords, the process's streams, and the opener main composed.
type Env struct {
	enroll.Config
	PasswordStdin bool // read passwords from stdin, one line each

	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	open       enroll.Opener
	stdinLines *bufio.Reader
}

// Root is what main composes for the command line: the opener of the station's
// resources for a configuration, and the window shown when no command is named.
type Root struct {
	Opener func(cfg enroll.Config) enroll.Opener
	Window func(ctx context.Context, cfg enroll.Config, op enroll.Opener, demo bool, stderr io.Writer) error
}

// defaultRoot is used when Main is given no Root: nil in the program (main always
// composes one); this package's tests set it to their opener over real resources.
var defaultRoot *Root

// opener is the Opener main composed for env's configuration.
func (e *Env) opener() (enroll.Opener, error) {
	if e.open == nil {
		return nil, errors.New("no station opener: the program was built without one")
	}
	return e.open, nil
}

// Command is one subcommand. Setup registers the command's own flags on fs (which already
// holds the common ones) and returns the function that runs it once flags are parsed.
type Command struct {
	Name    string // words after the program name, e.g. "camera list"
	Args    string // synopsis of the arguments, e.g. "[--json] IMAGE..."
	Summary string
	Setup   func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error
}

// ErrUsage marks a command-line mistake; Main prints the command's usage and exits 2.
var ErrUsage = errors.New("usage")

// ExitError carries a specific exit code (e.g. selftest or verify failing) after the
// command has already printed its own report.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Defaults returns the default data and models directories: $XDG_DATA_HOME/enrollstation
// (~/.local/share/enrollstation), and the models/ folder of a source checkout set up by
// scripts/setup when there is one beside the binary or in the working directory.
func Defaults() (data, models string) {
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		if h, err := os.UserHomeDir(); err == nil {
			base = filepath.Join(h, ".local", "share")
		} else {
			base = os.TempDir()
		}
	}
	data = filepath.Join(base, "enrollstation")
	models = filepath.Join(data, "models")
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	for _, dir := range append(dirs, ".") {
		if st, err := os.Stat(filepath.Join(dir, "models")); err == nil && st.IsDir() {
			if abs, err := filepath.Abs(filepath.Join(dir, "models")); err == nil {
				return data, abs
			}
		}
	}
	return data, models
}

// commonFlags registers the flags every subcommand (and the GUI) accepts.
func commonFlags(fs *flag.FlagSet, env *Env) {
	data, models := Defaults()
	fs.StringVar(&env.Data, "data", data, "station data `DIR`")
	fs.StringVar(&env.TPM, "tpm", "auto", "TPM to use: auto, /dev/tpmrm0, swtpm (software TPM kept in the data dir) or HOST:PORT")
	fs.StringVar(&env.Models, "models", models, "dlib models `DIR`")
	fs.StringVar(&env.Camera, "camera", "", "camera `SRC`: /dev/videoN, an index, a video file, gst:PIPELINE or synthetic")
	fs.BoolVar(&env.PasswordStdin, "password-stdin", false, "read passwords from standard input, one line per password asked")
}

// Password asks for one password: from stdin (one line) with --password-stdin,
// otherwise at the terminal without echo.
func (e *Env) Password(prompt string) (string, error) {
	if e.PasswordStdin {
		if e.stdinLines == nil {
			e.stdinLines = bufio.NewReader(e.Stdin)
		}
		line, err := e.stdinLines.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", fmt.Errorf("reading password for %q from standard input: %w", strings.TrimSuffix(prompt, ": "), io.ErrUnexpectedEOF)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("no terminal to ask for a password on: use --password-stdin")
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return "", fmt.Errorf("reading password: %w", err)
	}
	return string(pw), nil
}

// Main runs the program with os-style arguments (without the program name) and returns
// the process exit code. gui starts the window when no subcommand is named.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, cmds []Command, root *Root) int {
	if root == nil {
		root = defaultRoot
	}
	if root == nil {
		root = &Root{}
	}
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}

	// Find the longest command name that the leading non-flag words match.
	var cmd *Command
	var words int
	for i := range cmds {
		parts := strings.Fields(cmds[i].Name)
		if len(parts) <= len(args) && len(parts) > words && equalWords(parts, args[:len(parts)]) {
			cmd, words = &cmds[i], len(parts)
		}
	}
	if cmd == nil {
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			printHelp(stdout, cmds)
			return 0
		}
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "enrollstation: unknown command %q\n\n", strings.Join(firstWords(args), " "))
			printHelp(stderr, cmds)
			return 2
		}
		fs := flag.NewFlagSet("enrollstation", flag.ContinueOnError)
		fs.SetOutput(stderr)
		commonFlags(fs, env)
		demo := fs.Bool("demo", false, "demo mode: software TPM and the demo camera, data under a demo directory unless --data is given")
		fs.Usage = func() { printHelp(stderr, cmds) }
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if *demo {
			applyDemo(fs, env)
		}
		if root.Window == nil {
			return report(stderr, "", errors.New("this build has no window"))
		}
		compose(env, root)
		return report(stderr, "", root.Window(ctx, env.Config, env.open, *demo, stderr))
	}

	fs := flag.NewFlagSet("enrollstation "+cmd.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	commonFlags(fs, env)
	run := cmd.Setup(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: enrollstation %s [flags] %s\n%s\n\nflags:\n", cmd.Name, cmd.Args, cmd.Summary)
		fs.PrintDefaults()
	}
	if err := fs.Parse(interleave(fs, args[words:])); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	compose(env, root)
	err := run(ctx, env, fs.Args())
	if errors.Is(err, ErrUsage) {
		fmt.Fprintf(stderr, "enrollstation %s: %v\n", cmd.Name, err)
		fs.Usage()
		return 2
	}
	return report(stderr, cmd.Name, err)
}

// compose gives env the opener for its (now parsed) configuration.
func compose(env *Env, root *Root) {
	if root.Opener != nil {
		env.open = root.Opener(env.Config)
	}
}

func report(stderr io.Writer, name string, err error) int {
	if err == nil {
		return 0
	}
	var ee ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if name != "" {
		name = " " + name
	}
	fmt.Fprintf(stderr, "enrollstation%s: %v\n", name, err)
	return 1
}

// interleave moves flags that follow positional arguments in front of them, so that
// "assess a.jpg --json" works like "assess --json a.jpg". "--" ends flag handling.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return append(flags, pos...)
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func firstWords(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") || len(out) == 2 {
			break
		}
		out = append(out, a)
	}
	return out
}

func printHelp(w io.Writer, cmds []Command) {
	fmt.Fprintln(w, "usage: enrollstation [--demo] [--data DIR] [--tpm SPEC] [--models DIR] [--camera SRC]")
	fmt.Fprintln(w, "       enrollstation COMMAND [flags] [args]")
	fmt.Fprintln(w, "\nWith no command the station window opens. Commands:")
	sorted := append([]Command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-22s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintln(w, "\nCommon flags after any command: --data DIR --tpm auto|/dev/tpmrm0|swtpm|HOST:PORT --models DIR --camera SRC --password-stdin")
	fmt.Fprintln(w, "Run 'enrollstation COMMAND --help' for a command's flags.")
}

// applyDemo fills in what --demo means for every flag the user did not set: data in a
// separate demo directory, the software TPM kept there, and the demo camera (the first
// V4L2 device, else the video scripts/setup made from the test photos).
func applyDemo(fs *flag.FlagSet, env *Env) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["data"] {
		env.Data += "-demo"
	}
	if !set["tpm"] {
		env.TPM = "swtpm"
	}
	if !set["camera"] {
		env.Camera = enroll.DemoCamera()
	}
}
