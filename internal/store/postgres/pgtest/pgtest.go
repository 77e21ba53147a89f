// Package pgtest starts a throw-away PostgreSQL server for tests: one
// cluster in a temporary directory, listening on a free loopback port, with
// durability off for speed, and an empty database for each test that asks.
// It is for tests only: the postgres store's own tests and the end-to-end
// tests of several servers sharing one metadata store use it. It does not
// know TraceKit's schema; the store migrates the databases it hands out.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL cluster that Start initialised.
type Server struct {
	dir    string // the cluster's directory, socket and log
	port   int
	cmd    *exec.Cmd
	exited chan error // receives cmd.Wait's result
	admin  string     // URL of the postgres database, for CREATE DATABASE
	dbs    atomic.Int64
	stop   sync.Once
}

// binDir finds PostgreSQL's server programs (Debian puts them under
// /usr/lib/postgresql/VERSION/bin), installing the postgresql package
// first on CI or as root when none are there.
func binDir() (string, error) {
	find := func() string {
		if d := os.Getenv("TRACEKIT_PG_BIN"); d != "" {
			return d
		}
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) }) // newest first
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				return d
			}
		}
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
		return ""
	}
	if d := find(); d != "" {
		return d, nil
	}
	const how = "install it with `apt-get install -y postgresql` (Debian, Ubuntu) or set TRACEKIT_PG_BIN to the directory of initdb and postgres"
	if os.Getenv("CI") == "" && os.Geteuid() != 0 {
		return "", errors.New("PostgreSQL's server programs (initdb, postgres) are not installed: " + how)
	}
	fmt.Fprintln(os.Stderr, "postgres tests: PostgreSQL is not installed; running apt-get update && apt-get install -y postgresql")
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "postgresql"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("apt-get %s: %v; %s", strings.Join(args, " "), err, how)
		}
	}
	if d := find(); d != "" {
		return d, nil
	}
	return "", errors.New("apt-get installed postgresql but initdb is not under /usr/lib/postgresql/*/bin; " + how)
}

// version is the major version of a /usr/lib/postgresql/VERSION/bin path.
func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// Start initialises and starts a cluster and waits until it takes
// connections; Stop ends it. PostgreSQL refuses to run as root, so as root
// the cluster belongs to the postgres user.
func Start() (_ *Server, err error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: its parents are root's alone, and the postgres user
	// must reach the cluster's directory.
	dir, err := os.MkdirTemp("", "tracekit-pg-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, the cluster must belong to another user, and there is no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd, exited, err := startPostgres(bin, dir, port, cred)
		if err == nil {
			return &Server{dir: dir, port: port, cmd: cmd, exited: exited,
				admin: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}, nil
		}
		if attempt == 2 {
			return nil, err
		}
	}
}

// Stop ends the server at once and removes its directory. Later calls do
// nothing.
func (s *Server) Stop() {
	s.stop.Do(func() {
		// SIGQUIT is PostgreSQL's immediate shutdown: nothing to keep.
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
		}
		_ = os.RemoveAll(s.dir)
	})
}

// Addr is the server's address, as "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startPostgres starts the server and waits until it takes connections;
// exited receives the server's exit.
func startPostgres(bin, dir string, port int, cred *syscall.Credential) (cmd *exec.Cmd, exited chan error, err error) {
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	defer logFile.Close()
	cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = serverProcAttr(cred)
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start postgres: %v", err)
	}
	exited = make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			return nil, nil, fmt.Errorf("postgres exited at start: %v\n%s", err, log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return cmd, exited, nil
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			log, _ := os.ReadFile(logPath)
			<-exited
			return nil, nil, fmt.Errorf("postgres did not take connections within a minute: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NewDatabase creates an empty database for one test and returns its URL;
// the database is dropped when the test ends.
func (s *Server) NewDatabase(tb testing.TB) (url string) {
	tb.Helper()
	name := fmt.Sprintf("tk_%d", s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Error(err)
		}
	})
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", s.Addr(), name)
}

// Exec runs a statement on the server's postgres database, outside any
// store: to create, drop or break a test's database.
func (s *Server) Exec(ctx context.Context, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, s.admin)
	if err != nil {
		return fmt.Errorf("connect to the test server: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}
