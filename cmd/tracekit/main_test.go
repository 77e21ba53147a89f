package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/client"
)

// The test binary doubles as the tracekit command, so tests can run the real
// CLI as a separate process (and kill it).
func TestMain(m *testing.M) {
	if os.Getenv("TRACEKIT_TEST_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const testKey = "tk_cli_test_admin_key_000001"

func cli(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TRACEKIT_TEST_AS_CLI=1", "TRACEKIT_API_KEY="+testKey)
	return cmd
}

// runCLI runs a short command and returns its output and exit code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := cli(ctx, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return string(out), 0
}

type proc struct {
	cmd  *exec.Cmd
	base string
	out  *bytes.Buffer
	done chan error

	mu     sync.Mutex
	stdout strings.Builder
}

// stdoutText is what the server printed on stdout so far.
func (p *proc) stdoutText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

var endpointLine = regexp.MustCompile(`OTLP/HTTP endpoint: (http://[0-9.:]+)/v1/traces`)

// startServer starts `tracekit server` on dataDir and waits until it serves.
func startServer(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"server", "--data", dataDir, "--http-addr", "127.0.0.1:0", "--grpc-addr", ""}, extra...)
	cmd := cli(context.Background(), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, out: &logs, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := endpointLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case base, ok := <-found:
		if !ok {
			t.Fatalf("server exited before serving; logs:\n%s", logs.String())
		}
		p.base = base
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start; logs:\n%s", logs.String())
	}
	return p
}

// sendTrace posts one trace of n spans and requires a 200.
func sendTrace(t *testing.T, base string, tid pcommon.TraceID, n int) {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "durable")
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	for i := 0; i < n; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(pcommon.SpanID{9, byte(i + 1)})
		if i > 0 {
			sp.SetParentSpanID(pcommon.SpanID{9, 1})
		}
		sp.SetName(fmt.Sprintf("op-%d", i))
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i) * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i+5) * time.Millisecond)))
	}
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	req, _ := http.NewRequest("POST", base+"/v1/traces", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-API-Key", testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("send: %d %q", resp.StatusCode, b)
	}
}

func TestAcknowledgedSpansSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, dir)
	var ids []pcommon.TraceID
	for i := 0; i < 20; i++ {
		id := pcommon.TraceID{0xd0, byte(i + 1), 3}
		sendTrace(t, p.base, id, 5)
		ids = append(ids, id)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	base := requireTraces(t, dir, ids, 5, "after kill -9")
	// The RED series count each acknowledged trace's request once: the sums
	// still in memory at the kill are counted again from the log at start.
	var red api.REDSeriesJSON
	c := client.New(base, testKey, nil)
	if err := c.Do(context.Background(), "GET", "/api/v1/services/durable/red?lookback=1h&step=1h", nil, &red); err != nil {
		t.Fatal(err)
	}
	n := int64(0)
	for _, p := range red.Points {
		n += p.Count
	}
	if n != int64(len(ids)) {
		t.Errorf("RED series after kill -9 count %d requests; want the %d acknowledged", n, len(ids))
	}
}

// With --fsync=false a write is acknowledged before its log record is
// synced; the store syncs the log every 200 ms after a write, so a kill -9
// loses at most the writes of that last interval. Before the background
// sync, a quiet server lost every write since its log block last filled.
func TestNoFsyncLosesAtMostTheLastInterval(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, dir, "--fsync=false")
	var ids []pcommon.TraceID
	send := func(i int) {
		id := pcommon.TraceID{0xd2, byte(i + 1), 3}
		sendTrace(t, p.base, id, 5)
		ids = append(ids, id)
	}
	send(0) // the first write also records the names, with a synced write
	time.Sleep(time.Second)
	for i := 1; i < 6; i++ {
		send(i) // a few small writes that do not fill Pebble's log block
	}
	time.Sleep(time.Second) // five sync intervals: the documented window has passed
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	requireTraces(t, dir, ids, 5, "acknowledged a second before kill -9 with --fsync=false")
}

// requireTraces starts the server again on dir and requires each trace
// with spans spans: what a stopped or killed server acknowledged. It
// returns the server's base URL.
func requireTraces(t *testing.T, dir string, ids []pcommon.TraceID, spans int, when string) string {
	t.Helper()
	p := startServer(t, dir)
	c := client.New(p.base, testKey, nil)
	for _, id := range ids {
		tr, err := c.Trace(context.Background(), fmt.Sprintf("%x", id[:]))
		if err != nil || len(tr.Spans) != spans {
			t.Fatalf("trace %x %s: %d spans, %v", id[:], when, len(tr.Spans), err)
		}
	}
	return p.base
}

func TestGracefulStopOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, dir)
	sendTrace(t, p.base, pcommon.TraceID{0xe0, 1}, 3)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; logs:\n%s", err, p.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop after SIGTERM")
	}
	p2 := startServer(t, dir)
	if tr, err := client.New(p2.base, testKey, nil).Trace(context.Background(), fmt.Sprintf("%x", [16]byte{0xe0, 1})); err != nil || len(tr.Spans) != 3 {
		t.Fatalf("after restart: %v %v", tr, err)
	}
}

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, dir)
	tid := pcommon.TraceID{0xf0, 1}
	sendTrace(t, p.base, tid, 4)

	out, code := runCLI(t, "trace", "show", "--server", p.base, "--width", "90", fmt.Sprintf("%x", tid[:]))
	if code != 0 || !strings.Contains(out, "op-0") || !strings.Contains(out, "durable") {
		t.Errorf("trace show: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "keys", "create", "--server", p.base, "--name", "ci", "--scope", "ingest")
	if code != 0 || !strings.Contains(out, "tk_") {
		t.Fatalf("keys create: exit %d\n%s", code, out)
	}
	id := regexp.MustCompile(`ingest key ([0-9a-f]+)`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("keys create printed no id:\n%s", out)
	}
	out, code = runCLI(t, "keys", "list", "--server", p.base)
	if code != 0 || !strings.Contains(out, "ci") || !strings.Contains(out, "ingest") {
		t.Errorf("keys list: exit %d\n%s", code, out)
	}
	if out, code = runCLI(t, "keys", "revoke", "--server", p.base, id[1]); code != 0 {
		t.Errorf("keys revoke: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "demo", "--server", p.base, "--traces", "12")
	if code != 0 || !strings.Contains(out, "sent 12 traces") {
		t.Errorf("demo: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "bench", "ingest", "--server", p.base, "--duration", "2s", "--concurrency", "2", "--batch", "64")
	if code != 0 || !strings.Contains(out, "spans/s") || strings.Contains(out, "failed requests 0") == false {
		t.Errorf("bench ingest: exit %d\n%s", code, out)
	}
}

func TestCLIErrorsNameTheFlag(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		out, code := runCLI(t, args...)
		if code == 0 || !strings.Contains(out, want) {
			t.Errorf("%v: exit %d, output %q; want an error mentioning %q", args, code, out, want)
		}
	}
	f("--retention", "server", "--data", t.TempDir(), "--retention", "1m")
	f("--http-addr", "server", "--data", t.TempDir(), "--http-addr", "nocolon")
	f("invalid value", "server", "--max-body", "lots")
	f("--name", "keys", "create", "--server", "http://127.0.0.1:1")
	f("unknown command", "frobnicate")
	f("usage: tracekit trace show", "trace", "show")
	f("--traces", "demo", "--traces", "0")
	f("--duration", "bench", "ingest", "--duration", "0s")
	f("--trace-size", "bench", "ingest", "--trace-size", "0")
	f("--shape", "bench", "query", "--shape", "lukewarm")
	f("--rate", "bench", "query", "--shape", "hot", "--rate", "-1")
}

func TestProjectsCLI(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, dir)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	out, code := runCLI(t, "projects", "create", "--data", dir, "--name", "Shop", "shop")
	secret := regexp.MustCompile(`tk_[0-9a-f]{40}`).FindString(out)
	if code != 0 || secret == "" {
		t.Fatalf("projects create: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "projects", "create", "--data", dir, "shop"); code == 0 || !strings.Contains(out, "already exists") {
		t.Errorf("second create: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "projects", "create", "--data", dir, "Bad ID"); code == 0 || !strings.Contains(out, "project id") {
		t.Errorf("bad id: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "projects", "list", "--data", dir); code != 0 || !strings.Contains(out, "shop") || !strings.Contains(out, "default") {
		t.Errorf("projects list: exit %d\n%s", code, out)
	}
	// The new project's key reads its own (empty) project, not default's.
	p2 := startServer(t, dir)
	tid := pcommon.TraceID{0xa1, 1}
	sendTrace(t, p2.base, tid, 2) // into default, with the seeded key
	if _, err := client.New(p2.base, secret, nil).Trace(context.Background(), fmt.Sprintf("%x", tid[:])); err == nil {
		t.Error("the new project's key reads the default project's trace")
	}
}
