// Package client is a Go client of TraceKit's JSON API, used by the CLI
// (keys, trace show) and by tests that talk to a real server as users do.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/store"
)

// Client talks to one server with one key.
type Client struct {
	base string
	key  string
	hc   *http.Client
}

// New returns a client for the server at base (http://host:port).
func New(base, key string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(base, "/"), key: key, hc: hc}
}

// Error is a non-2xx answer with the server's message.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("server answered %d: %s", e.Status, e.Message) }

// Do sends a request with a JSON body (nil for none) and decodes a JSON
// answer into out (nil to discard).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-API-Key", c.key)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &Error{Status: resp.StatusCode, Message: msg}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Trace fetches one trace.
func (c *Client) Trace(ctx context.Context, traceID string) (api.TraceJSON, error) {
	var t api.TraceJSON
	err := c.Do(ctx, http.MethodGet, "/api/v1/traces/"+url.PathEscape(traceID), nil, &t)
	return t, err
}

// FindTraces searches with URL parameters as the API takes them.
func (c *Client) FindTraces(ctx context.Context, params url.Values) ([]api.TraceSummaryJSON, error) {
	var out struct {
		Traces []api.TraceSummaryJSON `json:"traces"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/traces?"+params.Encode(), nil, &out)
	return out.Traces, err
}

// CreateKey creates a key and returns it with its secret.
func (c *Client) CreateKey(ctx context.Context, name string, scope store.Scope) (api.KeyJSON, string, error) {
	var out api.CreateKeyResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/keys", api.CreateKeyRequest{Name: name, Scope: scope}, &out)
	return out.Key, out.Secret, err
}

// ListKeys lists the project's keys.
func (c *Client) ListKeys(ctx context.Context) ([]api.KeyJSON, error) {
	var out struct {
		Keys []api.KeyJSON `json:"keys"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/keys", nil, &out)
	return out.Keys, err
}

// RevokeKey revokes a key by ID.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/keys/"+url.PathEscape(id), nil, nil)
}
