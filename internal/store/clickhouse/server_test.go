package clickhouse

import (
	"context"
	"net"
	"net/http"
	"strings"
)

// adminExec runs a statement on the test server outside any store, for
// setup and cleanup.
func adminExec(ctx context.Context, base, sql string) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &client{http: &http.Client{Transport: tr}, endpoint: strings.TrimSuffix(base, "/") + "/"}
	return c.exec(ctx, sql)
}

// adminQuery runs a query on the test server and decodes its rows.
func adminQuery(ctx context.Context, base, database, sql string, row func(r *rowReader) error) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &client{http: &http.Client{Transport: tr}, endpoint: strings.TrimSuffix(base, "/") + "/", database: database}
	return c.query(ctx, sql, row)
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
