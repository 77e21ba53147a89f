// Package threeservices_test runs the distributed-tracing guide's scenario
// as a user does: a TraceKit server, then the example's one command
// (start.js: the page, the Node.js API and the Go service with SQLite), then
// a click on "Load Users" in a real headless Chromium. It reads back through
// the query API one trace across the three services, and the snapshot a Node
// line breakpoint took on a line with no capture call.
package threeservices_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tracekit-oss/tracekit/internal/client"
	"github.com/tracekit-oss/tracekit/internal/server"
	"github.com/tracekit-oss/tracekit/internal/server/servertest"
	"github.com/tracekit-oss/tracekit/internal/testsupport"
)

// span is a span as GET /api/v1/traces/{id} returns it.
type span struct {
	SpanID       string         `json:"spanId"`
	ParentSpanID string         `json:"parentSpanId"`
	Service      string         `json:"service"`
	Operation    string         `json:"operation"`
	Kind         string         `json:"kind"`
	Attributes   map[string]any `json:"attributes"`
}

type snapshot struct {
	TraceID   string         `json:"traceId"`
	File      string         `json:"file"`
	Line      int            `json:"line"`
	Variables map[string]any `json:"variables"`
}

func TestClickToDatabase(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): the example needs Node.js 20", err)
	}
	webPort, apiPort, goPort := freePort(t), freePort(t), freePort(t)
	webOrigin := "http://localhost:" + webPort
	srv := servertest.Start(t, func(c *server.Config) {
		c.GRPCAddr = ""
		c.CORSOrigins = []string{webOrigin}
	})
	api := client.New(srv.Base, servertest.AdminKey, nil)
	call := func(method, path string, body, out any) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return api.Do(ctx, method, path, body, out)
	}

	// A line breakpoint on a line of the Node API that has no capture call,
	// set before the services start, as a user sets one on a running service.
	line := markerLine(t, filepath.Join("api", "server.js"), "tracekit:line-breakpoint")
	var bp struct {
		ID string `json:"id"`
	}
	if err := call(http.MethodPost, "/api/v1/breakpoints", map[string]any{
		"service": "node-api", "type": "line", "file": "api/server.js", "line": line,
	}, &bp); err != nil {
		t.Fatalf("create breakpoint: %v", err)
	}

	startExample(t, node, srv.Base, webPort, apiPort, goPort)

	tab := testsupport.NewTab(t, 1280, 800)
	var mu sync.Mutex
	var pageErrors []string
	if err := chromedp.Listen(tab, func(ev any) {
		if e, ok := ev.(*cdpruntime.EventExceptionThrown); ok {
			mu.Lock()
			d := e.ExceptionDetails
			msg := fmt.Sprintf("%s at %s:%d", d.Text, d.URL, d.LineNumber+1)
			if d.Exception != nil {
				msg += ": " + d.Exception.Description
			}
			pageErrors = append(pageErrors, msg)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, testsupport.Timeout(30*time.Second))
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	loadUsers := func() (traceID, outside string) {
		t.Helper()
		evalString(t, tab, `document.getElementById('status').textContent = ''`)
		do("click Load Users", chromedp.Click(chromedp.CSS("#load")))
		ctx, cancel := context.WithTimeout(tab, testsupport.Timeout(30*time.Second))
		defer cancel()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('status').textContent === 'Loaded.'`,
			chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			t.Fatalf("waiting for the users: %v; the page says %q", err, evalString(t, tab, `document.getElementById('status').textContent`))
		}
		return evalString(t, tab, `document.getElementById('trace-id').textContent`),
			evalString(t, tab, `document.getElementById('outside').textContent`)
	}

	do("open the page", chromedp.Navigate(webOrigin+"/"), chromedp.WaitVisible(chromedp.CSS("#load")))
	traceID, outside := loadUsers()
	if outside != "none" {
		t.Errorf("a request outside tracePropagationTargets carried traceparent %q", outside)
	}
	if len(traceID) != 32 {
		t.Fatalf("the page shows trace ID %q", traceID)
	}
	{
		ctx, cancel := context.WithTimeout(tab, testsupport.Timeout(30*time.Second))
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`TraceKit.flush().then(() => true)`, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			t.Fatalf("flush the browser SDK: %v", err)
		}
	}

	// One trace: the click, the page's fetch, the Node API's server and
	// client spans, the Go service's server span and its database span.
	var spans []span
	deadline := time.Now().Add(testsupport.Timeout(30 * time.Second))
	for {
		var tr struct {
			Spans []span `json:"spans"`
		}
		err := call(http.MethodGet, "/api/v1/traces/"+traceID, nil, &tr)
		spans = tr.Spans
		if err == nil && complete(spans) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s is not complete: err %v, %d spans:\n%s", traceID, err, len(spans), describe(spans))
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkTree(t, spans)

	// The line breakpoint's snapshot: that line's locals, PII redacted, in
	// the trace of the request.
	var snap snapshot
	deadline = time.Now().Add(testsupport.Timeout(30 * time.Second))
	for {
		var out struct {
			Snapshots []snapshot `json:"snapshots"`
		}
		if err := call(http.MethodGet, "/api/v1/snapshots?breakpoint="+bp.ID, nil, &out); err != nil {
			t.Fatalf("list snapshots: %v", err)
		}
		if len(out.Snapshots) > 0 {
			snap = out.Snapshots[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot from the Node line breakpoint at api/server.js:%d", line)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if snap.TraceID != traceID {
		t.Errorf("snapshot trace %q, want the request's %q", snap.TraceID, traceID)
	}
	if !strings.HasSuffix(snap.File, "api/server.js") || snap.Line != line {
		t.Errorf("snapshot at %s:%d, want api/server.js:%d", snap.File, snap.Line, line)
	}
	vars, _ := json.Marshal(snap.Variables)
	if v := find(snap.Variables, "count"); fmt.Sprint(v) != "3" {
		t.Errorf("local count = %v, want 3; variables %s", v, vars)
	}
	if v := find(snap.Variables, "email"); v != "[REDACTED:email]" {
		t.Errorf("requestedBy.email = %v, want [REDACTED:email]; variables %s", v, vars)
	}
	if strings.Contains(string(vars), "support@example.com") || strings.Contains(string(vars), "ada@example.com") {
		t.Errorf("an email address left the process: %s", vars)
	}

	// With TraceKit down, the page and both services keep working and
	// nothing is thrown into the page.
	srv.Stop()
	if _, outside := loadUsers(); outside != "none" {
		t.Errorf("with the server down, the outside request carried %q", outside)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pageErrors) > 0 {
		t.Errorf("exceptions thrown in the page: %q", pageErrors)
	}
}

// complete reports whether spans hold all three services and the database
// span.
func complete(spans []span) bool {
	seen := map[string]bool{}
	for _, s := range spans {
		seen[s.Service] = true
		if s.Attributes["db.system.name"] == "sqlite" {
			seen["db"] = true
		}
	}
	return seen["web-frontend"] && seen["node-api"] && seen["go-service"] && seen["db"]
}

// checkTree checks every parent-child link of the trace: one root (the
// click), every other span's parent in the trace, the Node API's server span
// under the page's fetch, the Go service's server span under the Node API's
// client span, and the query under the Go service's server span.
func checkTree(t *testing.T, spans []span) {
	t.Helper()
	byID := map[string]span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	roots := 0
	for _, s := range spans {
		if s.ParentSpanID == "" {
			roots++
			if s.Service != "web-frontend" {
				t.Errorf("root span %s/%s, want the page's click", s.Service, s.Operation)
			}
			continue
		}
		if _, ok := byID[s.ParentSpanID]; !ok {
			t.Errorf("span %s/%s has parent %s, not in the trace", s.Service, s.Operation, s.ParentSpanID)
		}
	}
	if roots != 1 {
		t.Errorf("%d roots, want 1:\n%s", roots, describe(spans))
	}
	parentOf := func(s span) span { return byID[s.ParentSpanID] }
	for _, s := range spans {
		switch {
		case s.Service == "node-api" && s.Kind == "server":
			if p := parentOf(s); p.Service != "web-frontend" || p.Kind != "client" {
				t.Errorf("node-api server span %q under %s/%s (%s), want the page's fetch", s.Operation, p.Service, p.Operation, p.Kind)
			}
		case s.Service == "go-service" && s.Kind == "server":
			if p := parentOf(s); p.Service != "node-api" || p.Kind != "client" {
				t.Errorf("go-service server span %q under %s/%s (%s), want the Node API's fetch", s.Operation, p.Service, p.Operation, p.Kind)
			}
		case s.Attributes["db.system.name"] == "sqlite":
			if p := parentOf(s); p.Service != "go-service" || p.Kind != "server" {
				t.Errorf("database span %q under %s/%s (%s), want the Go service's server span", s.Operation, p.Service, p.Operation, p.Kind)
			}
		}
	}
}

func describe(spans []span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %s parent=%s %s/%s %s\n", s.SpanID, s.ParentSpanID, s.Service, s.Operation, s.Kind)
	}
	return b.String()
}

// find returns the first value under key anywhere in v, breadth first.
func find(v any, key string) any {
	queue := []any{v}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		switch c := cur.(type) {
		case map[string]any:
			if x, ok := c[key]; ok {
				return x
			}
			for _, x := range c {
				queue = append(queue, x)
			}
		case []any:
			queue = append(queue, c...)
		}
	}
	return nil
}

// markerLine returns the 1-based line of file holding marker.
func markerLine(t *testing.T, file, marker string) int {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, marker)
	return 0
}

// evalString evaluates a JavaScript expression in the page.
func evalString(t *testing.T, tab context.Context, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, testsupport.Timeout(30*time.Second))
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// startExample runs the example's one command against the server at base
// and waits until it says it is ready; cleanup stops it and its services.
func startExample(t *testing.T, node, base, webPort, apiPort, goPort string) {
	t.Helper()
	cmd := exec.Command(node, "start.js")
	cmd.Env = append(os.Environ(),
		"TRACEKIT_SERVER="+base, "TRACEKIT_API_KEY="+servertest.AdminKey,
		"WEB_PORT="+webPort, "API_PORT="+apiPort, "GO_PORT="+goPort,
		"GO="+filepath.Join(goruntime.GOROOT(), "bin", "go"),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &testsupport.LogBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the example: %v", err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if !signalled && strings.Contains(sc.Text(), "three-services: ready") {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(logs, out)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // start.js stops its services
		exited := make(chan struct{})
		go func() { <-done; _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("the example's output:\n%s", logs)
		}
	})
	select {
	case <-ready:
	case <-done:
		t.Fatalf("the example stopped before it was ready:\n%s", logs)
	case <-time.After(testsupport.Timeout(3 * time.Minute)):
		t.Fatalf("the example was not ready in time:\n%s", logs)
	}
}
