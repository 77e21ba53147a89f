package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"github.com/tracekit-oss/tracekit/internal/testsupport"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tracekit-oss/tracekit/internal/client"
	"github.com/tracekit-oss/tracekit/internal/store"
)

// The hostile-input suite: the real binary, attacked as the security review
// did, must stay alive, answer each attack as specified, lose nothing it
// acknowledged, and keep its memory bounded. It reports the attacks tried
// and the server's peak RSS.

var grpcLine = regexp.MustCompile(`OTLP/gRPC: ([0-9.:]+)`)

func gzipOf(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// rawBytes is a gRPC message sent as given.
type rawBytes []byte

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*rawBytes)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*rawBytes)) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func peakRSS(t *testing.T, pid int) (hwm, rss int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read server status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmHWM:" || f[0] == "VmRSS:") {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			if f[0] == "VmHWM:" {
				hwm = kb << 10
			} else {
				rss = kb << 10
			}
		}
	}
	return hwm, rss
}

func TestHostileInputSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real server and attacks it for about a minute")
	}
	dir := t.TempDir()
	p := startServer(t, dir, "--grpc-addr", "127.0.0.1:0", "--max-streams-per-key", "4", "--max-conns-per-ip", "200")
	grpcAddr := ""
	for deadline := time.Now().Add(10 * time.Second); grpcAddr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := grpcLine.FindStringSubmatch(p.stdoutText()); m != nil {
			grpcAddr = m[1]
		}
	}
	if grpcAddr == "" {
		t.Fatalf("no gRPC address printed: %s", p.stdoutText())
	}
	ctx := context.Background()
	admin := client.New(p.base, testKey, nil)
	_, ingestKey, err := admin.CreateKey(ctx, "hostile", store.ScopeIngest)
	if err != nil {
		t.Fatal(err)
	}
	httpc := &http.Client{Timeout: 60 * time.Second}
	post := func(key, ctype, enc string, body []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	alive := func(after string) {
		t.Helper()
		resp, err := httpc.Get(p.base + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after %s the server does not answer /healthz: %v; logs:\n%s", after, err, p.out.String())
		}
		resp.Body.Close()
	}
	attacks := 0
	attack := func(name string, fn func() error) {
		t.Helper()
		attacks++
		if err := fn(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		alive(name)
	}
	want := func(gotCode int, body string, code int, text string) error {
		if gotCode != code || !strings.Contains(body, text) {
			return fmt.Errorf("answered %d %q, want %d containing %q", gotCode, body, code, text)
		}
		return nil
	}

	// An acknowledged trace before the attacks, read again after them.
	tid := pcommon.TraceID{0xab, 1}
	sendTrace(t, p.base, tid, 5)

	deep := testsupport.NestedOTLP(1_000_000, true) // 20 MiB: over --max-body as sent
	deepFits := testsupport.NestedOTLP(500_000, true)
	attack("deep protobuf, no key", func() error {
		c, b := post("", "application/x-protobuf", "", deep)
		return want(c, b, 401, "missing API key")
	})
	attack("deep protobuf", func() error {
		c, b := post(ingestKey, "application/x-protobuf", "", deepFits)
		return want(c, b, 400, "nested too deep")
	})
	attack("deep protobuf, gzip", func() error {
		c, b := post(ingestKey, "application/x-protobuf", "gzip", gzipOf(deep))
		return want(c, b, 400, "nested too deep")
	})
	jsonDeep := []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":` + strings.Repeat(`{"arrayValue":{"values":[`, 200_000))
	attack("deep JSON", func() error {
		c, b := post(ingestKey, "application/json", "", jsonDeep)
		return want(c, b, 400, "nested too deep")
	})
	attack("invalid UTF-8 in JSON", func() error {
		c, b := post(ingestKey, "application/json", "", []byte("{\"resourceSpans\":[\xff\xfe]}"))
		return want(c, b, 400, `"message"`)
	})

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	export := func(key string, msg []byte) error {
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if key != "" {
			cctx = metadata.AppendToOutgoingContext(cctx, "x-api-key", key)
		}
		in, out := rawBytes(msg), rawBytes(nil)
		return conn.Invoke(cctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &in, &out)
	}
	attack("deep gRPC message", func() error {
		if err := export(ingestKey, testsupport.NestedOTLP(100_000, true)); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "nested too deep") {
			return fmt.Errorf("got %v, want InvalidArgument naming the depth", err)
		}
		return nil
	})
	big := make([]byte, 15<<20)
	attack("8 keyless 15 MiB gRPC messages at once", func() error {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = export("", big) }()
		}
		wg.Wait()
		for _, err := range errs {
			if status.Code(err) != codes.Unauthenticated {
				return fmt.Errorf("got %v, want Unauthenticated", err)
			}
		}
		return nil
	})

	bomb := gzipOf(make([]byte, 64<<20))
	attack("32 concurrent gzip bombs and 8 large valid requests", func() error {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var bad []string
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c, b := post(ingestKey, "application/x-protobuf", "gzip", bomb); c != 413 {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("bomb: %d %.100q", c, b))
					mu.Unlock()
				}
			}()
		}
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c, b := post(ingestKey, "application/x-protobuf", "", big); c != 200 && c != 400 && c != 429 {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("large: %d %.100q", c, b))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(bad) > 0 {
			return fmt.Errorf("%d unexpected answers, first: %s", len(bad), bad[0])
		}
		return nil
	})

	attack("20 slow senders declaring 16 MiB, while another project sends", func() error {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < 20; i++ {
			c, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
			if err != nil {
				return err
			}
			conns = append(conns, c)
			fmt.Fprintf(c, "POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n\x0a", ingestKey, 16<<20)
		}
		// The default project's admin key keeps sending meanwhile.
		for i := 0; i < 5; i++ {
			sendTrace(t, p.base, pcommon.TraceID{0xcd, byte(i + 1)}, 3)
		}
		// Every slow sender is cut off: its connection reads an answer.
		for i, c := range conns {
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil && !strings.Contains(err.Error(), "reset") && err != io.EOF {
				return fmt.Errorf("slow sender %d was never cut off: %v", i, err)
			}
			if err == nil && !strings.Contains(line, "408") {
				return fmt.Errorf("slow sender %d: %q, want 408", i, line)
			}
		}
		return nil
	})

	attack("SSE streams beyond the per-key cap, then revocation", func() error {
		k, streamKey, err := admin.CreateKey(ctx, "streams", store.ScopeIngest)
		if err != nil {
			return err
		}
		keyID := k.ID
		open := func() (*http.Response, error) {
			req, _ := http.NewRequest(http.MethodGet, p.base+"/v1/codemon/stream?service=svc&instance=i1", nil)
			req.Header.Set("X-API-Key", streamKey)
			return (&http.Client{}).Do(req)
		}
		var streams []*http.Response
		defer func() {
			for _, s := range streams {
				s.Body.Close()
			}
		}()
		for i := 0; i < 4; i++ {
			resp, err := open()
			if err != nil || resp.StatusCode != 200 {
				return fmt.Errorf("stream %d: %v %v", i, err, resp)
			}
			streams = append(streams, resp)
		}
		resp, err := open()
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			return fmt.Errorf("fifth stream of a key capped at 4: %d, want 429", resp.StatusCode)
		}
		if err := admin.RevokeKey(ctx, keyID); err != nil {
			return err
		}
		for i, s := range streams {
			done := make(chan error, 1)
			go func() { _, err := io.Copy(io.Discard, s.Body); done <- err }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				return fmt.Errorf("stream %d still open after its key was revoked", i)
			}
		}
		return nil
	})

	attack("1,100 idle connections from one address", func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < 1100; i++ {
			c, err := d.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		// /healthz from another address answers while they are open (alive
		// is called after this attack returns too).
		resp, err := httpc.Get(p.base + "/healthz")
		if err != nil {
			return fmt.Errorf("health check with 1,100 connections open: %v", err)
		}
		resp.Body.Close()
		return nil
	})

	// Nothing acknowledged was lost, and the server still ingests.
	tr, err := admin.Trace(ctx, tid.String())
	if err != nil || len(tr.Spans) != 5 {
		t.Fatalf("the trace acknowledged before the attacks: %v, %d spans", err, len(tr.Spans))
	}
	sendTrace(t, p.base, pcommon.TraceID{0xab, 2}, 5)
	hwm, rss := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("hostile-input suite: %d attacks; server peak RSS %d MiB (now %d MiB)", attacks, hwm>>20, rss>>20)
	// The bound: the in-flight budget (512 MiB by default) and the gRPC
	// messages being received (16 × 16 MiB at most), over the baseline.
	if limit := int64(1200 << 20); hwm > limit {
		t.Errorf("peak RSS %d MiB over the stated bound of %d MiB", hwm>>20, limit>>20)
	}
}
