package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// flags wraps a FlagSet whose every flag defaults to a TRACEKIT_* variable.
type flags struct {
	*flag.FlagSet
	errs []error
}

func newFlags(name string, stderr io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flags{FlagSet: fs}
}

func envName(flagName string) string {
	return "TRACEKIT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f *flags) string(name, def, help string) *string {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	return f.String(name, def, help+" ($"+envName(name)+")")
}

func (f *flags) duration(name string, def time.Duration, help string) *time.Duration {
	if v, ok := os.LookupEnv(envName(name)); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s %q: use a duration such as 720h", envName(name), v))
		} else {
			def = d
		}
	}
	return f.Duration(name, def, help+" ($"+envName(name)+")")
}

func (f *flags) int(name string, def int, help string) *int {
	if v, ok := os.LookupEnv(envName(name)); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s %q: use a whole number", envName(name), v))
		} else {
			def = n
		}
	}
	return f.Int(name, def, help+" ($"+envName(name)+")")
}

func (f *flags) bool(name string, def bool, help string) *bool {
	if v, ok := os.LookupEnv(envName(name)); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s %q: use true or false", envName(name), v))
		} else {
			def = b
		}
	}
	return f.Bool(name, def, help+" ($"+envName(name)+")")
}

// parse parses args and reports environment errors found while defining.
func (f *flags) parse(args []string) error {
	if len(f.errs) > 0 {
		return f.errs[0]
	}
	return f.Parse(args)
}

// apiFlags are the flags of commands that talk to a running server.
func (f *flags) apiFlags() (server, key *string) {
	server = f.string("server", "http://127.0.0.1:4318", "base URL of the TraceKit server")
	key = f.String("api-key", os.Getenv("TRACEKIT_API_KEY"), "API key ($TRACEKIT_API_KEY)")
	return server, key
}
