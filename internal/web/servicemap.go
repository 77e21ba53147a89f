package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// The service map page draws the graph as SVG on the server: nodes in
// columns by their depth along the calls (callers left, callees right,
// leaves after their deepest caller), edges as curves labelled with their
// figures. Names are text in <text> elements, escaped by html/template;
// the page's script only shows and hides the server-rendered details of
// the edge clicked.

// Layout sizes, in SVG user units.
const (
	mapColumnGap = 300
	mapRowGap    = 96
	mapNodeW     = 190
	mapNodeH     = 44
	mapMargin    = 30
	// mapLabelRunes is how much of a long name a node shows; its title
	// shows the whole name.
	mapLabelRunes = 24
)

type mapNode struct {
	Name, Label string
	Kind        store.NodeKind
	X, Y        int
	Service     bool
}

type mapEdge struct {
	store.ServiceEdge
	ID        int
	Path      string // SVG path data
	LabelX    int
	LabelY    int
	ErrorRate string
	Bad       bool
	// Search finds traces with such calls; Errors those that failed.
	Search, Errors string
}

type serviceMapView struct {
	Range         timeRange
	Ranges        any
	Error         string
	Unavailable   bool
	Nodes         []mapNode
	Edges         []mapEdge
	Width, Height int
}

func (d *Dashboard) serviceMapPage(w http.ResponseWriter, r *http.Request) {
	v := serviceMapView{Ranges: ranges}
	v.Range, v.Error = parseRange(r.URL.Query(), "1h", d.now())
	sm, ok := d.st.(store.ServiceMapReader)
	v.Unavailable = !ok
	if v.Error == "" && ok {
		edges, err := sm.ServiceMap(r.Context(), visitOf(r).project, v.Range.from, v.Range.to)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			v.Unavailable = true
		case err != nil:
			d.fail(w, r, "service map", err)
			return
		default:
			d.layoutServiceMap(r, &v, edges)
		}
	}
	d.render(w, r, http.StatusOK, "servicemap", "Service map", "servicemap", v)
}

// layoutServiceMap places the nodes and routes the edges.
func (d *Dashboard) layoutServiceMap(r *http.Request, v *serviceMapView, edges []store.ServiceEdge) {
	nodes := store.ServiceMapNodes(edges)
	type key struct {
		name string
		kind store.NodeKind
	}
	col := map[key]int{}
	// Longest path from the callers nobody calls, relaxed at most once per
	// node so that cycles end.
	for range nodes {
		changed := false
		for _, e := range edges {
			from, to := key{e.Caller, store.NodeService}, key{e.Callee, e.CalleeKind}
			if from != to && col[to] < col[from]+1 && col[from]+1 < len(nodes) {
				col[to] = col[from] + 1
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	rows := map[int]int{}
	at := map[key]*mapNode{}
	v.Nodes = make([]mapNode, 0, len(nodes))
	for _, n := range nodes { // services first, then leaves, by name
		c := col[key{n.Name, n.Kind}]
		v.Nodes = append(v.Nodes, mapNode{Name: n.Name, Label: shorten(n.Name, mapLabelRunes), Kind: n.Kind, Service: n.Kind == store.NodeService,
			X: mapMargin + c*mapColumnGap, Y: mapMargin + rows[c]*mapRowGap})
		rows[c]++
	}
	for i := range v.Nodes {
		n := &v.Nodes[i]
		at[key{n.Name, n.Kind}] = n
		v.Width = max(v.Width, n.X+mapNodeW+mapMargin)
		v.Height = max(v.Height, n.Y+mapNodeH+mapMargin)
	}
	base := url.Values{"range": {v.Range.Range}}
	if v.Range.Range == "custom" {
		base.Set("start", v.Range.Start)
		base.Set("end", v.Range.End)
	}
	traces := projectPath(r, "/traces")
	for i, e := range edges {
		from, to := at[key{e.Caller, store.NodeService}], at[key{e.Callee, e.CalleeKind}]
		me := mapEdge{ServiceEdge: e, ID: i, ErrorRate: errorRate(e.Errors, e.Calls), Bad: e.Errors > 0}
		x1, y1 := from.X+mapNodeW, from.Y+mapNodeH/2
		x2, y2 := to.X, to.Y+mapNodeH/2
		if to.X <= from.X { // a call back to the left: loop under the nodes
			x1, x2 = from.X+mapNodeW/2, to.X+mapNodeW/2
			y1, y2 = from.Y+mapNodeH, to.Y+mapNodeH
			low := max(y1, y2) + mapRowGap/2
			me.Path = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1, low, x2, low, x2, y2)
			me.LabelX, me.LabelY = (x1+x2)/2, low-6
		} else {
			mid := (x1 + x2) / 2
			me.Path = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mid, y1, mid, y2, x2, y2)
			me.LabelX, me.LabelY = mid, (y1+y2)/2-6
		}
		v.Height = max(v.Height, me.LabelY+mapRowGap/2)
		svc := e.Caller
		if e.CalleeKind == store.NodeService {
			svc = e.Callee
		}
		me.Search = withQuery(traces, base, "service", svc)
		me.Errors = withQuery(traces, base, "service", svc, "errors", "true")
		v.Edges = append(v.Edges, me)
	}
	// Figures are drawn over the curves: keep them apart when edges share
	// a midpoint, by order of drawing.
	seen := map[[2]int]int{}
	for i := range v.Edges {
		p := [2]int{v.Edges[i].LabelX, v.Edges[i].LabelY}
		v.Edges[i].LabelY += 16 * seen[p]
		seen[p]++
	}
}
