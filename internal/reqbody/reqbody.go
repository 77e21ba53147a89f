// Package reqbody reads HTTP request bodies within bounds that a hostile
// client cannot stretch: a size as sent, a size after gzip decompression, a
// cap on the decompression ratio, a minimum transfer rate with a deadline,
// and a byte budget shared by every request in flight, charged as bytes
// arrive (so a slow sender holds only what it has sent) and shared fairly
// between tenants (so one project cannot starve another).
//
// It owns reading and accounting; it knows nothing of what a body means.
package reqbody

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Error is a refusal to read a body, with the HTTP status that says why.
type Error struct {
	Status int
	// RetryAfter, when positive, is the number of seconds a client should
	// wait before retrying (overload).
	RetryAfter int
	Msg        string
}

func (e *Error) Error() string { return e.Msg }

// Sentinels for errors.Is; every *Error matches the one of its status.
var (
	ErrTooLarge   = &Error{Status: http.StatusRequestEntityTooLarge, Msg: "request body too large"}
	ErrTooSlow    = &Error{Status: http.StatusRequestTimeout, Msg: "request body arrived too slowly"}
	ErrOverloaded = &Error{Status: http.StatusTooManyRequests, RetryAfter: 1, Msg: "server is overloaded: retry later"}
	ErrMalformed  = &Error{Status: http.StatusBadRequest, Msg: "malformed request body"}
	ErrEncoding   = &Error{Status: http.StatusUnsupportedMediaType, Msg: "unsupported Content-Encoding"}
)

// Is makes errors.Is(err, ErrTooLarge) and the like match on status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// StatusOf returns the HTTP status for a read error: the *Error's own, 413
// for http.MaxBytesError, or fallback.
func StatusOf(err error, fallback int) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return fallback
}

// Limits bound one body.
type Limits struct {
	// MaxBytes caps the body as sent (compressed or not).
	MaxBytes int64
	// MaxDecodedBytes caps the body after decompression.
	MaxDecodedBytes int64
	// MaxRatio caps decompressed bytes per compressed byte, checked once
	// more than RatioFloor bytes are decompressed; 0 means no cap.
	MaxRatio int64
	// RatioFloor is the decompressed size under which the ratio is not
	// checked (small bodies of repetitive text compress very well).
	RatioFloor int64
}

// DefaultLimits are the defaults of the OTLP receiver.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 16 << 20, MaxDecodedBytes: 64 << 20, MaxRatio: 100, RatioFloor: 1 << 20}
}

// Budget is a byte budget shared by requests in flight. A tenant may hold at
// most PerTenant of it, so that one tenant's requests, however slow or large,
// always leave room for the others.
type Budget struct {
	total, perTenant int64

	mu      sync.Mutex
	used    int64
	tenants map[string]int64
}

// NewBudget returns a budget of total bytes of which one tenant may hold at
// most perTenant (0: total/2).
func NewBudget(total, perTenant int64) *Budget {
	if perTenant <= 0 || perTenant > total {
		perTenant = total / 2
	}
	return &Budget{total: total, perTenant: perTenant, tenants: map[string]int64{}}
}

// Total is the budget's size in bytes.
func (b *Budget) Total() int64 { return b.total }

// Acquire charges n bytes to tenant, or reports false (and charges nothing)
// when the budget or the tenant's share would be exceeded.
func (b *Budget) Acquire(tenant string, n int64) bool {
	if n <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tenants[tenant]
	if b.used+n > b.total || t+n > b.perTenant {
		return false
	}
	b.used += n
	b.tenants[tenant] = t + n
	return true
}

// Release returns n bytes charged to tenant.
func (b *Budget) Release(tenant string, n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if t := b.tenants[tenant] - n; t > 0 {
		b.tenants[tenant] = t
	} else {
		delete(b.tenants, tenant)
	}
}

// Used is the number of bytes charged now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Charge is what one request holds of a Budget; Release returns all of it.
type Charge struct {
	b      *Budget
	tenant string
	n      int64
}

// Add charges n more bytes. It fails with ErrOverloaded (429, retry) when
// the budget is spent for now, and with a 413 when the request alone would
// exceed a tenant's share, so that a client is never told to retry a
// request that can never fit.
func (c *Charge) Add(n int64) error {
	if c.b == nil {
		return nil
	}
	if c.n+n > c.b.perTenant {
		return &Error{Status: http.StatusRequestEntityTooLarge,
			Msg: fmt.Sprintf("request needs more than %d bytes of memory to read and decode (the server's limit for one project, from --max-inflight-bytes): send smaller batches", c.b.perTenant)}
	}
	if !c.b.Acquire(c.tenant, n) {
		return ErrOverloaded
	}
	c.n += n
	return nil
}

// PerTenant is the most one tenant may hold.
func (b *Budget) PerTenant() int64 { return b.perTenant }

// Release returns everything the request was charged.
func (c *Charge) Release() {
	if c.b != nil {
		c.b.Release(c.tenant, c.n)
		c.n = 0
	}
}

// NewCharge starts charging tenant's request to b (nil: nothing is charged).
func NewCharge(b *Budget, tenant string) *Charge { return &Charge{b: b, tenant: tenant} }

const chunk = 32 << 10

// Read reads req's body within lim, undoing gzip (Content-Encoding gzip or
// none), charging every byte it keeps to c as it arrives. The caller
// releases c when done with the returned bytes. The body's transfer rate is
// bounded by the server's Guard, which wraps every request.
func Read(req *http.Request, lim Limits, c *Charge) ([]byte, error) {
	if req.ContentLength > lim.MaxBytes {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge,
			Msg: fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes: send smaller batches", req.ContentLength, lim.MaxBytes)}
	}
	sent := &countingReader{r: req.Body, max: lim.MaxBytes}
	var rd io.Reader = sent
	maxOut := lim.MaxBytes
	gzipped := false
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(sent)
		if err != nil {
			return nil, readErr(err, "body is not valid gzip")
		}
		defer gz.Close()
		rd, maxOut, gzipped = gz, lim.MaxDecodedBytes, true
	default:
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Msg: fmt.Sprintf("unsupported Content-Encoding %q: send gzip or no encoding", enc)}
	}
	// Grow the buffer as bytes arrive, charging each growth first: the
	// budget counts memory held, not what a header promised. A declared
	// length only caps the growth (one byte more reads the end).
	limit := maxOut + 1
	if !gzipped && req.ContentLength >= 0 {
		limit = req.ContentLength + 1
	}
	initial := min(int64(chunk), limit)
	if err := c.Add(initial); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, initial)
	for {
		if len(buf) == cap(buf) {
			grow := min(int64(cap(buf)), 8<<20, limit-int64(cap(buf)))
			if grow <= 0 {
				if int64(len(buf)) > maxOut {
					return nil, tooLarge(gzipped, maxOut)
				}
				// The declared length was reached and one byte more sent.
				return nil, &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf("request body is longer than its Content-Length of %d bytes", req.ContentLength)}
			}
			if err := c.Add(grow); err != nil {
				return nil, err
			}
			nb := make([]byte, len(buf), int64(cap(buf))+grow)
			copy(nb, buf)
			buf = nb
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > maxOut {
			return nil, tooLarge(gzipped, maxOut)
		}
		if gzipped && lim.MaxRatio > 0 && int64(len(buf)) > lim.RatioFloor && int64(len(buf)) > lim.MaxRatio*max(sent.n, 1) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge,
				Msg: fmt.Sprintf("gzip body expands more than %d times (%d bytes from %d): refused as a decompression bomb", lim.MaxRatio, len(buf), sent.n)}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, readErr(err, "read body")
		}
	}
}

func tooLarge(gzipped bool, limit int64) error {
	if gzipped {
		return &Error{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("decompressed body exceeds the limit of %d bytes: send smaller batches", limit)}
	}
	return &Error{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("request body exceeds the limit of %d bytes: send smaller batches", limit)}
}

// readErr turns an error met while reading into an *Error.
func readErr(err error, doing string) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, errBodyTooLarge) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Msg: err.Error()}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("request body exceeds the limit of %d bytes", mbe.Limit)}
	}
	return &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf("%s: %v", doing, err)}
}

var errBodyTooLarge = errors.New("request body too large")

// countingReader counts bytes as sent and refuses more than max.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		// One byte more than allowed tells a body at the limit from one
		// beyond it.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: more than %d bytes sent", errBodyTooLarge, c.max)
		}
		return 0, err
	}
	if int64(len(p)) > c.max-c.n {
		p = p[:c.max-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// RateLimits bound how slowly a request body may arrive.
type RateLimits struct {
	// Idle is the longest wait for the next byte of a body.
	Idle time.Duration
	// Total is the longest a whole body may take.
	Total time.Duration
	// MinRate is the lowest average rate, in bytes per second, accepted
	// once Grace has passed.
	MinRate int64
	// Grace is the time a body may take before MinRate applies.
	Grace time.Duration
}

// DefaultRateLimits are the server's defaults: a body may pause up to 10 s,
// must average 4 KiB/s after its first 10 s, and must be complete in 2 min.
func DefaultRateLimits() RateLimits {
	return RateLimits{Idle: 10 * time.Second, Total: 2 * time.Minute, MinRate: 4 << 10, Grace: 10 * time.Second}
}

// Guard wraps every request's body so that a slow sender is cut off: each
// read waits at most Idle, the average rate after Grace is at least MinRate,
// and the whole body arrives within Total. A refused read returns an error
// matching ErrTooSlow; the connection is then closed by the server.
func Guard(next http.Handler, lim RateLimits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &slowGuard{rc: http.NewResponseController(w), body: r.Body, lim: lim, start: time.Now()}
		}
		next.ServeHTTP(w, r)
	})
}

type slowGuard struct {
	rc    *http.ResponseController
	body  io.ReadCloser
	lim   RateLimits
	start time.Time
	n     int64
	done  bool
}

func (g *slowGuard) Read(p []byte) (int, error) {
	if g.done {
		return g.body.Read(p)
	}
	now := time.Now()
	elapsed := now.Sub(g.start)
	if elapsed > g.lim.Grace && g.lim.MinRate > 0 && float64(g.n) < float64(g.lim.MinRate)*elapsed.Seconds() {
		return 0, &Error{Status: http.StatusRequestTimeout,
			Msg: fmt.Sprintf("request body arrived at %.0f bytes/s, below the minimum of %d bytes/s: send faster or smaller", float64(g.n)/elapsed.Seconds(), g.lim.MinRate)}
	}
	deadline := now.Add(g.lim.Idle)
	if end := g.start.Add(g.lim.Total); g.lim.Total > 0 && end.Before(deadline) {
		deadline = end
	}
	_ = g.rc.SetReadDeadline(deadline) // not every ResponseWriter supports it (tests)
	n, err := g.body.Read(p)
	g.n += int64(n)
	if err == io.EOF {
		g.done = true
		_ = g.rc.SetReadDeadline(time.Time{})
	}
	if err != nil && isTimeout(err) {
		return n, &Error{Status: http.StatusRequestTimeout,
			Msg: fmt.Sprintf("request body stalled: no byte for %s or not complete within %s", g.lim.Idle, g.lim.Total)}
	}
	return n, err
}

func (g *slowGuard) Close() error { return g.body.Close() }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// CheckJSONDepth refuses a JSON text whose brackets nest deeper than
// maxDepth, without decoding it (and so without recursion), so that a
// decoder that recurses can be handed only what it can take.
func CheckJSONDepth(b []byte, maxDepth int) error {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > maxDepth {
				return &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf("JSON nests more than %d levels", maxDepth)}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
