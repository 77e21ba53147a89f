package servertest_test

import (
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tracekit-oss/tracekit/internal/server"
	"github.com/tracekit-oss/tracekit/internal/server/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"))
}

func TestStart(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.GRPCAddr = "" })
	if !strings.HasPrefix(s.Base, "http://127.0.0.1:") {
		t.Errorf("Base = %q, want a loopback URL", s.Base)
	}
	if s.GRPCAddr() != "" {
		t.Errorf("gRPC listens on %q although configure turned it off", s.GRPCAddr())
	}
	status := func(key string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.Base+"/api/v1/services", nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(servertest.AdminKey); got != http.StatusOK {
		t.Errorf("the seeded admin key answered %d, want 200", got)
	}
	if got := status("tk_not_a_key_0123456789"); got != http.StatusUnauthorized {
		t.Errorf("an unknown key answered %d, want 401", got)
	}
	s.Stop()
	s.Stop() // a second Stop, and the one at cleanup, do nothing
	if _, err := http.Get(s.Base + "/healthz"); err == nil {
		t.Error("the server still answers after Stop")
	}
}

func TestStartDefaults(t *testing.T) {
	s := servertest.Start(t, nil)
	if !strings.HasPrefix(s.GRPCAddr(), "127.0.0.1:") {
		t.Errorf("gRPC at %q, want a loopback port", s.GRPCAddr())
	}
}
