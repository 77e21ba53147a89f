package clickhouse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Limits on what the client reads from the server: a result larger than
// maxResultBytes is an error rather than an out-of-memory kill, and an error
// body is cut at maxErrorBytes.
const (
	maxResultBytes = 256 << 20
	maxErrorBytes  = 16 << 10
)

// ServerError is an exception the ClickHouse server reported.
type ServerError struct {
	// Code is ClickHouse's error code (60 is an unknown table, for example),
	// or 0 when the answer held none.
	Code int
	// Status is the HTTP status of the answer.
	Status int
	// Message is the server's text, as it sent it.
	Message string
}

// Error returns the server's message.
func (e *ServerError) Error() string {
	return fmt.Sprintf("clickhouse: %s", e.Message)
}

// ClickHouse error codes the store acts on.
const (
	codeTableAlreadyExists    = 57
	codeDatabaseAlreadyExists = 82
)

func isCode(err error, codes ...int) bool {
	var se *ServerError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code == c {
			return true
		}
	}
	return false
}

// client speaks ClickHouse's HTTP interface: a query in the body (or, for
// an INSERT, in the URL with the rows in the body), the answer in the
// response. It holds no state besides the endpoint.
type client struct {
	http     *http.Client
	endpoint string // scheme://host:port/
	user     *url.Userinfo
	settings url.Values // settings from the storage URL, sent with each query
	database string     // "" for statements outside any database
}

// server returns a client for statements outside the database.
func (c *client) server() *client {
	cp := *c
	cp.database = ""
	return &cp
}

var codeRe = regexp.MustCompile(`Code: (\d+)`)

// do sends one request and calls read with the response body when the
// server answered 200.
func (c *client) do(ctx context.Context, params url.Values, body io.Reader, read func(r *bufio.Reader) error) error {
	q := url.Values{}
	for k, v := range c.settings {
		q[k] = v
	}
	for k, v := range params {
		q[k] = v
	}
	if c.database != "" {
		q.Set("database", c.database)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"?"+q.Encode(), body)
	if err != nil {
		return err
	}
	if c.user != nil {
		pw, _ := c.user.Password()
		req.SetBasicAuth(c.user.Username(), pw)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		se := &ServerError{Status: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
		if h := resp.Header.Get("X-ClickHouse-Exception-Code"); h != "" {
			se.Code, _ = strconv.Atoi(h)
		} else if m := codeRe.FindSubmatch(msg); m != nil {
			se.Code, _ = strconv.Atoi(string(m[1]))
		}
		if se.Message == "" {
			se.Message = resp.Status
		}
		return se
	}
	lr := &io.LimitedReader{R: resp.Body, N: maxResultBytes + 1}
	if read != nil {
		if err := read(bufio.NewReaderSize(lr, 64<<10)); err != nil {
			if lr.N <= 0 {
				return fmt.Errorf("result larger than %d MiB; narrow the query", maxResultBytes>>20)
			}
			return err
		}
	}
	// Drain what is left (at most a little) so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return nil
}

// exec runs a statement that returns nothing of interest.
func (c *client) exec(ctx context.Context, sql string) error {
	return c.do(ctx, nil, strings.NewReader(sql), nil)
}

// query runs a SELECT, whose rows arrive in RowBinary, and calls row for
// each until the body ends. The server buffers the whole result before it
// answers (wait_end_of_query), so that an error in the middle of a query is
// an error status rather than a truncated body.
func (c *client) query(ctx context.Context, sql string, row func(r *rowReader) error) error {
	params := url.Values{"wait_end_of_query": {"1"}}
	return c.do(ctx, params, strings.NewReader(sql+" FORMAT RowBinary"), func(br *bufio.Reader) error {
		r := &rowReader{r: br}
		for {
			if _, err := br.Peek(1); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if err := row(r); err != nil {
				return err
			}
			if r.err != nil {
				return fmt.Errorf("decode result: %w", r.err)
			}
		}
	})
}

// insert appends rows, encoded in RowBinary in the order of columns, to
// table in one INSERT: one part on the server.
func (c *client) insert(ctx context.Context, table, columns string, rows []byte) error {
	params := url.Values{"query": {"INSERT INTO " + table + " (" + columns + ") FORMAT RowBinary"}}
	return c.do(ctx, params, bytes.NewReader(rows), nil)
}

// quote returns s as a ClickHouse string literal. Bytes that could end the
// literal or that a parser might mangle are escaped; the rest go as they are,
// so any byte string, UTF-8 or not, round-trips.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// hexLiteral returns raw bytes as an expression of a FixedString column's
// value.
func hexLiteral(raw []byte) string {
	return fmt.Sprintf("unhex('%x')", raw)
}
