package backend

import (
	"context"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/clickhouse"
	"github.com/tracekit-oss/tracekit/internal/store/postgres"
)

// openTraces opens a trace store on a server of its own (ClickHouse).
func openTraces(ctx context.Context, cfg Config) (store.TraceStore, error) {
	s, err := clickhouse.Open(ctx, clickhouse.Config{URL: cfg.TracesURL, Retention: cfg.Retention, Logger: cfg.Logger, Now: cfg.Now})
	if err != nil {
		return nil, err // not a nil *Store in a non-nil interface
	}
	return s, nil
}

// openMetadata opens a metadata store on a server of its own (PostgreSQL).
func openMetadata(ctx context.Context, cfg Config) (store.MetadataStore, error) {
	s, err := postgres.Open(ctx, postgres.Config{URL: cfg.MetadataURL, Logger: cfg.Logger, Now: cfg.Now})
	if err != nil {
		return nil, err // not a nil *Store in a non-nil interface
	}
	return s, nil
}
