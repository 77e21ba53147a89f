package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
)

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.st.ListKeys(r.Context(), project(r))
	if err != nil {
		a.fail(w, "list keys", err)
		return
	}
	if keys == nil {
		keys = []store.APIKey{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// CreateKeyRequest is the body of POST /api/v1/keys.
type CreateKeyRequest struct {
	Name  string      `json:"name"`
	Scope store.Scope `json:"scope"`
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) {
	var req CreateKeyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("body: %v (send {\"name\": \"...\", \"scope\": \"ingest\"|\"admin\"})", err))
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		WriteError(w, http.StatusBadRequest, "name: give the key a name of 1 to 100 characters")
		return
	}
	if !req.Scope.Valid() {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("scope %q: must be \"ingest\" or \"admin\"", req.Scope))
		return
	}
	secret, k, err := auth.CreateKey(r.Context(), a.st, project(r), req.Name, req.Scope, "", a.now())
	if err != nil {
		a.fail(w, "create key", err)
		return
	}
	WriteJSON(w, http.StatusCreated, map[string]any{"key": k, "secret": secret})
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) {
	err := a.st.RevokeKey(r.Context(), project(r), r.PathValue("id"), a.now())
	if errors.Is(err, store.ErrNotFound) {
		WriteError(w, http.StatusNotFound, fmt.Sprintf("key %q: not found in this project", r.PathValue("id")))
		return
	}
	if err != nil {
		a.fail(w, "revoke key", err)
		return
	}
	if a.cm != nil {
		a.cm.KeyRevoked(project(r), r.PathValue("id"))
	}
	w.WriteHeader(http.StatusNoContent)
}
