package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	norikv "github.com/norikv/norikv-go/client"
)

// IO is where a command writes.
type IO struct {
	Stdout, Stderr io.Writer
}

// command is one subcommand. Each lives in its own file and registers
// itself from init with register, so adding "get" or "bench" touches no
// other file.
type command struct {
	// Name is what the user types: norikv <Name>.
	Name string
	// Summary is one line for the command list.
	Summary string
	// Run executes the command with the arguments after its name. It
	// returns a usageError for bad arguments (exit status 2); any other
	// error exits with status 1. ctx is cancelled on SIGINT/SIGTERM.
	Run func(ctx context.Context, io IO, args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.Name]; dup {
		panic("norikv: command " + c.Name + " registered twice")
	}
	commands[c.Name] = c
}

// usageError is a mistake in the command line; its message is printed
// with a pointer to --help.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// run dispatches args to a subcommand and returns the exit status.
func run(ctx context.Context, args []string, o IO) int {
	if len(args) == 0 {
		printUsage(o.Stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := commands[args[1]]; c != nil {
				return run(ctx, []string{c.Name, "--help"}, o)
			}
		}
		printUsage(o.Stdout)
		return 0
	}
	c := commands[name]
	if c == nil {
		fmt.Fprintf(o.Stderr, "norikv: unknown command %q (run 'norikv help' for the list)\n", name)
		return 2
	}
	err := c.Run(ctx, o, args[1:])
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(o.Stderr, "norikv %s: %v (see 'norikv %s --help')\n", name, firstLine(err), helpName(args))
		return exitUsage
	}
	// A package's own prefix that repeats the command's name
	// ("conformance: ...") is said once.
	fmt.Fprintf(o.Stderr, "norikv %s: %v\n", name, strings.TrimPrefix(firstLine(err), name+": "))
	var se statusError
	switch {
	case errors.As(err, &se):
		return se.status
	case errors.Is(err, norikv.ErrKeyNotFound), errors.Is(err, norikv.ErrIndexNotFound):
		return exitNotFound
	case errors.Is(err, norikv.ErrVersionMismatch):
		return exitConflict
	}
	return exitError
}

// helpName is the command whose --help explains args: the subcommand's
// ("cluster transfer", "vector create") where it has its own flags.
func helpName(args []string) string {
	if len(args) > 1 {
		switch {
		case args[0] == "cluster" && args[1] == "transfer",
			args[0] == "vector" && slices.ContainsFunc(vectorVerbs, func(v vectorVerb) bool { return v.name == args[1] }):
			return args[0] + " " + args[1]
		}
	}
	return args[0]
}

// statusError is an error with its own exit status (e.g. "vector get" of a
// missing id, which is not an SDK error).
type statusError struct {
	status int
	msg    string
}

func (e statusError) Error() string { return e.msg }

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: norikv <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'norikv <command> --help' for a command's flags and examples.")
}

// flagSet is a subcommand's flags plus its help text.
type flagSet struct {
	*flag.FlagSet
	help   func()
	stderr io.Writer
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints help (a synopsis, the flags, then examples) on --help only.
func newFlagSet(o IO, name, synopsis, examples string) *flagSet {
	fs := flag.NewFlagSet("norikv "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by run
	fs.Usage = func() {}     // flag calls it on every error; help is ours
	help := func() {
		w := o.Stdout
		fmt.Fprintf(w, "Usage: norikv %s %s\n\nFlags:\n", name, synopsis)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if examples != "" {
			fmt.Fprintf(w, "\nExamples:\n%s", examples)
		}
	}
	return &flagSet{FlagSet: fs, help: help, stderr: o.Stderr}
}

// durationVar defines a duration flag whose bad values get an error that
// names the units: package flag's own says only "parse error", and "5"
// (seconds? milliseconds?) is the commonest mistake.
func (fs *flagSet) durationVar(p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}

type durationValue time.Duration

func (d *durationValue) String() string { return (*time.Duration)(d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err == nil {
		*d = durationValue(v)
		return nil
	}
	if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
		return fmt.Errorf("missing unit: write %ss or %sms (units: ns, us, ms, s, m, h)", s, s)
	}
	return errors.New("not a duration: write e.g. 5s, 500ms or 1m30s (units: ns, us, ms, s, m, h)")
}

// parse parses args, printing help on --help and mapping flag errors to
// usage errors.
func (fs *flagSet) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.help()
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// firstLine is the error's first line without the SDK's "norikv: "
// prefix, which would repeat the command's own.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimPrefix(s, "norikv: ")
}
