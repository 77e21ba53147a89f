package tracekit

import (
	"context"
	"database/sql"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Span names of database calls, as the waterfall shows them.
const (
	dbQuerySpan = "db.Query"
	dbExecSpan  = "db.Exec"
)

// TraceQuery runs fn, which sends query to a database, inside a "db.Query"
// span under the span in ctx, recording db.system.name (system, such as
// "postgresql"), db.query.text and db.operation.name. fn gets the span's
// context; an error it returns is recorded on the span and returned. Use it
// for database clients that are not database/sql; for a *sql.DB, WrapDB.
// Pass queries with placeholders: the text is recorded as given.
func (s *SDK) TraceQuery(ctx context.Context, system, query string, fn func(ctx context.Context) error) error {
	return s.traceDB(ctx, dbQuerySpan, system, query, fn)
}

func (s *SDK) traceDB(ctx context.Context, name, system, query string, fn func(ctx context.Context) error) error {
	if s == nil {
		return fn(ctx)
	}
	ctx, span := s.tracer.Start(ctx, name, s.clientSpan...)
	defer span.End()
	if span.IsRecording() {
		attrs := []attribute.KeyValue{semconv.DBQueryTextKey.String(query)}
		if system != "" {
			attrs = append(attrs, semconv.DBSystemNameKey.String(system))
		}
		if op := operationName(query); op != "" {
			attrs = append(attrs, semconv.DBOperationNameKey.String(op))
		}
		span.SetAttributes(attrs...)
	}
	err := fn(ctx)
	if err != nil && err != sql.ErrNoRows {
		recordError(span, err)
	}
	return err
}

// operationName is the query's first keyword in upper case: SELECT, INSERT.
func operationName(query string) string {
	q := strings.TrimLeft(query, " \t\r\n(")
	end := 0
	upper := true
	for end < len(q) {
		c := q[end]
		if c >= 'a' && c <= 'z' {
			upper = false
		} else if c < 'A' || c > 'Z' {
			break
		}
		end++
	}
	if end == 0 {
		return ""
	}
	if upper {
		return q[:end]
	}
	return strings.ToUpper(q[:end])
}

// DB is a *sql.DB whose QueryContext, QueryRowContext and ExecContext trace
// each call as a span ("db.Query" or "db.Exec") under the span in ctx. Every
// other method, transactions and the methods without a context included, is
// the *sql.DB's own and is not traced.
type DB struct {
	*sql.DB
	sdk    *SDK
	system string
}

// WrapDB returns db with its context methods traced. system names the
// database for db.system.name, as the OpenTelemetry conventions spell it:
// "postgresql", "mysql", "sqlite", "microsoft.sql_server".
func (s *SDK) WrapDB(db *sql.DB, system string) *DB {
	return &DB{DB: db, sdk: s, system: system}
}

// QueryContext runs query in a "db.Query" span. The span covers the query,
// not the reading of the rows.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	var rows *sql.Rows
	err := db.sdk.traceDB(ctx, dbQuerySpan, db.system, query, func(ctx context.Context) (err error) {
		rows, err = db.DB.QueryContext(ctx, query, args...)
		return err
	})
	return rows, err
}

// QueryRowContext runs query in a "db.Query" span. An error surfaces, as
// with *sql.DB, from the Row's Scan and is recorded only if the query failed.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	var row *sql.Row
	_ = db.sdk.traceDB(ctx, dbQuerySpan, db.system, query, func(ctx context.Context) error {
		row = db.DB.QueryRowContext(ctx, query, args...)
		return row.Err()
	})
	return row
}

// ExecContext runs query in a "db.Exec" span.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.sdk.traceDB(ctx, dbExecSpan, db.system, query, func(ctx context.Context) (err error) {
		res, err = db.DB.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}
