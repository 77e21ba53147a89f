package reqbody_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/reqbody"
)

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestRead(t *testing.T) {
	lim := reqbody.Limits{MaxBytes: 1 << 20, MaxDecodedBytes: 4 << 20, MaxRatio: 50, RatioFloor: 64 << 10}
	text := bytes.Repeat([]byte("span "), 1000)
	f := func(name, enc string, body []byte, declared int64, wantStatus int, wantMsg string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.ContentLength = declared
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		b := reqbody.NewBudget(64<<20, 0)
		c := reqbody.NewCharge(b, "p")
		got, err := reqbody.Read(req, lim, c)
		if wantStatus == 0 {
			if err != nil || !bytes.Equal(got, text) {
				t.Errorf("%s: %v, %d bytes", name, err, len(got))
			}
		} else if reqbody.StatusOf(err, 0) != wantStatus || !strings.Contains(fmt.Sprint(err), wantMsg) {
			t.Errorf("%s: %v (status %d), want %d %q", name, err, reqbody.StatusOf(err, 0), wantStatus, wantMsg)
		}
		if wantStatus == 0 && b.Used() > 2*int64(len(text))+32<<10 {
			t.Errorf("%s: charged %d bytes for a %d-byte body", name, b.Used(), len(text))
		}
		c.Release()
		if b.Used() != 0 {
			t.Errorf("%s: %d bytes still charged after Release", name, b.Used())
		}
	}
	f("plain", "", text, int64(len(text)), 0, "")
	f("plain, length unknown", "", text, -1, 0, "")
	f("gzip", "gzip", gzipped(text), -1, 0, "")
	f("identity", "identity", text, int64(len(text)), 0, "")
	f("declared too large", "", text, 2<<20, 413, "exceeds the limit of 1048576")
	f("sent too large", "", make([]byte, 2<<20), -1, 413, "more than 1048576 bytes")
	f("longer than declared", "", text, 10, 400, "longer than its Content-Length")
	f("bomb", "gzip", gzipped(make([]byte, 8<<20)), -1, 413, "decompression bomb")
	f("not gzip", "gzip", text, -1, 400, "not valid gzip")
	f("brotli", "br", text, -1, 415, "unsupported Content-Encoding")
	if !errors.Is(&reqbody.Error{Status: 413, Msg: "x"}, reqbody.ErrTooLarge) {
		t.Error("errors.Is does not match on status")
	}
}

func TestBudget(t *testing.T) {
	b := reqbody.NewBudget(100, 60)
	if !b.Acquire("a", 60) || b.Acquire("a", 1) {
		t.Fatal("tenant share not enforced")
	}
	if !b.Acquire("b", 40) || b.Acquire("c", 1) {
		t.Fatal("total not enforced")
	}
	b.Release("a", 60)
	b.Release("b", 40)
	if b.Used() != 0 {
		t.Fatalf("used %d", b.Used())
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				if b.Acquire("t", 7) {
					if u := b.Used(); u > 100 {
						t.Errorf("used %d over the total", u)
					}
					b.Release("t", 7)
				}
			}
		}()
	}
	wg.Wait()
	if b.Used() != 0 {
		t.Fatalf("used %d after concurrent use", b.Used())
	}
}

// The guard cuts off a body that trickles below the minimum rate, one that
// stalls, and one that takes too long; a normal body passes.
func TestGuardSlowSenders(t *testing.T) {
	lim := reqbody.RateLimits{Idle: 500 * time.Millisecond, Total: 3 * time.Second, MinRate: 1000, Grace: 300 * time.Millisecond}
	type result struct {
		n   int
		err error
	}
	results := make(chan result, 1)
	srv := httptest.NewServer(reqbody.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		results <- result{int(n), err}
		w.WriteHeader(reqbody.StatusOf(err, 200))
	}), lim))
	t.Cleanup(srv.Close)

	send := func(name string, declared int, write func(c net.Conn)) result {
		t.Helper()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", declared)
		go write(c)
		select {
		case r := <-results:
			return r
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the handler was never cut off", name)
		}
		return result{}
	}
	trickle := func(every time.Duration) func(net.Conn) {
		return func(c net.Conn) {
			for i := 0; i < 100; i++ {
				if _, err := c.Write([]byte{'x'}); err != nil {
					return
				}
				time.Sleep(every)
			}
		}
	}
	if r := send("trickle", 1000, trickle(100*time.Millisecond)); !errors.Is(r.err, reqbody.ErrTooSlow) || !strings.Contains(r.err.Error(), "below the minimum") {
		t.Errorf("trickle: %+v", r)
	}
	if r := send("stall", 1000, func(c net.Conn) { c.Write([]byte("abc")) }); !errors.Is(r.err, reqbody.ErrTooSlow) || !strings.Contains(r.err.Error(), "stalled") {
		t.Errorf("stall: %+v", r)
	}
	if r := send("normal", 5000, func(c net.Conn) { c.Write(bytes.Repeat([]byte("y"), 5000)) }); r.err != nil || r.n != 5000 {
		t.Errorf("normal: %+v", r)
	}
}

// jsonDepth is the bracket depth of valid JSON, read token by token.
func jsonDepth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

func FuzzCheckJSONDepth(f *testing.F) {
	for _, s := range []string{`{}`, `[[[[]]]]`, `{"a":"[[[[[[[[[["}`, `{"a\"[[[[[[[":1}`, `[[[[[[[[[[[[1]]]]]]]]]]]]`, `"\\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 6
		err := reqbody.CheckJSONDepth(b, limit)
		if !json.Valid(b) {
			return
		}
		if d := jsonDepth(b); (err == nil) != (d <= limit) {
			t.Fatalf("depth %d, check said %v, for %q", d, err, b)
		}
	})
}
