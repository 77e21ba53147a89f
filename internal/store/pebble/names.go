package pebble

import (
	"errors"
	"fmt"
	"sync"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Default limits on the names of one project. Every service and operation
// name adds keys, index blocks and memory, and a search or a statistics page
// may visit each; one ingest key sending made-up names must not be able to
// grow them without bound.
const (
	DefaultMaxServices   = 1000
	DefaultMaxOperations = 1000
)

// nameCacheSize bounds how many name keys known to be on disk are kept in
// memory; a name missing from the cache costs one point read.
const nameCacheSize = 100_000

// names writes the key of each service and operation name once, and refuses
// spans that would give a project more services, or a service more
// operations, than the limits allow.
//
// Counts are of names on disk plus names reserved by writes in flight: a
// write reserves its new names before it commits and settles them after, so
// that concurrent writes cannot pass a limit together, and a failed write
// gives its slots back. A project's service count is read from disk on its
// first write since the store opened, a service's operation count on the
// first new operation; both reads stop at the limit.
type names struct {
	db                  *pdb.DB
	maxServices, maxOps int
	cacheSize           int // nameCacheSize; tests lower it

	mu       sync.Mutex
	known    map[string]struct{}     // name keys on disk; at most cacheSize
	pending  map[string]*reservation // name keys that writes in flight add
	projects map[string]*projectNames
}

// projectNames counts one project's names.
type projectNames struct {
	services int
	ops      map[string]int // by service; present once counted
}

// reservation is a new name that one or more writes in flight add.
type reservation struct {
	writers int  // writes holding it
	stored  bool // one of them committed
	project string
	service string // the service whose operation this is; "" for a service key
	op      bool
}

func newNames(db *pdb.DB, maxServices, maxOps int) *names {
	if maxServices <= 0 {
		maxServices = DefaultMaxServices
	}
	if maxOps <= 0 {
		maxOps = DefaultMaxOperations
	}
	return &names{
		db: db, maxServices: maxServices, maxOps: maxOps, cacheSize: nameCacheSize,
		known: map[string]struct{}{}, pending: map[string]*reservation{}, projects: map[string]*projectNames{},
	}
}

// admission is what admit decided for one batch.
type admission struct {
	refused  []bool // by span index; nil when every span is admitted
	nRefused int
	reason   string // the first refusal
	others   int    // further names refused
	held     []string
	settled  bool
	// decided holds this batch's decisions by name key: spans repeat names.
	decided map[string]bool
}

// err returns the *store.PartialWriteError to report, or nil.
func (a *admission) err() error {
	if a.nRefused == 0 {
		return nil
	}
	reason := a.reason
	if a.others > 0 {
		reason += fmt.Sprintf(" (and spans of %d more new names)", a.others)
	}
	return &store.PartialWriteError{Refused: a.nRefused, Reason: reason}
}

// admit decides which spans of a batch for project may be stored, reserves
// the names they add and sets those names' keys in b. The caller must call
// settle once b is committed or abandoned.
func (n *names) admit(b *pdb.Batch, project string, spans []telemetry.Span) (*admission, error) {
	a := &admission{decided: map[string]bool{}}
	var key []byte
	n.mu.Lock()
	defer n.mu.Unlock()
	p, err := n.project(project)
	if err != nil {
		return nil, err
	}
	for i := range spans {
		sp := &spans[i]
		svc := sp.Service()
		key = appendOperationKey(key[:0], project, svc, sp.Name)
		ok, seen := a.decided[string(key)]
		if !seen {
			if ok, err = n.admitOperation(b, a, p, project, svc, sp, key); err != nil {
				n.settleLocked(a, false)
				return nil, err
			}
			a.decided[string(key)] = ok
		}
		if !ok {
			if a.refused == nil {
				a.refused = make([]bool, len(spans))
			}
			a.refused[i] = true
			a.nRefused++
		}
	}
	return a, nil
}

// admitOperation decides on the first span of a batch with the operation
// key opKey, admitting its service first.
func (n *names) admitOperation(b *pdb.Batch, a *admission, p *projectNames, project, svc string, sp *telemetry.Span, opKey []byte) (bool, error) {
	sk := serviceKey(project, svc)
	admitted, seen := a.decided[string(sk)]
	if !seen {
		on, err := n.onDisk(b, a, sk, nil)
		if err != nil {
			return false, err
		}
		switch {
		case on:
			admitted = true
		case p.services >= n.maxServices:
			a.refuse(fmt.Sprintf("project %q has reached its limit of %d services; spans of new service %q refused", project, n.maxServices, svc))
		default:
			p.services++
			p.ops[svc] = 0 // a new service has no operation on disk
			n.reserve(b, a, sk, nil, &reservation{project: project, service: svc})
			admitted = true
		}
		a.decided[string(sk)] = admitted
	}
	if !admitted {
		return false, nil
	}
	on, err := n.onDisk(b, a, opKey, []byte{byte(sp.Kind)})
	if err != nil || on {
		return on, err
	}
	count, ok := p.ops[svc]
	if !ok {
		if count, err = n.count(operationKeyPrefix(project, svc), n.maxOps); err != nil {
			return false, fmt.Errorf("count operations of service %q: %w", svc, err)
		}
	}
	if count >= n.maxOps {
		p.ops[svc] = count
		a.refuse(fmt.Sprintf("service %q of project %q has reached its limit of %d operations; spans of new operation %q refused", svc, project, n.maxOps, sp.Name))
		return false, nil
	}
	p.ops[svc] = count + 1
	n.reserve(b, a, opKey, []byte{byte(sp.Kind)}, &reservation{project: project, service: svc, op: true})
	return true, nil
}

func (a *admission) refuse(reason string) {
	if a.reason == "" {
		a.reason = reason
	} else {
		a.others++
	}
}

// onDisk reports whether name key k is stored or being stored by another
// write, in which case this write joins it and sets k too (with value v) so
// that the name is on disk whichever of them commits.
func (n *names) onDisk(b *pdb.Batch, a *admission, k, v []byte) (bool, error) {
	if _, ok := n.known[string(k)]; ok {
		return true, nil
	}
	if r, ok := n.pending[string(k)]; ok {
		r.writers++
		a.held = append(a.held, string(k))
		if err := b.Set(k, v, nil); err != nil {
			return false, fmt.Errorf("batch name: %w", err)
		}
		return true, nil
	}
	_, closer, err := n.db.Get(k)
	if errors.Is(err, pdb.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up name: %w", err)
	}
	closer.Close()
	n.remember(string(k))
	return true, nil
}

// reserve counts a new name for a write and sets its key in b.
func (n *names) reserve(b *pdb.Batch, a *admission, k, v []byte, r *reservation) {
	r.writers = 1
	n.pending[string(k)] = r
	a.held = append(a.held, string(k))
	_ = b.Set(k, v, nil) // fails only on a closed batch; the commit reports it
}

// settle ends a write's reservations: after a commit they are on disk, and
// otherwise they are given back unless another write stored them.
func (n *names) settle(a *admission, committed bool) {
	if a == nil || a.settled {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.settleLocked(a, committed)
}

func (n *names) settleLocked(a *admission, committed bool) {
	a.settled = true
	for _, k := range a.held {
		r := n.pending[k]
		r.writers--
		r.stored = r.stored || committed
		if r.writers > 0 {
			continue
		}
		delete(n.pending, k)
		if r.stored {
			n.remember(k)
			continue
		}
		p := n.projects[r.project]
		if r.op {
			if c, ok := p.ops[r.service]; ok && c > 0 {
				p.ops[r.service] = c - 1
			}
		} else {
			p.services--
			delete(p.ops, r.service) // nothing of it is on disk
		}
	}
}

// remember adds a name key to the cache of names on disk, forgetting an
// arbitrary other one when the cache is full.
func (n *names) remember(k string) {
	if len(n.known) >= n.cacheSize {
		for old := range n.known {
			delete(n.known, old)
			break
		}
	}
	n.known[k] = struct{}{}
}

// project returns a project's counts, reading its services from disk on
// its first write since the store opened.
func (n *names) project(project string) (*projectNames, error) {
	if p, ok := n.projects[project]; ok {
		return p, nil
	}
	c, err := n.count(appendName([]byte{kindService}, project), n.maxServices)
	if err != nil {
		return nil, fmt.Errorf("count services of project %q: %w", project, err)
	}
	p := &projectNames{services: c, ops: map[string]int{}}
	n.projects[project] = p
	return p, nil
}

// count counts the keys with prefix, up to limit.
func (n *names) count(prefix []byte, limit int) (int, error) {
	it, err := n.db.NewIter(&pdb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return 0, err
	}
	c := 0
	for ok := it.First(); ok && c < limit; ok = it.Next() {
		c++
	}
	if err := it.Error(); err != nil {
		it.Close()
		return 0, err
	}
	return c, it.Close()
}
