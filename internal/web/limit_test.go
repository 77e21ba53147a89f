package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// postLogin posts the sign-in form with the token tok of a form the test
// loaded, without a cookie jar, so that many posts can run at once; it may
// be called from any goroutine.
func (h *harness) postLogin(tok string, form url.Values, header ...string) (*http.Response, error) {
	form.Set(csrfField, tok)
	req, err := http.NewRequest("POST", h.srv.URL+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: loginCookie, Value: tok})
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

// burst is what loginBurst saw: how many passwords were checked, and the
// answers by status.
type burst struct {
	checked  int
	statuses map[int]int
}

func (b burst) String() string {
	return fmt.Sprintf("%d checked, answers %v", b.checked, b.statuses)
}

// loginBurst posts n wrong sign-ins at once, form(i) and header(i) making
// the i-th. Every password check is held until each of the n requests has
// either reached its check or been answered without one, so that all n
// are in flight together however fast the machine: the worst case for a
// limiter that counts failures only once they are known.
func (h *harness) loginBurst(n int, form func(i int) url.Values, header func(i int) []string) burst {
	h.t.Helper()
	tok := h.token(h.browser(), "/login")
	entered := make(chan struct{}, n)
	gate := make(chan struct{})
	h.setCheck(func([]byte, string) error {
		entered <- struct{}{}
		<-gate
		return bcrypt.ErrMismatchedHashAndPassword
	})
	defer h.setCheck(nil)
	answers := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var hd []string
			if header != nil {
				hd = header(i)
			}
			resp, err := h.postLogin(tok, form(i), hd...)
			switch {
			case err != nil:
				h.t.Error(err)
				answers <- 0
			case resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "":
				h.t.Error("429 without Retry-After")
				answers <- resp.StatusCode
			default:
				answers <- resp.StatusCode
			}
		})
	}
	b := burst{statuses: map[int]int{}}
	for early := 0; b.checked+early < n; {
		select {
		case <-entered:
			b.checked++
		case s := <-answers:
			b.statuses[s]++
			early++
		}
	}
	close(gate)
	wg.Wait()
	close(answers)
	for s := range answers {
		b.statuses[s]++
	}
	return b
}

// wrongPasswords are n wrong guesses at email.
func wrongPasswords(email string) func(i int) url.Values {
	return func(i int) url.Values { return url.Values{"email": {email}, "password": {fmt.Sprint("guess", i)}} }
}

// sprayedEmails are n accounts tried with one password.
func sprayedEmails(i int) url.Values {
	return url.Values{"email": {fmt.Sprintf("user%d@example.com", i)}, "password": {"Summer2024!"}}
}

// checkedBurst says what a burst of n should have seen if max passwords
// may be checked.
func checkedBurst(n, max int) string {
	b := burst{checked: max, statuses: map[int]int{http.StatusUnauthorized: max}}
	if n > max {
		b.statuses[http.StatusTooManyRequests] = n - max
	}
	return b.String()
}

// TestSignInRateLimitConcurrent: guesses sent all at once are limited as
// strictly as guesses sent one by one. Exactly the limit's worth of
// passwords are checked, per account whatever the address, and per
// address whatever the account; the rest are refused with 429 before
// bcrypt.
func TestSignInRateLimitConcurrent(t *testing.T) {
	const n = 40
	trustLoopback := func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	t.Run("one account", func(t *testing.T) {
		h := newHarness(t)
		h.user("alice@example.com", "correct horse", false, "p1")
		if got, want := h.loginBurst(n, wrongPasswords("Alice@example.com"), nil).String(), checkedBurst(n, accountMaxFailures); got != want {
			t.Errorf("burst: %s, want %s", got, want)
		}
		if resp := h.signIn(h.browser(), "alice@example.com", "correct horse"); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("the right password after the burst: %d, want 429", resp.StatusCode)
		}
	})
	t.Run("one account from many addresses", func(t *testing.T) {
		h := newHarness(t, trustLoopback)
		h.user("alice@example.com", "correct horse", false, "p1")
		got := h.loginBurst(n, wrongPasswords("alice@example.com"), func(i int) []string {
			return []string{"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)}
		})
		if want := checkedBurst(n, accountMaxFailures); got.String() != want {
			t.Errorf("burst: %s, want %s", got, want)
		}
	})
	t.Run("one address, many accounts", func(t *testing.T) {
		h := newHarness(t)
		if got, want := h.loginBurst(n, sprayedEmails, nil).String(), checkedBurst(n, addressMaxFailures); got != want {
			t.Errorf("burst: %s, want %s", got, want)
		}
	})
}

// TestSignInClientAddress: the per-address limit counts the peer, unless
// the peer is a trusted proxy: then the client that proxy names.
func TestSignInClientAddress(t *testing.T) {
	const n = 40
	eachOwn := func(i int) []string { return []string{"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i)} }
	t.Run("X-Forwarded-For from an untrusted peer is ignored", func(t *testing.T) {
		h := newHarness(t)
		if got, want := h.loginBurst(n, sprayedEmails, eachOwn).String(), checkedBurst(n, addressMaxFailures); got != want {
			t.Errorf("burst: %s, want %s", got, want)
		}
	})
	trust := func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	}
	t.Run("a trusted proxy names each client", func(t *testing.T) {
		h := newHarness(t, trust)
		if got, want := h.loginBurst(n, sprayedEmails, eachOwn).String(), checkedBurst(n, n); got != want {
			t.Errorf("burst: %s, want %s", got, want)
		}
	})
	t.Run("entries left of the proxy's are the client's word", func(t *testing.T) {
		h := newHarness(t, trust)
		forged := func(i int) []string { return []string{"X-Forwarded-For", fmt.Sprintf("198.51.100.%d, 203.0.113.9", i)} }
		if got, want := h.loginBurst(n, sprayedEmails, forged).String(), checkedBurst(n, addressMaxFailures); got != want {
			t.Errorf("burst: %s, want %s", got, want)
		}
	})
}

// TestLimiter: reservations made at once never exceed the limit; released
// ones are given back; the window slides; the key count stays capped.
func TestLimiter(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	l := newLimiter(10, time.Minute, 100, clock)

	var wg sync.WaitGroup
	var okMu sync.Mutex
	var granted []time.Time
	for range 200 {
		wg.Go(func() {
			at, wait, ok := l.reserve("k")
			if !ok && (wait <= 0 || wait > time.Minute) {
				t.Errorf("refused with wait %s", wait)
			}
			if ok {
				okMu.Lock()
				granted = append(granted, at)
				okMu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(granted) != 10 {
		t.Fatalf("200 reservations at once: %d granted, want 10", len(granted))
	}
	if _, _, ok := l.reserve("k"); ok {
		t.Fatal("11th reservation granted")
	}
	l.release("k", granted[0])
	if _, _, ok := l.reserve("k"); !ok {
		t.Error("a released reservation was not given back")
	}
	if _, _, ok := l.reserve("other"); !ok {
		t.Error("another key is refused")
	}
	advance(30 * time.Second)
	if _, wait, ok := l.reserve("k"); ok || wait != 30*time.Second {
		t.Errorf("half a minute on: ok %t, wait %s; want refused for 30s", ok, wait)
	}
	advance(30 * time.Second)
	if _, _, ok := l.reserve("k"); !ok {
		t.Error("a minute on: still refused")
	}
	l.reset("k")
	if l.len() != 1 {
		t.Errorf("after reset: %d keys, want 1", l.len())
	}

	// A spray of keys holds at most maxKeys; the most recent survive.
	for i := range 1000 {
		advance(time.Millisecond)
		if _, _, ok := l.reserve(fmt.Sprint("spray", i)); !ok {
			t.Fatalf("new key %d refused", i)
		}
	}
	if l.len() != 100 {
		t.Errorf("after 1000 keys: %d held, want 100", l.len())
	}
	if _, _, ok := l.reserve("spray999"); !ok || l.len() != 100 {
		t.Error("the latest key was forgotten")
	}
	advance(time.Minute)
	if _, _, ok := l.reserve("late"); !ok || l.len() != 1 {
		t.Errorf("after the window: %d keys held, want 1 (expired ones pruned)", l.len())
	}
}

// TestSignInLimits: an attempt refused by one budget spends nothing of the
// other; success clears the account but keeps the address's failures.
func TestSignInLimits(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSignInLimits(func() time.Time { return now })
	addr := netip.MustParseAddr("192.0.2.1")
	for i := range addressMaxFailures {
		if _, _, ok := s.reserve(fmt.Sprint("user", i), addr); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if _, _, ok := s.reserve("alice", addr); ok {
		t.Fatal("the address's budget is spent, yet an attempt was granted")
	}
	if _, _, ok := s.reserve("alice", netip.MustParseAddr("192.0.2.2")); !ok {
		t.Fatal("another address is refused")
	}
	if got := len(s.account.hits[accountKey("alice")]); got != 1 {
		t.Errorf("alice's account holds %d attempts, want 1: the refused one was counted", got)
	}
	other := netip.MustParseAddr("192.0.2.3")
	a, _, _ := s.reserve("ALICE ", other)
	a.succeeded()
	if _, ok := s.account.hits[accountKey("alice")]; ok {
		t.Error("success kept the account's failures")
	}
	if got := len(s.address.hits[addressKey(other)]); got != 0 {
		t.Errorf("success left %d attempts on its address, want 0", got)
	}
	if got := len(s.address.hits[addressKey(addr)]); got != addressMaxFailures {
		t.Errorf("the spraying address holds %d attempts, want %d", got, addressMaxFailures)
	}
}

func TestAddressKey(t *testing.T) {
	f := func(a, want string) {
		t.Helper()
		if got := addressKey(netip.MustParseAddr(a)); got != want {
			t.Errorf("addressKey(%s) = %s, want %s", a, got, want)
		}
	}
	f("192.0.2.1", "192.0.2.1")
	f("::ffff:192.0.2.1", "192.0.2.1")
	f("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")
	f("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64")
	f("fe80::1%eth0", "fe80::/64")
	if got := addressKey(netip.Addr{}); got != "unknown" {
		t.Errorf("addressKey(invalid) = %s", got)
	}
}
