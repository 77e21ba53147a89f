// Package chtest starts a throw-away ClickHouse server for tests, in a
// temporary directory on free loopback ports, and names a fresh database
// for each test that asks. It is for tests only: the clickhouse store's own
// tests and the end-to-end tests of several servers sharing one trace
// store use it. It does not know TraceKit's schema; the store creates and
// migrates the databases it names.
package chtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Server is a ClickHouse server that Start started, or the one
// TRACEKIT_CLICKHOUSE_URL names.
type Server struct {
	url  string // http://127.0.0.1:port
	cmd  *exec.Cmd
	dir  string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
	dbs  atomic.Int64
	stop sync.Once
}

// Start starts clickhouse-server (see start) and waits until it answers;
// Stop ends it. With TRACEKIT_CLICKHOUSE_URL set, it starts nothing and
// the tests use that server instead (to run them against another version).
func Start() (*Server, error) {
	if u := os.Getenv("TRACEKIT_CLICKHOUSE_URL"); u != "" {
		return &Server{url: strings.TrimSuffix(u, "/")}, nil
	}
	return start()
}

// URL is the server's HTTP interface, as "http://127.0.0.1:port".
func (s *Server) URL() string { return s.url }

// Stop ends the server that Start started and removes its directory; a
// server that TRACEKIT_CLICKHOUSE_URL named is left running. Later calls
// do nothing.
func (s *Server) Stop() {
	if s.cmd != nil {
		s.stop.Do(s.stopProcess)
	}
}

// NewDatabase names a database no other test uses, and returns its URL;
// the store creates the database when it opens that URL, and the database
// is dropped when the test ends.
func (s *Server) NewDatabase(tb testing.TB) (url string) {
	tb.Helper()
	// The process ID keeps apart the test binaries that share a server
	// named by TRACEKIT_CLICKHOUSE_URL.
	name := fmt.Sprintf("tk_test_%d_%d", os.Getpid(), s.dbs.Add(1))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	return s.url + "/" + name
}

// Exec runs a statement on the server outside any store, for setup and
// cleanup.
func (s *Server) Exec(ctx context.Context, sql string) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/", strings.NewReader(sql))
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", sql, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// serverBinary finds clickhouse-server: Debian's package installs
// /usr/sbin/clickhouse-server; ClickHouse's own packages a single
// /usr/bin/clickhouse that runs as `clickhouse server`.
func serverBinary() (path string, args []string, ok bool) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil, true
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil, true
		}
	}
	for _, p := range []string{"/usr/bin/clickhouse", "/usr/local/bin/clickhouse"} {
		if _, err := os.Stat(p); err == nil {
			return p, []string{"server"}, true
		}
	}
	return "", nil, false
}

const installHint = "install Debian's package (sudo apt-get install clickhouse-server), or point the tests at a running " +
	"server with TRACEKIT_CLICKHOUSE_URL=http://127.0.0.1:8123"

// installServer installs Debian's clickhouse-server package with apt-get,
// refreshing the package lists if the first attempt fails. It runs only in
// CI or as root: elsewhere the tests say how to install it instead.
func installServer() error {
	if os.Getenv("CI") == "" && os.Geteuid() != 0 {
		return fmt.Errorf("clickhouse-server not found: %s", installHint)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("clickhouse-server not found and apt-get is missing: %s", installHint)
	}
	run := func(args ...string) error {
		fmt.Fprintf(os.Stderr, "clickhouse tests: %s\n", strings.Join(args, " "))
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	fmt.Fprintln(os.Stderr, "clickhouse tests: clickhouse-server not found; installing Debian's package")
	install := []string{"apt-get", "install", "-y", "-qq", "--no-install-recommends", "clickhouse-server"}
	if err := run(install...); err == nil {
		return nil
	}
	if err := run("apt-get", "update", "-qq"); err != nil {
		return fmt.Errorf("apt-get update: %w; %s", err, installHint)
	}
	if err := run(install...); err != nil {
		return fmt.Errorf("apt-get install clickhouse-server: %w; %s", err, installHint)
	}
	return nil
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

const serverConfig = `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>{{dir}}/log/server.log</log>
    <errorlog>{{dir}}/log/server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{{http}}</http_port>
  <tcp_port>{{tcp}}</tcp_port>
  <path>{{dir}}/data/</path>
  <tmp_path>{{dir}}/tmp/</tmp_path>
  <user_files_path>{{dir}}/user_files/</user_files_path>
  <format_schema_path>{{dir}}/format_schemas/</format_schema_path>
  <users_config>{{dir}}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
</yandex>
`

const usersConfig = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_threads>2</max_threads></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`

// start starts clickhouse-server, installing it first if needed,
// and waits until it answers /ping. Ports are picked free, then bound by
// the server: if another process takes one in between, the server exits
// and start tries again with new ports.
func start() (*Server, error) {
	bin, args, ok := serverBinary()
	if !ok {
		if err := installServer(); err != nil {
			return nil, err
		}
		if bin, args, ok = serverBinary(); !ok {
			return nil, fmt.Errorf("clickhouse-server still not found after installing it: %s", installHint)
		}
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		srv, err := tryStart(bin, args)
		if err == nil {
			return srv, nil
		}
		last = err
	}
	return nil, last
}

// tryStart writes a configuration in a new directory and starts the
// server on it, once.
func tryStart(bin string, args []string) (*Server, error) {
	dir, err := os.MkdirTemp("", "tracekit-clickhouse-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return fail(err)
	}
	tcpPort, err := freePort()
	if err != nil {
		return fail(err)
	}
	for _, sub := range []string{"log", "data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return fail(err)
		}
	}
	cfg := strings.NewReplacer("{{dir}}", dir, "{{http}}", fmt.Sprint(httpPort), "{{tcp}}", fmt.Sprint(tcpPort)).Replace(serverConfig)
	cfgPath := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersConfig), 0o644); err != nil {
		return fail(err)
	}
	out, err := os.Create(filepath.Join(dir, "log", "stdout.log"))
	if err != nil {
		return fail(err)
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(bin, append(args, "--config-file="+cfgPath)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = serverProcAttr()
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start %s: %w", bin, err))
	}
	srv := &Server{url: fmt.Sprintf("http://127.0.0.1:%d", httpPort), cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		srv.err = cmd.Wait()
		close(srv.done)
	}()
	if err := srv.waitReady(90 * time.Second); err != nil {
		logs := srv.logTail()
		srv.stopProcess()
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	return srv, nil
}

// waitReady polls /ping until the server answers Ok, it exits, or the
// deadline passes.
func (s *Server) waitReady(timeout time.Duration) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(s.url + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("clickhouse-server exited before answering: %v", s.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse-server did not answer %s/ping within %v", s.url, timeout)
		}
	}
}

// logTail is the end of the server's logs, to explain a failed start.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, name := range []string{"stdout.log", "server.err.log"} {
		data, err := os.ReadFile(filepath.Join(s.dir, "log", name))
		if err != nil {
			continue
		}
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s:\n%s\n", name, data)
	}
	return b.String()
}

// stopProcess ends the server's process group, asking first, and
// removes its directory.
func (s *Server) stopProcess() {
	defer os.RemoveAll(s.dir)
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-s.done:
		return
	case <-time.After(20 * time.Second):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-s.done
}
