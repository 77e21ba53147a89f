package agent

import (
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"

	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/pii"
)

// Defaults of the code-monitoring guide and of docs/protocol.md.
const (
	DefaultCaptureDepth     = 3  // levels of a breakpoint that sets none
	MaxCaptureDepth         = 10 // the most levels any capture expands
	DefaultRateLimit        = 10 // snapshots per minute of a breakpoint that sets none
	DefaultMaxString        = 256
	DefaultPollInterval     = 30 * time.Second
	DefaultStreamTimeout    = 45 * time.Second // three missed 15 s heartbeats
	DefaultBackoffMin       = time.Second
	DefaultBackoffMax       = 30 * time.Second
	DefaultFlushInterval    = time.Second
	DefaultBatchSize        = 50
	DefaultQueueSize        = 1000
	DefaultRequestTimeout   = 10 * time.Second
	DefaultMaxFailures      = 3
	DefaultFailureWindow    = time.Minute
	DefaultCooldown         = 5 * time.Minute
	DefaultDiscoveryInitial = 5 * time.Minute
	DefaultDiscoveryEvery   = 10 * time.Minute
	DefaultDiscoveryWindow  = time.Minute
)

// BreakerConfig sets the circuit breaker: MaxFailures 5xx answers or network
// failures within Window turn code monitoring off for Cooldown. Zero fields
// take the defaults (3, 60 s, 5 min).
type BreakerConfig struct {
	MaxFailures int
	Window      time.Duration
	Cooldown    time.Duration
}

// Discovery sets when capture points register themselves while no
// breakpoint is active: for Initial after start, then for Window at the
// start of every Every. Zero fields take the defaults (5 min, 10 min,
// 1 min); Off turns discovery off (capture points still register while a
// breakpoint is active).
type Discovery struct {
	Initial time.Duration
	Every   time.Duration
	Window  time.Duration
	Off     bool
}

// Options configure an Agent. Endpoint and Service are required; zero
// values of the others take the defaults above.
type Options struct {
	// Endpoint is the server's base URL: scheme://host[:port], optionally
	// followed by a path prefix. The protocol's paths are appended to it.
	Endpoint string
	// APIKey is sent as X-API-Key.
	APIKey string
	// Service, Environment and SDK identify this process to the server; SDK
	// is like "go/0.1.0".
	Service     string
	Environment string
	SDK         string
	// Host defaults to os.Hostname; Instance to a random ID.
	Host     string
	Instance string
	// Logger receives logpoint lines and the agent's own warnings; a panic
	// of its handler is recovered and counted.
	Logger *slog.Logger
	// Scrubber scrubs every captured string, key and logpoint message. Nil
	// takes pii.Default(): pass a disabled Scrubber to turn scrubbing off.
	Scrubber *pii.Scrubber
	// MaxDepth bounds every breakpoint's captureDepth (at most 10).
	MaxDepth int
	// MaxPayload and CaptureTimeout bound one capture; zero takes the
	// defaults of package capture (64 KiB, 2 ms), negative means no limit.
	MaxPayload     int
	CaptureTimeout time.Duration
	// Breaker is the circuit breaker.
	Breaker BreakerConfig
	// ServerChecks sends conditions to POST /v1/codemon/check instead of
	// evaluating them in process.
	ServerChecks bool
	// PollInterval is how often the breakpoint set is polled while the
	// stream is down.
	PollInterval time.Duration
	// StreamTimeout is how long the stream may stay silent before the agent
	// reconnects.
	StreamTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay between stream reconnects.
	BackoffMin time.Duration
	BackoffMax time.Duration
	// FlushInterval, BatchSize and QueueSize shape uploads: a batch leaves
	// when it holds BatchSize items or FlushInterval has passed; at most
	// QueueSize items wait, and the rest are dropped and counted.
	FlushInterval time.Duration
	BatchSize     int
	QueueSize     int
	// RequestTimeout bounds one request other than the stream.
	RequestTimeout time.Duration
	// Discovery schedules capture point registration.
	Discovery Discovery
	// Now is the clock of expiries, rate limits, the breaker and discovery.
	Now func() time.Time
	// HTTPClient, when set, replaces the agent's own client. Its Timeout
	// must be zero: the stream is a long request.
	HTTPClient *http.Client

	// hook, set by tests of this package, runs at each stage of a hit
	// ("match", "capture", "condition", "render", "serialize").
	hook func(stage string)
}

// ErrInvalidOptions is wrapped by the errors of New.
var ErrInvalidOptions = errors.New("agent: invalid options")

func (o *Options) setDefaults() error {
	if o.Service = strings.TrimSpace(o.Service); o.Service == "" {
		return fmt.Errorf("%w: Service is empty", ErrInvalidOptions)
	}
	u, err := url.Parse(strings.TrimSpace(o.Endpoint))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: Endpoint %q is not an http:// or https:// base URL", ErrInvalidOptions, o.Endpoint)
	}
	o.Endpoint = strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/")
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.Instance == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Instance = hex.EncodeToString(b[:])
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Scrubber == nil {
		o.Scrubber = pii.Default()
	}
	if o.MaxDepth <= 0 || o.MaxDepth > MaxCaptureDepth {
		o.MaxDepth = MaxCaptureDepth
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	defInt(&o.Breaker.MaxFailures, DefaultMaxFailures)
	def(&o.Breaker.Window, DefaultFailureWindow)
	def(&o.Breaker.Cooldown, DefaultCooldown)
	def(&o.PollInterval, DefaultPollInterval)
	def(&o.StreamTimeout, DefaultStreamTimeout)
	def(&o.BackoffMin, DefaultBackoffMin)
	def(&o.BackoffMax, DefaultBackoffMax)
	o.BackoffMax = max(o.BackoffMax, o.BackoffMin)
	def(&o.FlushInterval, DefaultFlushInterval)
	defInt(&o.BatchSize, DefaultBatchSize)
	defInt(&o.QueueSize, DefaultQueueSize)
	def(&o.RequestTimeout, DefaultRequestTimeout)
	def(&o.Discovery.Initial, DefaultDiscoveryInitial)
	def(&o.Discovery.Every, DefaultDiscoveryEvery)
	def(&o.Discovery.Window, DefaultDiscoveryWindow)
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Agent is the code-monitoring agent of one SDK. Its methods are safe for
// concurrent use; Idle and Hit are the capture points' hot path.
type Agent struct {
	opts  Options
	log   *slog.Logger
	scrub *pii.Scrubber
	hc    *http.Client
	own   *http.Transport // nil when the client is the caller's
	query string          // the instance's query parameters, encoded
	start time.Time

	// cur is what capture points read: never nil, never modified.
	cur atomic.Pointer[state]

	points    atomic.Pointer[map[pointKey]struct{}] // registered, copy-on-write
	pointsMu  sync.Mutex
	newPoints []protocol.CapturePoint // registered, not yet sent

	mu          sync.Mutex // guards the fields below and publishing cur
	applied     bool
	version     string
	killSwitch  bool
	bps         map[string]*breakpoint
	reported    map[string]bool // broken breakpoints already logged
	brk         breaker
	discovering bool
	nextExpiry  time.Time
	closed      bool

	breakerOpen atomic.Bool
	streaming   atomic.Bool
	streamDown  chan struct{} // signalled when the stream fails
	panicLogged atomic.Bool

	queue  chan *event // snapshots and log lines to upload
	checks chan *event // hits waiting for the server's condition check
	n      counters

	notifyMu sync.Mutex
	changed  chan struct{} // closed and replaced on every notable change

	ctx        context.Context // of the sync goroutines
	cancel     context.CancelFunc
	upCtx      context.Context // of uploads; ends when Close's context does
	upCancel   context.CancelFunc
	bg         sync.WaitGroup
	drain      chan struct{}
	uploadDone chan struct{}
	closeOnce  sync.Once
}

// New validates opts and starts the agent's goroutines: breakpoint sync,
// uploads, housekeeping and, with ServerChecks, the check worker. Close
// stops them.
func New(opts Options) (*Agent, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	a := &Agent{
		opts: opts, scrub: opts.Scrubber, hc: opts.HTTPClient,
		start:      opts.Now(),
		bps:        map[string]*breakpoint{},
		reported:   map[string]bool{},
		brk:        breaker{cfg: opts.Breaker},
		streamDown: make(chan struct{}, 1),
		queue:      make(chan *event, opts.QueueSize),
		checks:     make(chan *event, max(opts.QueueSize/10, 10)),
		changed:    make(chan struct{}),
		drain:      make(chan struct{}),
		uploadDone: make(chan struct{}),
	}
	a.log = slog.New(safeHandler{opts.Logger.Handler(), &a.n.panics})
	if a.hc == nil {
		a.own = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: opts.RequestTimeout,
		}
		a.hc = &http.Client{Transport: a.own}
	}
	a.query = url.Values{
		"service": {opts.Service}, "environment": {opts.Environment}, "instance": {opts.Instance},
		"host": {opts.Host}, "sdk": {opts.SDK},
	}.Encode()
	empty := map[pointKey]struct{}{}
	a.points.Store(&empty)
	a.mu.Lock()
	a.discovering = a.discoveringAt(a.start)
	a.publishLocked(a.start)
	a.mu.Unlock()

	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.upCtx, a.upCancel = context.WithCancel(context.Background())
	a.bg.Add(3)
	go a.streamLoop()
	go a.pollLoop()
	go a.housekeepLoop()
	if opts.ServerChecks {
		a.bg.Add(1)
		go a.checkLoop()
	}
	go a.uploadLoop()
	return a, nil
}

// Close stops capturing at once, stops breakpoint sync and uploads what is
// queued within ctx. When ctx ends first, what is left is dropped (and
// counted) and Close returns ctx's error. Every goroutine of the agent has
// ended when it returns. Calls after the first return nil.
func (a *Agent) Close(ctx context.Context) error {
	if a == nil {
		return nil
	}
	err := error(nil)
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.publishLocked(a.now())
		a.mu.Unlock()
		a.cancel()
		a.bg.Wait()
		stop := context.AfterFunc(ctx, a.upCancel)
		close(a.drain)
		<-a.uploadDone
		stop()
		a.upCancel()
		if a.own != nil {
			a.own.CloseIdleConnections()
		}
		a.notify()
		if ctx.Err() != nil {
			err = fmt.Errorf("code monitoring: flush uploads: %w", ctx.Err())
		}
	})
	return err
}

func (a *Agent) now() time.Time { return a.opts.Now() }

// mono is now as a count of nanoseconds since start, for rate limits.
func (a *Agent) mono(now time.Time) int64 { return int64(now.Sub(a.start)) }

// discoveringAt reports whether now falls in a discovery window.
func (a *Agent) discoveringAt(now time.Time) bool {
	d := a.opts.Discovery
	if d.Off {
		return false
	}
	t := now.Sub(a.start)
	return t < d.Initial || t%d.Every < d.Window
}

// housekeepLoop applies what time changes: expiries, the end of the
// breaker's cooldown, discovery windows.
func (a *Agent) housekeepLoop() {
	defer a.bg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
			a.housekeep()
		}
	}
}

func (a *Agent) housekeep() {
	now := a.now()
	a.mu.Lock()
	changed := false
	if a.brk.tryClose(now) {
		a.breakerOpen.Store(false)
		a.log.Info("code monitoring: circuit breaker closed; capturing again", "service", a.opts.Service)
		changed = true
	}
	if d := a.discoveringAt(now); d != a.discovering {
		a.discovering, changed = d, true
	}
	if !a.nextExpiry.IsZero() && !now.Before(a.nextExpiry) {
		changed = true
	}
	if changed {
		a.publishLocked(now)
	}
	a.mu.Unlock()
	if changed {
		a.notify()
	}
}

// url returns the URL of a protocol path with the instance's parameters.
func (a *Agent) url(path string) string { return a.opts.Endpoint + path + "?" + a.query }

// signal sends on a channel of capacity 1 without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
