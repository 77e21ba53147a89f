package codemon

import (
	"sort"
	"sync"
	"time"
)

type serviceKey struct{ project, service string }

// subscriber is one open SSE stream. Its channel holds at most the latest
// breakpoint set: a slow reader skips intermediate versions, never blocks
// the publisher.
type subscriber struct {
	ch     chan Config
	closed chan struct{}
}

func (s *subscriber) offer(c Config) {
	for {
		select {
		case s.ch <- c:
			return
		default:
		}
		select {
		case <-s.ch: // drop the stale one
		default:
		}
	}
}

// Instance is one SDK process as the server last heard from it.
type Instance struct {
	ID             string    `json:"id"`
	Service        string    `json:"service"`
	Environment    string    `json:"environment,omitempty"`
	Host           string    `json:"host,omitempty"`
	SDKVersion     string    `json:"sdk,omitempty"`
	ConnectedSince time.Time `json:"connectedSince"`
	LastSeen       time.Time `json:"lastSeen"`
	// Streaming is true while the instance holds an SSE stream open.
	Streaming bool `json:"streaming"`
	streams   int
}

// instanceTTL is how long an instance that neither streams nor polls stays
// listed.
const instanceTTL = 10 * time.Minute

// hub tracks SSE subscribers and SDK instances. It owns no goroutines.
type hub struct {
	mu        sync.Mutex
	subs      map[serviceKey]map[*subscriber]struct{}
	instances map[serviceKey]map[string]*Instance
	closed    bool
}

func newHub() *hub {
	return &hub{subs: map[serviceKey]map[*subscriber]struct{}{}, instances: map[serviceKey]map[string]*Instance{}}
}

func (h *hub) subscribe(project, service string) *subscriber {
	s := &subscriber{ch: make(chan Config, 1), closed: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.closed)
		return s
	}
	k := serviceKey{project, service}
	if h.subs[k] == nil {
		h.subs[k] = map[*subscriber]struct{}{}
	}
	h.subs[k][s] = struct{}{}
	return s
}

func (h *hub) unsubscribe(project, service string, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := serviceKey{project, service}
	delete(h.subs[k], s)
	if len(h.subs[k]) == 0 {
		delete(h.subs, k)
	}
}

func (h *hub) hasSubscribers(project, service string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[serviceKey{project, service}]) > 0
}

func (h *hub) subscribedServices() []serviceKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]serviceKey, 0, len(h.subs))
	for k := range h.subs {
		out = append(out, k)
	}
	return out
}

func (h *hub) publish(project, service string, c Config) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[serviceKey{project, service}] {
		s.offer(c)
	}
}

// closeAll ends every stream (server shutdown).
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, m := range h.subs {
		for s := range m {
			select {
			case <-s.closed:
			default:
				close(s.closed)
			}
		}
	}
}

// seen records that an instance was heard from; streaming adjusts the count
// of its open streams by delta.
func (h *hub) seen(project string, in Instance, now time.Time, streamDelta int) {
	if in.ID == "" {
		in.ID = in.Host
	}
	if in.ID == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := serviceKey{project, in.Service}
	if h.instances[k] == nil {
		h.instances[k] = map[string]*Instance{}
	}
	cur := h.instances[k][in.ID]
	if cur == nil {
		in.ConnectedSince = now
		cur = &in
		h.instances[k][in.ID] = cur
	} else {
		cur.Environment, cur.Host, cur.SDKVersion = in.Environment, in.Host, in.SDKVersion
	}
	cur.LastSeen = now
	cur.streams = max(0, cur.streams+streamDelta)
	cur.Streaming = cur.streams > 0
}

func (h *hub) listInstances(project, service string) []Instance {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []Instance{}
	for _, in := range h.instances[serviceKey{project, service}] {
		out = append(out, *in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ConnectedSince.Before(out[j].ConnectedSince) })
	return out
}

func (h *hub) pruneInstances(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, m := range h.instances {
		for id, in := range m {
			if in.streams == 0 && now.Sub(in.LastSeen) > instanceTTL {
				delete(m, id)
			}
		}
		if len(m) == 0 {
			delete(h.instances, k)
		}
	}
}
