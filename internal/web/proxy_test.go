package web

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		ps, err := ParseTrustedProxies(in)
		got := fmt.Sprint(ps)
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("ParseTrustedProxies(%q) = %s, want %s", in, got, want)
		}
	}
	f("", "[]")
	f(" , ", "[]")
	f("10.0.0.0/8", "[10.0.0.0/8]")
	f("10.0.0.0/8, 192.0.2.7,fd00::/8", "[10.0.0.0/8 192.0.2.7/32 fd00::/8]")
	f("2001:db8::7", "[2001:db8::7/128]")
	f("10.1.2.3/8", "[10.0.0.0/8]")
	f("::ffff:192.0.2.7", "[192.0.2.7/32]")
	f("::ffff:10.0.0.0/104", "[10.0.0.0/8]")
	f("10.0.0.0/8,proxy.internal", `error: trusted proxy "proxy.internal": not an IP address`)
	f("192.0.2.7:8080", `error: trusted proxy "192.0.2.7:8080": not an IP address`)
	f("fe80::1%eth0", `error: trusted proxy "fe80::1%eth0": not an IP address`)
	f("10.0.0.0/33", `error: trusted proxy "10.0.0.0/33": not a CIDR prefix`)
	f("10.0.0.0/", `error: trusted proxy "10.0.0.0/": not a CIDR prefix`)
	f("0.0.0.0/0", `error: trusted proxy "0.0.0.0/0": this trusts every address`)
	f("::/0", `error: trusted proxy "::/0": this trusts every address`)
}

func TestNewRejectsInvalidProxy(t *testing.T) {
	h := newHarness(t)
	_, err := New(Config{Store: h.st, Codemon: h.d.cm, Log: h.d.log, TrustedProxies: []netip.Prefix{{}}})
	if err == nil || !strings.Contains(err.Error(), "TrustedProxies[0]") {
		t.Errorf("New with an invalid prefix: %v", err)
	}
}

// TestRequestFromProxy: HTTPS and the client's address are believed from
// trusted proxies only.
func TestRequestFromProxy(t *testing.T) {
	h := newHarness(t)
	d := *h.d
	d.proxies, _ = newTrustedProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	f := func(peer string, tlsOn bool, header []string, wantHTTPS bool, wantAddr string) {
		t.Helper()
		r := httptest.NewRequest("GET", "/login", nil)
		r.RemoteAddr = peer
		if tlsOn {
			r.TLS = &tls.ConnectionState{}
		} else {
			r.TLS = nil
		}
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		if got := d.isHTTPS(r); got != wantHTTPS {
			t.Errorf("%s %v: isHTTPS = %t, want %t", peer, header, got, wantHTTPS)
		}
		if got := d.clientAddr(r).String(); got != wantAddr {
			t.Errorf("%s %v: clientAddr = %s, want %s", peer, header, got, wantAddr)
		}
	}
	xfp, xff := "X-Forwarded-Proto", "X-Forwarded-For"
	// Direct.
	f("192.0.2.1:5000", false, nil, false, "192.0.2.1")
	f("192.0.2.1:5000", true, nil, true, "192.0.2.1")
	f("[2001:db8::1]:5000", false, nil, false, "2001:db8::1")
	f("[::ffff:192.0.2.1]:5000", false, nil, false, "192.0.2.1")
	// An untrusted peer's headers mean nothing.
	f("192.0.2.1:5000", false, []string{xfp, "https", xff, "198.51.100.1"}, false, "192.0.2.1")
	f("11.0.0.1:5000", false, []string{xfp, "https", xff, "198.51.100.1"}, false, "11.0.0.1")
	f("[fe00::1]:5000", false, []string{xfp, "https", xff, "198.51.100.1"}, false, "fe00::1")
	// A trusted peer's are believed.
	f("10.0.0.2:5000", false, []string{xfp, "https", xff, "198.51.100.1"}, true, "198.51.100.1")
	f("10.0.0.2:5000", false, []string{xfp, "HTTPS"}, true, "10.0.0.2")
	f("[fd00::2]:5000", false, []string{xfp, "https", xff, "2001:db8::5"}, true, "2001:db8::5")
	f("[::ffff:10.0.0.2]:5000", false, []string{xfp, "https", xff, "[2001:db8::5]:1234"}, true, "2001:db8::5")
	f("10.0.0.2:5000", false, []string{xfp, "http", xff, "198.51.100.1:4444"}, false, "198.51.100.1")
	f("10.0.0.2:5000", false, []string{xfp, "https, http"}, false, "10.0.0.2")
	f("10.0.0.2:5000", false, []string{xfp, "http", xfp, "https"}, true, "10.0.0.2")
	// The client is the right-most address that is not a trusted proxy.
	f("10.0.0.2:5000", false, []string{xff, "203.0.113.66, 198.51.100.1, 10.0.0.3"}, false, "198.51.100.1")
	f("10.0.0.2:5000", false, []string{xff, "203.0.113.66", xff, "198.51.100.1"}, false, "198.51.100.1")
	f("10.0.0.2:5000", false, []string{xff, "10.0.0.4, 10.0.0.3"}, false, "10.0.0.4")
	f("10.0.0.2:5000", false, []string{xff, "198.51.100.1, unknown, 10.0.0.3"}, false, "10.0.0.3")
	f("10.0.0.2:5000", false, []string{xff, ""}, false, "10.0.0.2")
}

// TestSecureCookieBehindProxy: behind a proxy that ends TLS, cookies are
// Secure when the proxy is trusted and says the browser used HTTPS, and
// only then.
func TestSecureCookieBehindProxy(t *testing.T) {
	trusted := func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} }
	untrusted := func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} }
	for _, tc := range []struct {
		name      string
		configure func(*Config)
		proto     string
		want      bool
	}{
		{"trusted proxy, https", trusted, "https", true},
		{"trusted proxy, http", trusted, "http", false},
		{"trusted proxy, no header", trusted, "", false},
		{"untrusted peer, https", untrusted, "https", false},
		{"no proxies, https", nil, "https", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h *harness
			if tc.configure != nil {
				h = newHarness(t, tc.configure)
			} else {
				h = newHarness(t)
			}
			h.user("alice@example.com", "correct horse", false, "p1")
			var hd []string
			if tc.proto != "" {
				hd = []string{"X-Forwarded-Proto", tc.proto}
			}
			send := func(method, path, body string, cookies ...*http.Cookie) *http.Response {
				t.Helper()
				req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				for i := 0; i+1 < len(hd); i += 2 {
					req.Header.Set(hd[i], hd[i+1])
				}
				for _, c := range cookies {
					req.AddCookie(c)
				}
				c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp
			}
			cookie := func(resp *http.Response, name string) *http.Cookie {
				t.Helper()
				for _, c := range resp.Cookies() {
					if c.Name == name {
						return c
					}
				}
				t.Fatalf("%s %s sets no cookie %s", resp.Request.Method, resp.Request.URL.Path, name)
				return nil
			}
			check := func(c *http.Cookie) {
				t.Helper()
				if c.Secure != tc.want {
					t.Errorf("cookie %s: Secure %t, want %t", c.Name, c.Secure, tc.want)
				}
			}
			login := cookie(send("GET", "/login", ""), loginCookie)
			check(login)
			form := url.Values{"csrf": {login.Value}, "email": {"alice@example.com"}, "password": {"correct horse"}}
			resp := send("POST", "/login", form.Encode(), &http.Cookie{Name: loginCookie, Value: login.Value})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign in: %d", resp.StatusCode)
			}
			session := cookie(resp, sessionCookie)
			check(session)
			check(cookie(send("GET", "/p/p1/traces", "", &http.Cookie{Name: sessionCookie, Value: session.Value}), projectCookie))
		})
	}
}
