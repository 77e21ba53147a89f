package postgres

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy forwards TCP connections to the test server until freeze, after
// which the connections it holds carry nothing more yet stay open: a
// network path that died without a word (a NAT or load balancer that
// forgot the connection). Connections made after freeze work.
type proxy struct {
	l      net.Listener
	mu     sync.Mutex
	pairs  []*pair
	closed bool
	wg     sync.WaitGroup
}

type pair struct {
	client, server net.Conn
	frozen         atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l}
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			sc, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			pr := &pair{client: c, server: sc}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				c.Close()
				sc.Close()
				return
			}
			p.pairs = append(p.pairs, pr)
			p.mu.Unlock()
			p.wg.Go(func() { pr.copy(sc, c) })
			p.wg.Go(func() { pr.copy(c, sc) })
		}
	})
	t.Cleanup(p.close)
	return p
}

// copy forwards from src to dst until either closes, dropping what comes
// once the pair is frozen.
func (pr *pair) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pr.frozen.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) addr() string { return p.l.Addr().String() }

// freeze silences every connection open now.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.pairs {
		pr.frozen.Store(true)
	}
}

func (p *proxy) close() {
	p.l.Close()
	p.mu.Lock()
	p.closed = true
	for _, pr := range p.pairs {
		pr.client.Close()
		pr.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
