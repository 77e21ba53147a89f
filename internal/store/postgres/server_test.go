package postgres

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/tracekit-oss/tracekit/internal/store/postgres/pgtest"
)

// The tests run against a real PostgreSQL that TestMain starts (pgtest):
// one throw-away cluster per test binary. Each test gets a fresh database
// of its own (newDatabase).

// server is the cluster TestMain started.
var server *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	if server, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "postgres tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// newDatabase creates an empty database for one test and returns its URL;
// the database is dropped when the test ends.
func newDatabase(t testing.TB) string {
	t.Helper()
	return server.NewDatabase(t)
}

// admin runs a statement on the server's postgres database.
func admin(t testing.TB, ctx context.Context, sql string, args ...any) {
	t.Helper()
	if err := server.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
