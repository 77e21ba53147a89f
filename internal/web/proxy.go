package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses the --trusted-proxies setting: IP addresses
// and CIDR prefixes separated by commas, such as "10.0.0.0/8, 192.0.2.7,
// fd00::/8". An empty string trusts no proxy. The error names the entry at
// fault.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(e, "/") {
			var err error
			if p, err = netip.ParsePrefix(e); err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not a CIDR prefix: give one such as 10.0.0.0/8 or fd00::/8", e)
			}
		} else {
			a, err := netip.ParseAddr(e)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("trusted proxy %q: not an IP address: give one such as 192.0.2.7 or 2001:db8::7, without a port or zone", e)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("trusted proxy %q: this trusts every address, so anyone could claim HTTPS or another client address: name the proxies' addresses", e)
		}
		out = append(out, normalPrefix(p))
	}
	return out, nil
}

// normalPrefix masks p and writes an IPv4-mapped IPv6 prefix as IPv4, the
// form peer addresses are compared in.
func normalPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// trustedProxies are the peers whose X-Forwarded-Proto and X-Forwarded-For
// are believed.
type trustedProxies []netip.Prefix

func newTrustedProxies(ps []netip.Prefix) (trustedProxies, error) {
	t := make(trustedProxies, 0, len(ps))
	for i, p := range ps {
		if !p.IsValid() {
			return nil, fmt.Errorf("web: TrustedProxies[%d] is not a valid prefix", i)
		}
		t = append(t, normalPrefix(p))
	}
	return t, nil
}

func (t trustedProxies) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the address of the connection's other end.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, _ := netip.ParseAddr(r.RemoteAddr)
		return a.Unmap().WithZone("")
	}
	return ap.Addr().Unmap().WithZone("")
}

// headerList is the comma-separated values of every line of a header, in
// order.
func headerList(r *http.Request, name string) []string {
	return strings.Split(strings.Join(r.Header.Values(name), ","), ",")
}

// isHTTPS says whether the browser reached us over HTTPS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto. Every cookie
// is Secure when it is.
func (d *Dashboard) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !d.proxies.contains(peerAddr(r)) {
		return false
	}
	// The right-most value is the one the trusted peer wrote.
	v := headerList(r, "X-Forwarded-Proto")
	return strings.EqualFold(strings.TrimSpace(v[len(v)-1]), "https")
}

// clientAddr is the address of the browser, as far as it can be known:
// the peer, unless the peer is a trusted proxy, in which case the
// right-most X-Forwarded-For entry that is not itself a trusted proxy
// (entries left of it were written by the client and prove nothing).
func (d *Dashboard) clientAddr(r *http.Request) netip.Addr {
	a := peerAddr(r)
	if !d.proxies.contains(a) {
		return a
	}
	fwd := headerList(r, "X-Forwarded-For")
	for i := len(fwd) - 1; i >= 0; i-- {
		b, ok := parseForwarded(strings.TrimSpace(fwd[i]))
		if !ok {
			break // none, or unreadable: count the request against the last trusted hop
		}
		a = b
		if !d.proxies.contains(a) {
			break
		}
	}
	return a
}

// parseForwarded reads one X-Forwarded-For entry: an address, possibly
// with a port, IPv6 possibly in brackets.
func parseForwarded(e string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(e, "["), "]"))
	if err != nil {
		ap, err := netip.ParseAddrPort(e)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// setCookie sets c on the response, Secure when the request came over
// HTTPS.
func (d *Dashboard) setCookie(w http.ResponseWriter, r *http.Request, c *http.Cookie) {
	c.Secure = d.isHTTPS(r)
	http.SetCookie(w, c)
}
