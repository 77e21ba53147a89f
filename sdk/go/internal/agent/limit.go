package agent

import (
	"sync"
	"time"
)

// limiter grants at most n captures in any rolling window: it remembers
// the times of the last n grants, and grants again once the oldest of them
// is a window old. Times are nanoseconds of the agent's clock.
type limiter struct {
	mu     sync.Mutex
	n      int
	window int64
	times  []int64 // ring of the last n grants; oldest at head once full
	head   int
}

func newLimiter(n int, window time.Duration) *limiter {
	return &limiter{n: n, window: int64(window), times: make([]int64, 0, n)}
}

// peek reports whether a grant is possible now, without taking it: hits
// that would be refused skip the capture.
func (l *limiter) peek(now int64) bool {
	l.mu.Lock()
	ok := l.free(now)
	l.mu.Unlock()
	return ok
}

// allow takes a grant if one is free.
func (l *limiter) allow(now int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.free(now) {
		return false
	}
	if len(l.times) < l.n {
		l.times = append(l.times, now)
		return true
	}
	l.times[l.head] = now
	l.head = (l.head + 1) % l.n
	return true
}

func (l *limiter) free(now int64) bool {
	return len(l.times) < l.n || now-l.times[l.head] >= l.window
}

// breaker is the circuit breaker: MaxFailures failures within Window open
// it for Cooldown. Its owner serialises calls.
type breaker struct {
	cfg   BreakerConfig
	fails []time.Time // failures within the window, oldest first
	open  bool
	until time.Time // end of the cooldown while open
	opens uint64
}

// failure records a failure at now and reports whether it opened the
// breaker. Failures while open are not recorded.
func (b *breaker) failure(now time.Time) bool {
	if b.open {
		return false
	}
	keep := b.fails[:0]
	for _, t := range b.fails {
		if now.Sub(t) < b.cfg.Window {
			keep = append(keep, t)
		}
	}
	b.fails = append(keep, now)
	if len(b.fails) < b.cfg.MaxFailures {
		return false
	}
	b.open, b.until, b.fails = true, now.Add(b.cfg.Cooldown), b.fails[:0]
	b.opens++
	return true
}

// tryClose closes the breaker when its cooldown is over, and reports
// whether it did.
func (b *breaker) tryClose(now time.Time) bool {
	if !b.open || now.Before(b.until) {
		return false
	}
	b.open = false
	return true
}
