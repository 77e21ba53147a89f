package codemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/codemon"
	"github.com/tracekit-oss/tracekit/internal/store"
)

// waitFor polls cond until it holds, failing after a deadline generous
// enough for -race on a busy machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newKey adds an ingest key to project p.
func (e *env) newKey(t *testing.T, name string) (string, store.APIKey) {
	t.Helper()
	secret, k, err := auth.CreateKey(context.Background(), e.st, "p", name, store.ScopeIngest, "", e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	return secret, k
}

func TestKeyRevokedEndsStreams(t *testing.T) {
	e := newEnv(t)
	otherSecret, otherKey := e.newKey(t, "sdk-2")
	revoked := e.openStream(t, "")
	revoked.next(t)
	kept, code := e.tryStream(t, otherSecret, "service=pay&instance=i-2", "")
	if kept == nil {
		t.Fatalf("stream with another key: %d", code)
	}
	kept.next(t)

	// What the API and the dashboard do on revocation.
	if err := e.st.RevokeKey(context.Background(), "p", e.sdkKey.ID, e.clock.now()); err != nil {
		t.Fatal(err)
	}
	e.svc.KeyRevoked("p", e.sdkKey.ID)
	revoked.ended(t)

	// The other key's stream still delivers changes.
	e.create(t, map[string]any{"service": "pay", "file": "a.go", "line": 3})
	if cfg := kept.next(t); len(cfg.Breakpoints) != 1 {
		t.Fatalf("other key's stream after the revocation: %+v", cfg)
	}
	// Authentication refuses the revoked key from now on.
	if _, code := e.tryStream(t, e.sdk, defaultStream, ""); code != http.StatusUnauthorized {
		t.Errorf("new stream with the revoked key: %d, want 401", code)
	}
	// A stream authenticated just before the revocation reached the store,
	// but subscribing after the hook, is refused as well.
	lateSecret, late := e.newKey(t, "sdk-3")
	e.svc.KeyRevoked("p", late.ID)
	if _, code := e.tryStream(t, lateSecret, defaultStream, ""); code != http.StatusUnauthorized {
		t.Errorf("stream subscribing after KeyRevoked: %d, want 401", code)
	}
	// The same key ID in another project is not this key.
	e.svc.KeyRevoked("q", otherKey.ID)
	e.create(t, map[string]any{"service": "pay", "file": "a.go", "line": 4})
	if cfg := kept.next(t); len(cfg.Breakpoints) != 2 {
		t.Fatalf("other key's stream after a revocation in another project: %+v", cfg)
	}
}

// refusal opens a stream expecting a refusal, and returns its status,
// Retry-After and error message.
func (e *env) refusal(t *testing.T, key, query string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/codemon/stream?"+query, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Error string }
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("stream %s opened, want a refusal", query)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("refusal body: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), out.Error
}

func TestStreamCaps(t *testing.T) {
	e := newEnvWith(t, codemon.Options{MaxStreamsPerKey: 2, MaxStreams: 3})
	otherSecret, _ := e.newKey(t, "sdk-2")
	open := func(key, instance string) *sseClient {
		t.Helper()
		c, code := e.tryStream(t, key, "service=pay&instance="+instance, "")
		if c == nil {
			t.Fatalf("stream %s: %d", instance, code)
		}
		c.next(t)
		return c
	}
	refused := func(key, instance string, want ...string) {
		t.Helper()
		code, retry, msg := e.refusal(t, key, "service=pay&instance="+instance)
		if code != http.StatusTooManyRequests || retry == "" {
			t.Errorf("stream %s beyond a cap: %d Retry-After %q, want 429 with Retry-After", instance, code, retry)
		}
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("stream %s: error %q does not mention %q", instance, msg, w)
			}
		}
	}
	first := open(e.sdk, "a-1")
	open(e.sdk, "a-2")
	refused(e.sdk, "a-3", "per API key", "at most 2")
	open(otherSecret, "b-1")
	refused(otherSecret, "b-2", "in total", "at most 3")

	// A stream that ends frees its slot, for its key and in total.
	first.close()
	waitFor(t, "a freed slot reused", func() bool {
		c, code := e.tryStream(t, e.sdk, "service=pay&instance=a-3", "")
		if c == nil && code != http.StatusTooManyRequests {
			t.Fatalf("stream after a slot was freed: %d", code)
		}
		return c != nil
	})
	refused(e.sdk, "a-4", "per API key")
	// Polling is not capped.
	if code := e.call(t, e.sdk, "GET", "/v1/codemon/breakpoints?service=pay&instance=a-4", nil, nil); code != 200 {
		t.Errorf("poll while the streams are capped: %d", code)
	}
}

// instanceIDs lists the IDs of a service's instances, sorted, with a *
// after those that stream.
func (e *env) instanceIDs(t *testing.T, service string) []string {
	t.Helper()
	var out struct{ Instances []codemon.Instance }
	if code := e.call(t, e.admin, "GET", "/api/v1/services/"+service+"/instances", nil, &out); code != 200 {
		t.Fatalf("instances of %s: %d", service, code)
	}
	ids := []string{}
	for _, in := range out.Instances {
		id := in.ID
		if in.Streaming {
			id += "*"
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func TestInstanceRegistryBound(t *testing.T) {
	e := newEnvWith(t, codemon.Options{MaxInstancesPerService: 4, MaxServicesPerProject: 3})
	poll := func(service, instance string) {
		t.Helper()
		if code := e.call(t, e.sdk, "GET", "/v1/codemon/breakpoints?service="+service+"&instance="+instance, nil, nil); code != 200 {
			t.Fatalf("poll %s/%s: %d", service, instance, code)
		}
	}
	e.openStream(t, "").next(t) // pay/i-1 streams
	for i := range 40 {
		poll("pay", fmt.Sprintf("r-%02d", i))
	}
	if got, want := e.instanceIDs(t, "pay"), []string{"i-1*", "r-37", "r-38", "r-39"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after 40 instance IDs: %v, want the streaming one and the most recent: %v", got, want)
	}
	for i := range 30 {
		poll(fmt.Sprintf("svc-%02d", i), "x")
	}
	var listed []string
	for i := range 30 {
		if s := fmt.Sprintf("svc-%02d", i); len(e.instanceIDs(t, s)) > 0 {
			listed = append(listed, s)
		}
	}
	if fmt.Sprint(listed) != "[svc-28 svc-29]" || len(e.instanceIDs(t, "pay")) != 4 {
		t.Errorf("after 30 services: listed %v and pay, want svc-28, svc-29 and pay (it streams)", listed)
	}
}

func TestInstanceRegistryNeverDropsStreams(t *testing.T) {
	e := newEnvWith(t, codemon.Options{MaxInstancesPerService: 2})
	e.openStream(t, "").next(t) // i-1
	second, code := e.tryStream(t, e.sdk, "service=pay&instance=i-2", "")
	if second == nil {
		t.Fatalf("second stream: %d", code)
	}
	second.next(t)
	// Full of streaming instances: the request works, the instance is not listed.
	if code := e.call(t, e.sdk, "GET", "/v1/codemon/breakpoints?service=pay&instance=i-3", nil, nil); code != 200 {
		t.Fatalf("poll with a full registry: %d", code)
	}
	if got := e.instanceIDs(t, "pay"); fmt.Sprint(got) != "[i-1* i-2*]" {
		t.Errorf("instances = %v, want the two streaming ones", got)
	}
	second.close()
	waitFor(t, "i-2 stops streaming", func() bool { return fmt.Sprint(e.instanceIDs(t, "pay")) == "[i-1* i-2]" })
	e.call(t, e.sdk, "GET", "/v1/codemon/breakpoints?service=pay&instance=i-3", nil, nil)
	if got := e.instanceIDs(t, "pay"); fmt.Sprint(got) != "[i-1* i-3]" {
		t.Errorf("instances = %v, want i-3 in place of the idle i-2", got)
	}
}
