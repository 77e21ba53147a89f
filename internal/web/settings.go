package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
)

type settingsView struct {
	Settings  store.Settings
	Defaults  store.Settings
	Effective store.Settings
	Keys      []store.APIKey
	Secret    string
	NewKey    store.APIKey
	Errors    map[string]string
	Form      map[string]string
	Saved     bool
}

// minRetention matches the server's flag validation.
const minRetention = time.Hour

func (d *Dashboard) settingsView(r *http.Request) (settingsView, error) {
	sv := settingsView{Defaults: d.defRet, Errors: map[string]string{}, Form: map[string]string{}}
	var err error
	if sv.Settings, err = d.st.Settings(r.Context()); err != nil {
		return sv, err
	}
	sv.Effective = d.defRet
	if sv.Settings.TraceRetention > 0 {
		sv.Effective.TraceRetention = sv.Settings.TraceRetention
	}
	if sv.Settings.SnapshotRetention > 0 {
		sv.Effective.SnapshotRetention = sv.Settings.SnapshotRetention
	}
	sv.Form["traceRetention"] = formatDuration(sv.Effective.TraceRetention)
	sv.Form["snapshotRetention"] = formatDuration(sv.Effective.SnapshotRetention)
	sv.Keys, err = d.st.ListKeys(r.Context(), visitOf(r).project)
	return sv, err
}

func (d *Dashboard) settingsPage(w http.ResponseWriter, r *http.Request) {
	sv, err := d.settingsView(r)
	if err != nil {
		d.fail(w, r, "settings", err)
		return
	}
	sv.Saved = r.URL.Query().Get("saved") != ""
	d.render(w, r, http.StatusOK, "settings", "Settings", "settings", sv)
}

func (d *Dashboard) saveRetention(w http.ResponseWriter, r *http.Request) {
	if !visitOf(r).user.Admin {
		d.renderError(w, r, http.StatusForbidden, "Only administrators change retention: it applies to every project.")
		return
	}
	sv, err := d.settingsView(r)
	if err != nil {
		d.fail(w, r, "settings", err)
		return
	}
	next := sv.Settings
	for field, dst := range map[string]*time.Duration{"traceRetention": &next.TraceRetention, "snapshotRetention": &next.SnapshotRetention} {
		v := strings.TrimSpace(r.PostFormValue(field))
		sv.Form[field] = v
		dur, err := parseRetention(v)
		if err != nil {
			sv.Errors[field] = err.Error()
			continue
		}
		*dst = dur
	}
	if len(sv.Errors) > 0 {
		d.render(w, r, http.StatusUnprocessableEntity, "settings", "Settings", "settings", sv)
		return
	}
	next.UpdatedAt = d.now().UTC()
	if err := d.st.PutSettings(r.Context(), next); err != nil {
		d.fail(w, r, "save settings", err)
		return
	}
	http.Redirect(w, r, projectPath(r, "/settings?saved=1"), http.StatusSeeOther)
}

// parseRetention reads a retention such as 720h, 30d or 90m.
func parseRetention(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err = fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days {
			d = time.Duration(n) * 24 * time.Hour
		} else {
			err = errors.New("bad days")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < minRetention || d > 10*366*24*time.Hour {
		return 0, fmt.Errorf("use a duration from 1h to 10 years, such as 720h or 30d")
	}
	return d, nil
}

func (d *Dashboard) createKey(w http.ResponseWriter, r *http.Request) {
	sv, err := d.settingsView(r)
	if err != nil {
		d.fail(w, r, "settings", err)
		return
	}
	name, nameErr := auth.KeyName(r.PostFormValue("name"))
	scope := store.Scope(r.PostFormValue("scope"))
	sv.Form["keyName"], sv.Form["keyScope"] = name, string(scope)
	if nameErr != nil {
		sv.Errors["keyName"] = "Name: " + nameErr.Error() + "."
	}
	if !scope.Valid() {
		sv.Errors["keyScope"] = "Choose ingest or admin."
	}
	if len(sv.Errors) > 0 {
		d.render(w, r, http.StatusUnprocessableEntity, "settings", "Settings", "settings", sv)
		return
	}
	secret, k, err := auth.CreateKey(r.Context(), d.st, visitOf(r).project, name, scope, "", d.now())
	if err != nil {
		d.fail(w, r, "create key", err)
		return
	}
	// The secret is shown in this answer only: not in a URL, not cached.
	sv.Secret, sv.NewKey = secret, k
	sv.Form["keyName"] = ""
	if sv.Keys, err = d.st.ListKeys(r.Context(), visitOf(r).project); err != nil {
		d.fail(w, r, "list keys", err)
		return
	}
	d.render(w, r, http.StatusCreated, "settings", "Settings", "settings", sv)
}

func (d *Dashboard) revokeKey(w http.ResponseWriter, r *http.Request) {
	if err := d.st.RevokeKey(r.Context(), visitOf(r).project, r.PathValue("id"), d.now()); err != nil {
		d.fail(w, r, "revoke key "+r.PathValue("id"), err)
		return
	}
	d.cm.KeyRevoked(visitOf(r).project, r.PathValue("id"))
	http.Redirect(w, r, projectPath(r, "/settings"), http.StatusSeeOther)
}
