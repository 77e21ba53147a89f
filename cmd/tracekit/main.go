// Command tracekit is the TraceKit server and its command-line tools.
//
//	tracekit server          run the server (OTLP, API) on an embedded store
//	tracekit keys ...        create, list and revoke API keys
//	tracekit trace show ID   print a trace as a waterfall
//	tracekit demo            send realistic demo traffic to a server
//	tracekit bench ...       load generators (ingest, query)
//
// This file holds only wiring: flags, environment, start and stop.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

const usage = `usage: tracekit <command> [flags]

commands:
  server              run the server on an embedded store (--demo sends demo traffic)
  keys create|list|revoke
                      manage API keys
  projects create|list
                      manage projects (on a stopped server's --data)
  users create|list   manage dashboard users (on a stopped server's --data)
  trace show ID       print a trace as a waterfall
  demo                send realistic multi-service demo traces to a server
  bench ingest        measure OTLP ingest throughput of a running server
  bench query         measure trace-by-ID and search latency on a filled store

Run 'tracekit <command> -h' for a command's flags. Every flag has a TRACEKIT_*
environment equivalent, shown in its help.
`

// Garbage collector defaults for when GOGC and GOMEMLIMIT are not set: the
// Go heap of a busy server is small (Pebble's memtables and block cache
// live outside it), so collecting at every doubling spends a core's worth
// of time per ingest second; collecting at 5x the live heap, with a soft
// limit that makes the collector work harder as the heap nears it, keeps
// memory bounded for far less work. Issue 15 measured on 2 cores with 3 M
// fresh spans, searched while spans arrive: 141,800 instead of 119,300
// spans/s loaded, and a newest-20 search's p99 of 21 ms instead of 39 ms.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 256 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

// minProcs is the fewest Ps (goroutines running Go code at once) the
// process runs with when GOMAXPROCS is not set. Go runs a busy goroutine
// for up to 10 ms before it preempts it, so on 2 cores kept busy by ingest
// and Pebble's compactions a search that wakes up waits for a P as long as
// that: issue 15 measured a p99 wait for a CPU of 12.6-21 ms, the same as
// the searches' p99. With more Ps than cores a woken search gets an idle P
// at once, and the kernel, which slices time finer, runs its thread: the
// p99 wait fell to 41 µs, and durable ingest was 5 % faster (two pairs of
// 60 s runs, 2 cores).
const minProcs = 4

func tuneProcs() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
}

func main() {
	tuneGC()
	tuneProcs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tracekit:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "server":
		return runServer(ctx, rest, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, stdout, stderr)
	case "projects":
		return runProjects(ctx, rest, stdout, stderr)
	case "users":
		return runUsers(ctx, rest, stdin(), stdout, stderr)
	case "trace":
		if len(rest) == 0 || rest[0] != "show" {
			return errors.New("usage: tracekit trace show TRACE_ID")
		}
		return runTraceShow(ctx, rest[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
