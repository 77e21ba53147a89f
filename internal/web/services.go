package web

import (
	"errors"
	"net/http"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// serviceStats is one service of the services page: its own row (entry
// spans) and one per operation.
type serviceStats struct {
	store.OperationStats
	Operations []store.OperationStats
}

type servicesView struct {
	Range    timeRange
	Ranges   any
	Error    string
	Seconds  float64
	Services []serviceStats
	NoStats  bool
	// Charts are the RED charts of the services (the first
	// maxServiceCharts), or of the service or operation the query names.
	Charts             []redCharts
	NoSeries           bool
	Service, Operation string
	MoreCharts         bool
}

// maxServiceCharts is how many services the page charts when it is not
// asked for one.
const maxServiceCharts = 8

func (d *Dashboard) servicesPage(w http.ResponseWriter, r *http.Request) {
	sv := servicesView{Ranges: ranges}
	sv.Range, sv.Error = parseRange(r.URL.Query(), "1h", d.now())
	sr, ok := d.st.(store.SpanStatsReader)
	if !ok {
		sv.NoStats = true
	}
	if sv.Error == "" && ok {
		rows, err := sr.OperationStats(r.Context(), visitOf(r).project, sv.Range.from, sv.Range.to)
		if errors.Is(err, errors.ErrUnsupported) {
			sv.NoStats = true
			err = nil
		}
		if err != nil {
			d.fail(w, r, "service statistics", err)
			return
		}
		sv.Seconds = max(sv.Range.to.Sub(sv.Range.from).Seconds(), 1)
		for _, row := range rows {
			if row.Operation == "" {
				sv.Services = append(sv.Services, serviceStats{OperationStats: row})
			} else if n := len(sv.Services); n > 0 && sv.Services[n-1].Service == row.Service {
				sv.Services[n-1].Operations = append(sv.Services[n-1].Operations, row)
			}
		}
	}
	if sv.Error == "" {
		if err := d.serviceCharts(r, &sv); err != nil {
			d.fail(w, r, "service charts", err)
			return
		}
	}
	d.render(w, r, http.StatusOK, "services", "Services", "services", sv)
}

// serviceCharts adds the RED charts: of the service and operation the
// query names, or of the first services of the table.
func (d *Dashboard) serviceCharts(r *http.Request, sv *servicesView) error {
	q := r.URL.Query()
	sv.Service, sv.Operation = q.Get("service"), q.Get("operation")
	type which struct{ service, operation string }
	var list []which
	if sv.Service != "" {
		list = append(list, which{sv.Service, sv.Operation})
	} else {
		for i, s := range sv.Services {
			if i == maxServiceCharts {
				sv.MoreCharts = true
				break
			}
			list = append(list, which{s.Service, ""})
		}
	}
	for i, w := range list {
		rc, ok, err := d.redCharts(r.Context(), visitOf(r).project, w.service, w.operation, sv.Range.from, sv.Range.to, "red-"+itoa(i))
		if err != nil {
			return err
		}
		if !ok {
			sv.NoSeries = true
			return nil
		}
		sv.Charts = append(sv.Charts, rc)
	}
	return nil
}

// rate formats count per second over seconds.
func rate(count int64, seconds float64) string {
	if seconds <= 0 {
		return "–"
	}
	return formatRate(float64(count) / seconds)
}

func formatRate(perSec float64) string {
	switch {
	case perSec == 0:
		return "0/s"
	case perSec >= 10:
		return trimFloat(perSec, 0) + "/s"
	case perSec >= 1:
		return trimFloat(perSec, 1) + "/s"
	case perSec*60 >= 1:
		return trimFloat(perSec*60, 1) + "/min"
	}
	return trimFloat(perSec*3600, 1) + "/h"
}

func errorRate(errors, count int64) string {
	if count == 0 {
		return "–"
	}
	return trimFloat(100*float64(errors)/float64(count), 2) + "%"
}
