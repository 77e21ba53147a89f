package server

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// limitListener caps the connections a listener holds open, in total and
// per client address, so that no client can spend the process's file
// descriptors (which also answer /healthz). A connection beyond a cap is
// accepted and closed at once, after an HTTP 503 when the listener serves
// HTTP.
type limitListener struct {
	net.Listener
	max, perIP int
	refusal    []byte

	mu    sync.Mutex
	open  int
	perIn map[string]int
}

// limitConns wraps ln. refusal is written to a refused connection (nil for
// none).
func limitConns(ln net.Listener, max, perIP int, refusal []byte) net.Listener {
	return &limitListener{Listener: ln, max: max, perIP: perIP, refusal: refusal, perIn: map[string]int{}}
}

// httpRefusal is what a refused HTTP connection reads.
var httpRefusal = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 43\r\n\r\ntoo many connections: close some and retry\n")

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr())
		l.mu.Lock()
		ok := l.open < l.max && l.perIn[ip] < l.perIP
		if ok {
			l.open++
			l.perIn[ip]++
		}
		l.mu.Unlock()
		if ok {
			return &limitedConn{Conn: c, l: l, ip: ip}, nil
		}
		if l.refusal != nil {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(l.refusal)
		}
		_ = c.Close()
	}
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perIn[ip]--; l.perIn[ip] <= 0 {
		delete(l.perIn, ip)
	}
}

func hostOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

type limitedConn struct {
	net.Conn
	l    *limitListener
	ip   string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

// fileLimit is the process's limit of open files, or 0 when unknown.
func fileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return int(min(r.Cur, 1<<20))
}
