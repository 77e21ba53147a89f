package codemon

import (
	"container/list"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

type serviceKey struct{ project, service string }

// keyRef names the API key a stream was opened with: streams are counted
// and ended per key.
type keyRef struct{ project, keyID string }

// subscriber is one open SSE stream. Its channel holds at most the latest
// breakpoint set: a slow reader skips intermediate versions, never blocks
// the publisher.
type subscriber struct {
	ch      chan protocol.BreakpointSet
	closed  chan struct{}
	service serviceKey
	key     keyRef

	mu      sync.Mutex // guards ended, writing and abort against end
	ended   bool
	writing bool
	// abort makes a write in progress fail at once, so that a stream whose
	// client stopped reading still ends when it is closed.
	abort func()
}

func (s *subscriber) offer(c protocol.BreakpointSet) {
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

// beginWrite reports whether the stream may write; a true answer must be
// followed by endWrite. Between the two, end aborts the write.
func (s *subscriber) beginWrite() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.writing = true
	return true
}

func (s *subscriber) endWrite() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writing = false
}

// end closes the stream: its handler returns at its next select, or now if
// it is blocked writing. The abort runs only inside beginWrite/endWrite,
// while the handler still owns the response, never after it returned.
func (s *subscriber) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	close(s.closed)
	if s.writing && s.abort != nil {
		s.abort()
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
}

// instanceTTL is how long an instance that neither streams nor polls stays
// listed, and how long a revoked key is remembered for the streams that
// were authenticated just before the revocation.
const instanceTTL = 10 * time.Minute

// instanceEntry is an Instance with the registry's bookkeeping.
type instanceEntry struct {
	Instance
	streams int
	// idle is the entry's place in its service's idle list; nil while the
	// instance streams, so that it is never evicted.
	idle *list.Element
}

// serviceInstances are the known instances of one service.
type serviceInstances struct {
	name string
	byID map[string]*instanceEntry
	// idle holds the instances without open streams, most recently seen
	// first: the back is the one to evict.
	idle      list.List
	streaming int // instances with open streams
	// idleElem is the service's place in its project's idle list; nil while
	// one of its instances streams.
	idleElem *list.Element
}

func (sv *serviceInstances) evictOne() bool {
	back := sv.idle.Back()
	if back == nil {
		return false
	}
	e := sv.idle.Remove(back).(*instanceEntry)
	delete(sv.byID, e.ID)
	return true
}

// projectInstances are the services of one project that have instances.
type projectInstances struct {
	services map[string]*serviceInstances
	// idle holds the services without streaming instances, most recently
	// seen first.
	idle list.List
}

func (p *projectInstances) evictOne() bool {
	back := p.idle.Back()
	if back == nil {
		return false
	}
	sv := p.idle.Remove(back).(*serviceInstances)
	delete(p.services, sv.name)
	return true
}

// hubLimits bound what clients can make the hub hold.
type hubLimits struct {
	streamsPerKey, streams                  int
	instancesPerService, servicesPerProject int
}

// streamLimitError is a stream refused because a cap is reached.
type streamLimitError struct {
	perKey bool
	limit  int
}

func (e *streamLimitError) Error() string {
	if e.perKey {
		return fmt.Sprintf("stream limit per API key reached: at most %d open streams per key; close one, or poll GET /v1/codemon/breakpoints meanwhile", e.limit)
	}
	return fmt.Sprintf("stream limit of the server reached: at most %d open streams in total; poll GET /v1/codemon/breakpoints meanwhile", e.limit)
}

var (
	errKeyRevoked   = errors.New("API key has been revoked")
	errShuttingDown = errors.New("server is shutting down: reconnect shortly")
)

// hub tracks SSE subscribers and SDK instances. It owns no goroutines.
type hub struct {
	mu       sync.Mutex
	limits   hubLimits
	subs     map[serviceKey]map[*subscriber]struct{}
	byKey    map[keyRef]map[*subscriber]struct{}
	streams  int
	projects map[string]*projectInstances
	// revoked remembers recent revocations, so that a stream authenticated
	// before its key was revoked but subscribing after is refused too.
	revoked map[keyRef]time.Time
	closed  bool
}

func newHub(l hubLimits) *hub {
	return &hub{
		limits: l,
		subs:   map[serviceKey]map[*subscriber]struct{}{}, byKey: map[keyRef]map[*subscriber]struct{}{},
		projects: map[string]*projectInstances{}, revoked: map[keyRef]time.Time{},
	}
}

// subscribe opens a stream for a service with a key, within the caps;
// abort makes a write of the stream in progress fail.
func (h *hub) subscribe(service serviceKey, key keyRef, abort func()) (*subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch _, revoked := h.revoked[key]; {
	case h.closed:
		return nil, errShuttingDown
	case revoked:
		return nil, errKeyRevoked
	case len(h.byKey[key]) >= h.limits.streamsPerKey:
		return nil, &streamLimitError{perKey: true, limit: h.limits.streamsPerKey}
	case h.streams >= h.limits.streams:
		return nil, &streamLimitError{limit: h.limits.streams}
	}
	s := &subscriber{ch: make(chan protocol.BreakpointSet, 1), closed: make(chan struct{}), service: service, key: key, abort: abort}
	if h.subs[service] == nil {
		h.subs[service] = map[*subscriber]struct{}{}
	}
	h.subs[service][s] = struct{}{}
	if h.byKey[key] == nil {
		h.byKey[key] = map[*subscriber]struct{}{}
	}
	h.byKey[key][s] = struct{}{}
	h.streams++
	return s, nil
}

// unsubscribe frees the stream's slot.
func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s.service][s]; !ok {
		return
	}
	delete(h.subs[s.service], s)
	if len(h.subs[s.service]) == 0 {
		delete(h.subs, s.service)
	}
	delete(h.byKey[s.key], s)
	if len(h.byKey[s.key]) == 0 {
		delete(h.byKey, s.key)
	}
	h.streams--
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

func (h *hub) publish(project, service string, c protocol.BreakpointSet) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[serviceKey{project, service}] {
		s.offer(c)
	}
}

// keyRevoked ends every stream opened with key and refuses new ones.
func (h *hub) keyRevoked(key keyRef, now time.Time) {
	h.mu.Lock()
	h.revoked[key] = now
	ending := make([]*subscriber, 0, len(h.byKey[key]))
	for s := range h.byKey[key] {
		ending = append(ending, s)
	}
	h.mu.Unlock()
	// Outside h.mu: an abort may wait for the connection's writer.
	for _, s := range ending {
		s.end()
	}
}

// closeAll ends every stream (server shutdown).
func (h *hub) closeAll() {
	h.mu.Lock()
	h.closed = true
	ending := make([]*subscriber, 0, h.streams)
	for _, m := range h.subs {
		for s := range m {
			ending = append(ending, s)
		}
	}
	h.mu.Unlock()
	for _, s := range ending {
		s.end()
	}
}

// seen records that an instance was heard from; streamDelta adjusts the
// count of its open streams. It reports whether the instance is recorded:
// when its service (or project) is at its cap and every instance (service)
// there streams, a new one is not, since the registry is informational.
func (h *hub) seen(project string, in Instance, now time.Time, streamDelta int) bool {
	if in.ID == "" {
		in.ID = in.Host
	}
	if in.ID == "" {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.projects[project]
	if p == nil {
		if streamDelta < 0 {
			return false
		}
		p = &projectInstances{services: map[string]*serviceInstances{}}
		h.projects[project] = p
	}
	sv := p.services[in.Service]
	if sv == nil {
		if streamDelta < 0 || (len(p.services) >= h.limits.servicesPerProject && !p.evictOne()) {
			return false
		}
		sv = &serviceInstances{name: in.Service, byID: map[string]*instanceEntry{}}
		sv.idleElem = p.idle.PushFront(sv)
		p.services[in.Service] = sv
	}
	e := sv.byID[in.ID]
	if e == nil {
		if streamDelta < 0 || (len(sv.byID) >= h.limits.instancesPerService && !sv.evictOne()) {
			return false
		}
		in.ConnectedSince = now
		e = &instanceEntry{Instance: in}
		e.idle = sv.idle.PushFront(e)
		sv.byID[in.ID] = e
	} else {
		e.Environment, e.Host, e.SDKVersion = in.Environment, in.Host, in.SDKVersion
	}
	e.LastSeen = now
	wasStreaming := e.streams > 0
	e.streams = max(0, e.streams+streamDelta)
	e.Streaming = e.streams > 0
	switch {
	case e.Streaming && !wasStreaming:
		sv.idle.Remove(e.idle)
		e.idle = nil
		sv.streaming++
	case !e.Streaming && wasStreaming:
		e.idle = sv.idle.PushFront(e)
		sv.streaming--
	case e.idle != nil:
		sv.idle.MoveToFront(e.idle)
	}
	switch {
	case sv.streaming > 0 && sv.idleElem != nil:
		p.idle.Remove(sv.idleElem)
		sv.idleElem = nil
	case sv.streaming == 0 && sv.idleElem == nil:
		sv.idleElem = p.idle.PushFront(sv)
	case sv.idleElem != nil:
		p.idle.MoveToFront(sv.idleElem)
	}
	return true
}

func (h *hub) listInstances(project, service string) []Instance {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []Instance{}
	if p := h.projects[project]; p != nil && p.services[service] != nil {
		for _, e := range p.services[service].byID {
			out = append(out, e.Instance)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ConnectedSince.Before(out[j].ConnectedSince) })
	return out
}

// prune forgets the instances not heard from for instanceTTL, the services
// left without instances, and old revocations.
func (h *hub) prune(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, p := range h.projects {
		for _, sv := range p.services {
			// The idle list is in order of last sight: stop at the first
			// instance still fresh.
			for el := sv.idle.Back(); el != nil; {
				e := el.Value.(*instanceEntry)
				if now.Sub(e.LastSeen) <= instanceTTL {
					break
				}
				prev := el.Prev()
				sv.idle.Remove(el)
				delete(sv.byID, e.ID)
				el = prev
			}
			if len(sv.byID) == 0 {
				p.idle.Remove(sv.idleElem)
				delete(p.services, sv.name)
			}
		}
		if len(p.services) == 0 {
			delete(h.projects, name)
		}
	}
	for k, at := range h.revoked {
		if now.Sub(at) > instanceTTL {
			delete(h.revoked, k)
		}
	}
}
