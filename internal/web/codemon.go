package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/codemon"
	"github.com/tracekit-oss/tracekit/internal/store"
)

type codemonView struct {
	Services      []string
	Service       string
	KillSwitch    store.KillSwitch
	Instances     []codemon.Instance
	CapturePoints []store.CapturePoint
	Breakpoints   []bpRow
	Created       string
}

// bpRow is a breakpoint with its status, as the list shows it.
type bpRow struct {
	store.Breakpoint
	Status string
}

func (d *Dashboard) bpRows(bps []store.Breakpoint) []bpRow {
	now := d.now()
	out := make([]bpRow, 0, len(bps))
	for _, b := range bps {
		st := "active"
		switch {
		case b.Paused:
			st = "paused"
		case !now.Before(b.ExpiresAt):
			st = "expired"
		}
		out = append(out, bpRow{Breakpoint: b, Status: st})
	}
	return out
}

// monitoredServices lists the services that sent spans or have
// breakpoints.
func (d *Dashboard) monitoredServices(r *http.Request) ([]string, []store.Breakpoint, error) {
	ctx, project := r.Context(), visitOf(r).project
	svcs, err := d.st.Services(ctx, project)
	if err != nil {
		return nil, nil, err
	}
	bps, err := d.st.ListBreakpoints(ctx, project, "")
	if err != nil {
		return nil, nil, err
	}
	for _, b := range bps {
		if !slices.Contains(svcs, b.Service) {
			svcs = append(svcs, b.Service)
		}
	}
	slices.Sort(svcs)
	return svcs, bps, nil
}

func (d *Dashboard) codemonPage(w http.ResponseWriter, r *http.Request) {
	ctx, project := r.Context(), visitOf(r).project
	cv := codemonView{Service: r.URL.Query().Get("service"), Created: r.URL.Query().Get("created")}
	svcs, bps, err := d.monitoredServices(r)
	if err != nil {
		d.fail(w, r, "list services", err)
		return
	}
	cv.Services = svcs
	if cv.Service != "" {
		bps = slices.DeleteFunc(bps, func(b store.Breakpoint) bool { return b.Service != cv.Service })
		if cv.KillSwitch, err = d.st.KillSwitch(ctx, project, cv.Service); err != nil {
			d.fail(w, r, "kill switch", err)
			return
		}
		if cv.CapturePoints, err = d.st.ListCapturePoints(ctx, project, cv.Service); err != nil {
			d.fail(w, r, "capture points", err)
			return
		}
		cv.Instances = d.cm.Instances(project, cv.Service)
	}
	cv.Breakpoints = d.bpRows(bps)
	d.render(w, r, http.StatusOK, "codemon", "Code monitoring", "codemon", cv)
}

// bpForm is the New breakpoint form: the values as typed and the error of
// each field.
type bpForm struct {
	Service, CapturePoint, File, Line, Type, Condition, Message string
	CaptureDepth, RateLimit, ExpiresIn, Environment             string
	Errors                                                      map[string]string
	Services                                                    []string
	CapturePoints                                               []store.CapturePoint
	Expiries                                                    []string
}

var expiries = []string{"1h", "6h", "24h", "72h", "168h", "720h"}

func (d *Dashboard) breakpointForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := bpForm{
		Service: q.Get("service"), CapturePoint: q.Get("capturePoint"), File: q.Get("file"), Line: q.Get("line"),
		Type: "line", CaptureDepth: strconv.Itoa(codemon.DefaultCaptureDepth), RateLimit: strconv.Itoa(codemon.DefaultRateLimit),
		ExpiresIn: "24h",
	}
	d.renderBreakpointForm(w, r, http.StatusOK, f)
}

func (d *Dashboard) renderBreakpointForm(w http.ResponseWriter, r *http.Request, status int, f bpForm) {
	svcs, _, err := d.monitoredServices(r)
	if err != nil {
		d.fail(w, r, "list services", err)
		return
	}
	if f.Service != "" && !slices.Contains(svcs, f.Service) {
		svcs = append(svcs, f.Service)
	}
	f.Services, f.Expiries = svcs, expiries
	for _, s := range svcs {
		cps, err := d.st.ListCapturePoints(r.Context(), visitOf(r).project, s)
		if err != nil {
			d.fail(w, r, "capture points", err)
			return
		}
		f.CapturePoints = append(f.CapturePoints, cps...)
	}
	d.render(w, r, status, "breakpoint", "New breakpoint", "codemon", f)
}

func (d *Dashboard) createBreakpoint(w http.ResponseWriter, r *http.Request) {
	f := bpForm{Errors: map[string]string{}}
	for k, dst := range map[string]*string{
		"service": &f.Service, "capturePoint": &f.CapturePoint, "file": &f.File, "line": &f.Line, "type": &f.Type,
		"condition": &f.Condition, "message": &f.Message, "captureDepth": &f.CaptureDepth, "rateLimit": &f.RateLimit,
		"expiresIn": &f.ExpiresIn, "environment": &f.Environment,
	} {
		*dst = r.PostFormValue(k)
	}
	typ := store.BreakpointType(f.Type)
	in := codemon.BreakpointInput{
		Service: &f.Service, Type: &typ, File: &f.File, CapturePoint: &f.CapturePoint, Environment: &f.Environment,
		ExpiresIn: &f.ExpiresIn,
	}
	if typ == store.BreakpointConditional {
		in.Condition = &f.Condition
	}
	if typ == store.BreakpointLogpoint {
		in.Message = &f.Message
	}
	number := func(field, v string, dst **int) {
		v = strings.TrimSpace(v)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			f.Errors[field] = "Give a whole number."
			return
		}
		*dst = &n
	}
	number("line", f.Line, &in.Line)
	number("captureDepth", f.CaptureDepth, &in.CaptureDepth)
	number("rateLimit", f.RateLimit, &in.RateLimit)
	if len(f.Errors) == 0 {
		b, err := d.cm.CreateBreakpoint(r.Context(), visitOf(r).project, in)
		var ve *codemon.ValidationError
		switch {
		case errors.As(err, &ve):
			field := ve.Field
			if field == "expiresAt" {
				field = "expiresIn"
			}
			f.Errors[field] = ve.Message
		case err != nil:
			d.fail(w, r, "create breakpoint", err)
			return
		default:
			http.Redirect(w, r, projectPath(r, "/codemon?"+url.Values{"service": {b.Service}, "created": {b.ID}}.Encode()), http.StatusSeeOther)
			return
		}
	}
	d.renderBreakpointForm(w, r, http.StatusUnprocessableEntity, f)
}

func (d *Dashboard) breakpointAction(w http.ResponseWriter, r *http.Request) {
	ctx, project, id := r.Context(), visitOf(r).project, r.PathValue("id")
	var err error
	var b store.Breakpoint
	switch r.PathValue("action") {
	case "pause", "resume":
		paused := r.PathValue("action") == "pause"
		b, err = d.cm.UpdateBreakpoint(ctx, project, id, codemon.BreakpointInput{Paused: &paused})
	case "delete":
		if b, err = d.st.Breakpoint(ctx, project, id); err == nil {
			err = d.cm.DeleteBreakpoint(ctx, project, id)
		}
	default:
		d.renderError(w, r, http.StatusNotFound, "Unknown breakpoint action: use pause, resume or delete.")
		return
	}
	if err != nil {
		d.fail(w, r, "breakpoint "+id, err)
		return
	}
	http.Redirect(w, r, projectPath(r, "/codemon?"+url.Values{"service": {b.Service}}.Encode()), http.StatusSeeOther)
}

func (d *Dashboard) killSwitch(w http.ResponseWriter, r *http.Request) {
	svc := r.PostFormValue("service")
	on := r.PostFormValue("enabled") == "true"
	if _, err := d.cm.SetKillSwitch(r.Context(), visitOf(r).project, svc, on); err != nil {
		d.fail(w, r, "kill switch of "+svc, err)
		return
	}
	http.Redirect(w, r, projectPath(r, "/codemon?"+url.Values{"service": {svc}}.Encode()), http.StatusSeeOther)
}

// expiresIn formats how long until t.
func (d *Dashboard) expiresIn(t time.Time) string {
	left := t.Sub(d.now())
	if left <= 0 {
		return "expired"
	}
	return "in " + roundDuration(left)
}
