package backend

import (
	"context"
	"errors"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// openTraces opens a trace store on a server of its own (ClickHouse).
func openTraces(ctx context.Context, cfg Config) (store.TraceStore, error) {
	return nil, errors.New("the ClickHouse trace store is not part of this build yet")
}

// openMetadata opens a metadata store on a server of its own (PostgreSQL).
func openMetadata(ctx context.Context, cfg Config) (store.MetadataStore, error) {
	return nil, errors.New("the PostgreSQL metadata store is not part of this build yet")
}
