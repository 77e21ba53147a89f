package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/client"
	"github.com/tracekit-oss/tracekit/internal/demo"
	"github.com/tracekit-oss/tracekit/internal/loadgen"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/waterfall"
)

func needKey(key string) error {
	if key == "" {
		return errors.New("--api-key: an admin API key is required (or set TRACEKIT_API_KEY)")
	}
	return nil
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tracekit keys create|list|revoke [flags]")
	}
	sub, args := args[0], args[1:]
	f := newFlags("keys "+sub, stderr)
	server, key := f.apiFlags()
	data := f.String("data", "", "open this data directory directly instead of calling a server (the server must be stopped)")
	name := f.String("name", "", "name of the new key (create)")
	scope := f.String("scope", "ingest", "scope of the new key: ingest or admin (create)")
	project := f.String("project", auth.DefaultProject, "project, with --data")
	if err := f.parse(args); err != nil {
		return err
	}
	if *data != "" {
		return keysOffline(ctx, sub, *data, *project, *name, store.Scope(*scope), f.Args(), stdout)
	}
	if err := needKey(*key); err != nil {
		return err
	}
	c := client.New(*server, *key, nil)
	switch sub {
	case "create":
		if *name == "" {
			return errors.New("--name: give the new key a name")
		}
		k, secret, err := c.CreateKey(ctx, *name, store.Scope(*scope))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s key %s (%s) in project %s; the secret is shown only once:\n%s\n", k.Scope, k.ID, k.Name, k.Project, secret)
		return nil
	case "list":
		keys, err := c.ListKeys(ctx)
		if err != nil {
			return err
		}
		printKeys(stdout, keys)
		return nil
	case "revoke":
		if f.NArg() != 1 {
			return errors.New("usage: tracekit keys revoke KEY_ID")
		}
		if err := c.RevokeKey(ctx, f.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked key %s\n", f.Arg(0))
		return nil
	}
	return fmt.Errorf("unknown keys command %q: use create, list or revoke", sub)
}

// openData opens a stopped server's data directory for the offline
// commands (keys --data, projects, users). It never creates one: a typo in
// --data must not start an empty store.
func openData(dir string) (*pebble.Store, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("--data %s: %w", dir, err)
	}
	st, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w (is the server still running?)", dir, err)
	}
	return st, nil
}

func keysOffline(ctx context.Context, sub, dir, project, name string, scope store.Scope, args []string, stdout io.Writer) error {
	st, err := openData(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
		if name == "" {
			return errors.New("--name: give the new key a name")
		}
		if _, err := st.Project(ctx, project); err != nil {
			return fmt.Errorf("--project %s: %w", project, err)
		}
		secret, k, err := auth.CreateKey(ctx, st, project, name, scope, "", time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s key %s (%s) in project %s; the secret is shown only once:\n%s\n", k.Scope, k.ID, k.Name, k.Project, secret)
	case "list":
		keys, err := st.ListKeys(ctx, project)
		if err != nil {
			return err
		}
		views := make([]api.KeyJSON, len(keys))
		for i, k := range keys {
			views[i] = api.KeyView(k)
		}
		printKeys(stdout, views)
	case "revoke":
		if len(args) != 1 {
			return errors.New("usage: tracekit keys revoke --data DIR KEY_ID")
		}
		if err := st.RevokeKey(ctx, project, args[0], time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked key %s\n", args[0])
	default:
		return fmt.Errorf("unknown keys command %q: use create, list or revoke", sub)
	}
	return nil
}

func printKeys(w io.Writer, keys []api.KeyJSON) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tPREFIX\tCREATED\tREVOKED")
	for _, k := range keys {
		rev := "-"
		if k.RevokedAt != nil {
			rev = k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%s\t%s\n", k.ID, k.Name, k.Scope, k.Prefix, k.CreatedAt.Format(time.RFC3339), rev)
	}
	tw.Flush()
}

func runTraceShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("trace show", stderr)
	server, key := f.apiFlags()
	width := f.Int("width", 0, "columns (default: the terminal's width, or 100)")
	noColor := f.Bool("no-color", false, "no ANSI colours")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return errors.New("usage: tracekit trace show [flags] TRACE_ID")
	}
	if err := needKey(*key); err != nil {
		return err
	}
	tr, err := client.New(*server, *key, nil).Trace(ctx, strings.TrimSpace(f.Arg(0)))
	if err != nil {
		return err
	}
	opt := waterfall.Options{Width: *width}
	if out, ok := stdout.(*os.File); ok && term.IsTerminal(int(out.Fd())) {
		opt.Color = !*noColor
		if opt.Width == 0 {
			if w, _, err := term.GetSize(int(out.Fd())); err == nil {
				opt.Width = w
			}
		}
	}
	return waterfall.Render(stdout, tr, opt)
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("demo", stderr)
	server, key := f.apiFlags()
	traces := f.Int("traces", 60, "how many traces to send")
	rate := f.Float64("rate", 0, "traces per second (0: as fast as possible)")
	if err := f.parse(args); err != nil {
		return err
	}
	if err := needKey(*key); err != nil {
		return err
	}
	if *traces < 1 {
		return errors.New("--traces: send at least 1")
	}
	stats, err := demo.Run(ctx, demo.Config{
		Endpoint: strings.TrimRight(*server, "/") + "/v1/traces", APIKey: *key, Traces: *traces, Rate: *rate,
		Rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sent %d traces, %d spans in %d requests to %s\n", stats.Traces, stats.Spans, stats.Requests, *server)
	return nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tracekit bench ingest|query [flags]")
	}
	switch args[0] {
	case "ingest":
		f := newFlags("bench ingest", stderr)
		server, key := f.apiFlags()
		dur := f.Duration("duration", 30*time.Second, "how long to send")
		conc := f.Int("concurrency", 4, "concurrent senders")
		batch := f.Int("batch", 512, "spans per request")
		attrs := f.Int("attrs", 10, "attributes per span")
		traceSize := f.Int("trace-size", 8, "spans per trace")
		distinct := f.Bool("distinct", false, "give every request new span IDs and times, not only new trace IDs (without it 16 request templates repeat, which flatters bytes on disk)")
		if err := f.parse(args[1:]); err != nil {
			return err
		}
		if err := needKey(*key); err != nil {
			return err
		}
		if *batch < 1 || *attrs < 0 || *traceSize < 1 {
			return errors.New("--batch and --trace-size must be at least 1 and --attrs at least 0")
		}
		res, err := loadgen.Ingest(ctx, loadgen.IngestConfig{
			Endpoint: strings.TrimRight(*server, "/") + "/v1/traces", APIKey: *key, Duration: *dur,
			Concurrency: *conc, Shape: loadgen.Shape{Batch: *batch, Attrs: *attrs, TraceSize: *traceSize}, Distinct: *distinct,
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, res)
		return nil
	case "query":
		f := newFlags("bench query", stderr)
		data := f.String("data", "", "data directory to fill (must not be the live server's); empty: a temporary one")
		shape := f.String("shape", "spread", "spread: spans spread over --over before now; hot: spans started in the last --over, searched while --rate spans/s arrive")
		spans := f.Int("spans", 0, "spans to store before measuring (default 10,000,000 spread, 3,000,000 hot)")
		over := f.Duration("over", 0, "time range the spans are spread over (default 24h spread, 1m hot)")
		rate := f.Int("rate", 100_000, "hot shape: spans/s written while the queries run (0: none)")
		queries := f.Int("queries", 200, "queries of each kind to time")
		pause := f.Duration("pause", 0, "hot shape: time between one answer and the next query, as a user's clicks are apart (0: back to back)")
		if err := f.parse(args[1:]); err != nil {
			return err
		}
		if *shape == "hot" {
			*spans, *over = cmp.Or(*spans, 3_000_000), cmp.Or(*over, time.Minute)
			if *spans < 1000 || *queries < 1 || *over < time.Second || *rate < 0 || *pause < 0 || *pause > time.Minute {
				return errors.New("--spans must be at least 1000, --queries at least 1, --over at least 1s, --rate at least 0, --pause between 0 and 1m")
			}
			res, err := loadgen.QueryHot(ctx, loadgen.HotConfig{Dir: *data, Spans: *spans, Over: *over, Rate: *rate, Queries: *queries, Pause: *pause, Progress: stderr})
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, res)
			return nil
		}
		if *shape != "spread" {
			return fmt.Errorf("--shape %q: use spread or hot", *shape)
		}
		*spans, *over = cmp.Or(*spans, 10_000_000), cmp.Or(*over, 24*time.Hour)
		if *spans < 1000 || *queries < 1 || *over < time.Hour {
			return errors.New("--spans must be at least 1000, --queries at least 1, --over at least 1h")
		}
		res, err := loadgen.Query(ctx, loadgen.QueryConfig{Dir: *data, Spans: *spans, Over: *over, Queries: *queries, Progress: stderr})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, res)
		return nil
	}
	return fmt.Errorf("unknown bench %q: use ingest or query", args[0])
}
