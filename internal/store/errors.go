package store

import "errors"

// ErrUnavailable is returned by a write the store cannot take now, for
// instance because the disk holding its data is nearly full. Nothing of that
// write is acknowledged. Callers answer 503 Service Unavailable with a
// Retry-After header; the client sends the same data again later, and the
// store takes it once the cause is gone, without a restart.
var ErrUnavailable = errors.New("store unavailable")

// ErrFailed is returned, together with ErrUnavailable, once the storage
// engine has stopped after an error it cannot recover from in-process (a
// failed write-ahead log or manifest write). Only reopening the store, that
// is restarting the server, brings it back; a liveness check fails on it.
var ErrFailed = errors.New("storage engine failed; restart the server")
