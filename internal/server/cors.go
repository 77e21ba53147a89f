package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
)

// Browsers send spans from pages on other origins (the browser SDK, or any
// OpenTelemetry web exporter). The intake answers their CORS preflights for
// the origins an operator lists, and nothing for the others; and since a key
// in a page is readable by anyone who opens it, a request from a browser
// origin is accepted only with an ingest-scope key.

// corsAllowHeaders are the request headers a page may send to the intake.
const corsAllowHeaders = "Content-Type, Content-Encoding, X-API-Key, Authorization, traceparent, tracestate"

// ParseCORSOrigins parses a comma-separated list of origins
// ("https://app.example.com, http://localhost:3000"), naming a bad entry.
func ParseCORSOrigins(s string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("origin %q: use scheme://host[:port], such as https://app.example.com", o)
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out, nil
}

// keyChecker resolves the key a request carries.
type keyChecker interface {
	Authenticate(ctx context.Context, secret string) (auth.Principal, error)
}

// corsIntake wraps an intake handler: requests without an Origin header
// pass unchanged; a preflight is answered for a listed origin and refused
// for others; a request from a listed origin passes with an ingest key only.
func corsIntake(next http.Handler, origins []string, keys keyChecker) http.Handler {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		if !allowed[strings.ToLower(origin)] {
			api.WriteError(w, http.StatusForbidden, fmt.Sprintf("origin %q may not send telemetry here: add it to the server's --cors-origins", origin))
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if m := r.Header.Get("Access-Control-Request-Method"); m != http.MethodPost {
				api.WriteError(w, http.StatusForbidden, fmt.Sprintf("method %s: send telemetry with POST", m))
				return
			}
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", corsAllowHeaders)
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		p, err := keys.Authenticate(r.Context(), auth.FromHeader(r.Header))
		if err == nil && p.Scope != store.ScopeIngest {
			api.WriteError(w, http.StatusForbidden, "this key's scope is too wide for a browser page, where anyone can read it: send spans from pages with an ingest key")
			return
		}
		// A missing or unknown key is the handler's to answer, in its format.
		next.ServeHTTP(w, r)
	})
}
