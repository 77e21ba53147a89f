package web

import (
	"crypto/sha256"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Sign-in limits. An account may be guessed at 10 times a minute, from
// anywhere: the limit of the first dashboard, now no longer multiplied by
// the number of addresses an attacker has. An address (an IPv4 address or
// an IPv6 /64, what one host usually gets) may fail more often, since
// several people may share it behind a NAT, but over a longer window, so
// that one password sprayed over many accounts is slowed to 6 a minute.
const (
	accountMaxFailures = 10
	accountWindow      = time.Minute
	addressMaxFailures = 30
	addressWindow      = 5 * time.Minute
	// limiterMaxKeys caps each limiter's memory under a spray of names or
	// addresses: about 10,000 × (32 + 30×24) bytes at most.
	limiterMaxKeys = 10_000
)

// limiter counts sign-in attempts per key over a sliding window. An attempt
// is reserved before its password is checked, so that attempts in flight
// count: guesses sent all at once are held to the same limit as guesses
// sent one by one. A failed attempt keeps its reservation until it leaves
// the window; a successful one gives it back (release) or clears the key
// (reset).
type limiter struct {
	max     int
	window  time.Duration
	maxKeys int
	now     func() time.Time

	mu   sync.Mutex
	hits map[string][]time.Time // per key, oldest first, at most max
}

func newLimiter(max int, window time.Duration, maxKeys int, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, maxKeys: maxKeys, now: now, hits: map[string][]time.Time{}}
}

// recent drops key's attempts that left the window and returns the others.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	ts := l.hits[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.hits, key)
	} else {
		l.hits[key] = ts
	}
	return ts
}

// reserve counts one attempt of key and returns when it was counted, or,
// when key already has max attempts in the window, how long until the
// oldest leaves it.
func (l *limiter) reserve(key string) (at time.Time, wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ts := l.recent(key, now)
	if len(ts) >= l.max {
		return time.Time{}, ts[0].Add(l.window).Sub(now), false
	}
	if len(ts) == 0 && len(l.hits) >= l.maxKeys {
		l.makeRoom(now)
	}
	l.hits[key] = append(ts, now)
	return now, 0, true
}

// makeRoom forgets expired keys and, if every key is still live, the one
// least recently attempted. Forgetting a live key lets its attacker start
// over, but only after spending maxKeys attempts on other keys, each of
// which counts against its address.
func (l *limiter) makeRoom(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k := range l.hits {
		ts := l.recent(k, now)
		if len(ts) > 0 && (oldestAt.IsZero() || ts[len(ts)-1].Before(oldestAt)) {
			oldest, oldestAt = k, ts[len(ts)-1]
		}
	}
	if len(l.hits) >= l.maxKeys {
		delete(l.hits, oldest)
	}
}

// release gives back the attempt of key reserved at at.
func (l *limiter) release(key string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.hits[key]
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Equal(at) {
			ts = append(ts[:i:i], ts[i+1:]...)
			break
		}
	}
	if len(ts) == 0 {
		delete(l.hits, key)
	} else {
		l.hits[key] = ts
	}
}

// reset forgets every attempt of key.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.hits, key)
}

// len is the number of keys held.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hits)
}

// signInLimits are the two budgets a sign-in attempt spends: its account's
// and its client address's.
type signInLimits struct {
	account, address *limiter
}

func newSignInLimits(now func() time.Time) *signInLimits {
	return &signInLimits{
		account: newLimiter(accountMaxFailures, accountWindow, limiterMaxKeys, now),
		address: newLimiter(addressMaxFailures, addressWindow, limiterMaxKeys, now),
	}
}

// signInAttempt is an attempt reserved in both budgets. Left alone, it
// counts as a failure until it leaves the windows.
type signInAttempt struct {
	limits               *signInLimits
	account, address     string
	accountAt, addressAt time.Time
}

// reserve reserves an attempt on the account email from the client address
// addr, or says how long to wait if either budget is spent.
func (s *signInLimits) reserve(email string, addr netip.Addr) (a signInAttempt, wait time.Duration, ok bool) {
	a = signInAttempt{limits: s, account: accountKey(email), address: addressKey(addr)}
	if a.accountAt, wait, ok = s.account.reserve(a.account); !ok {
		return signInAttempt{}, wait, false
	}
	if a.addressAt, wait, ok = s.address.reserve(a.address); !ok {
		s.account.release(a.account, a.accountAt)
		return signInAttempt{}, wait, false
	}
	return a, 0, true
}

// succeeded records a right password: the account's failures are
// forgotten; the address keeps its other failures, so that signing in to
// one's own account does not buy guesses at others.
func (a signInAttempt) succeeded() {
	a.limits.account.reset(a.account)
	a.limits.address.release(a.address, a.addressAt)
}

// abandon gives the attempt back: no password was checked.
func (a signInAttempt) abandon() {
	a.limits.account.release(a.account, a.accountAt)
	a.limits.address.release(a.address, a.addressAt)
}

// accountKey is the limiter key of a sign-in name: case does not make
// another account, and a hash keeps the key short whatever was posted.
func accountKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return string(sum[:])
}

// addressKey is the limiter key of a client address: the address for IPv4,
// its /64 for IPv6, since one host commonly holds a whole /64.
func addressKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	default:
		p, _ := a.Prefix(64)
		return p.String()
	}
}
