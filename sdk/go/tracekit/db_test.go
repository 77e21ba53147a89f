package tracekit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
)

// fakeDB is a database/sql driver that answers every query with one row
// holding "ada" and fails queries on missing_table.
type fakeDB struct{}

func (fakeDB) Connect(context.Context) (driver.Conn, error) { return fakeConn{}, nil }
func (fakeDB) Driver() driver.Driver                        { return nil }

type fakeConn struct{}

var errMissingTable = errors.New(`relation "missing_table" does not exist`)

func (fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (fakeConn) Close() error                        { return nil }
func (fakeConn) Begin() (driver.Tx, error)           { return nil, errors.New("not supported") }

func (fakeConn) QueryContext(_ context.Context, query string, _ []driver.NamedValue) (driver.Rows, error) {
	if strings.Contains(query, "missing_table") {
		return nil, errMissingTable
	}
	return &fakeRows{}, nil
}

func (fakeConn) ExecContext(_ context.Context, query string, _ []driver.NamedValue) (driver.Result, error) {
	if strings.Contains(query, "missing_table") {
		return nil, errMissingTable
	}
	return driver.RowsAffected(1), nil
}

type fakeRows struct{ done bool }

func (*fakeRows) Columns() []string { return []string{"name"} }
func (*fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = "ada"
	return nil
}

func TestWrapDB(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	raw := sql.OpenDB(fakeDB{})
	t.Cleanup(func() { raw.Close() })
	db := s.WrapDB(raw, "postgresql")

	ctx, req := s.StartSpan(context.Background(), "GET /users/{id}")
	var name string
	if err := db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = $1", 42).Scan(&name); err != nil || name != "ada" {
		t.Fatalf("QueryRowContext: %q, %v", name, err)
	}
	rows, err := db.QueryContext(ctx, "SELECT name FROM users")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if _, err := db.ExecContext(ctx, "UPDATE users SET name = $1", "grace"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.QueryContext(ctx, "SELECT * FROM missing_table"); !errors.Is(err, errMissingTable) {
		t.Errorf("QueryContext on a missing table: %v", err)
	}
	req.End()

	spans := endedSpans(t, s, exp)
	parent := onlySpan(t, spans, "GET /users/{id}")
	var queries, execs int
	for _, sp := range spans {
		if sp.Name == parent.Name {
			continue
		}
		if sp.Parent.SpanID() != parent.SpanContext.SpanID() {
			t.Errorf("%s is not a child of the request span", sp.Name)
		}
		text, _ := attr(sp.Attributes, "db.query.text")
		wantAttrs(t, sp.Attributes, map[string]any{"db.system.name": "postgresql"})
		failed := strings.Contains(text.AsString(), "missing_table")
		if (sp.Status.Code == codes.Error) != failed {
			t.Errorf("%s %q: status %v", sp.Name, text.AsString(), sp.Status)
		}
		switch sp.Name {
		case "db.Query":
			queries++
		case "db.Exec":
			execs++
			wantAttrs(t, sp.Attributes, map[string]any{"db.operation.name": "UPDATE"})
		default:
			t.Errorf("unexpected span %q", sp.Name)
		}
	}
	if queries != 3 || execs != 1 {
		t.Errorf("%d db.Query and %d db.Exec spans, want 3 and 1", queries, execs)
	}
}
