package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
)

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.st.ListKeys(r.Context(), project(r))
	if err != nil {
		a.fail(w, "list keys", err)
		return
	}
	out := make([]KeyJSON, len(keys))
	for i, k := range keys {
		out[i] = KeyView(k)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"keys": out})
}

// KeyJSON is an API key as the API shows it: never its secret or hash.
type KeyJSON struct {
	ID        string      `json:"id"`
	Project   string      `json:"project"`
	Name      string      `json:"name"`
	Scope     store.Scope `json:"scope"`
	Prefix    string      `json:"prefix"`
	CreatedAt time.Time   `json:"createdAt"`
	RevokedAt *time.Time  `json:"revokedAt,omitempty"`
}

// KeyView returns k as the API shows it.
func KeyView(k store.APIKey) KeyJSON {
	return KeyJSON{ID: k.ID, Project: k.Project, Name: k.Name, Scope: k.Scope, Prefix: k.Prefix, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

// CreateKeyResponse is the answer to POST /api/v1/keys: the key, and its
// secret, shown this once.
type CreateKeyResponse struct {
	Key    KeyJSON `json:"key"`
	Secret string  `json:"secret"`
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
	var err error
	if req.Name, err = auth.KeyName(req.Name); err != nil {
		WriteError(w, http.StatusBadRequest, "name: "+err.Error())
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
	WriteJSON(w, http.StatusCreated, CreateKeyResponse{Key: KeyView(k), Secret: secret})
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
