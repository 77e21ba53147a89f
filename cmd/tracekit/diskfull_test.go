package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// smallFS mounts a tmpfs of size bytes for the test, or skips it where
// mounting is not allowed (CI runs as root, so it runs there).
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (run as root to test a full disk): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until at most leave bytes are free.
func fill(t *testing.T, dir string, leave uint64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := st.Bavail * uint64(st.Bsize)
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for n := uint64(0); free > leave && n < free-leave; n += uint64(len(chunk)) {
		if _, err := f.Write(chunk[:min(uint64(len(chunk)), free-leave-n)]); err != nil {
			break
		}
	}
	return path
}

func postSpans(base string, tid pcommon.TraceID) (int, http.Header) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "disk")
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	for i := 0; i < 20; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(pcommon.SpanID{7, byte(i + 1)})
		sp.SetName("write")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
	}
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/traces", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-API-Key", testKey)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// A full disk is answered with 503 and Retry-After, /readyz says why,
// ingest resumes by itself when space returns, SIGTERM completes while the
// disk is full, and every acknowledged span is there after a restart.
func TestFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and fills it")
	}
	fs := smallFS(t, "256m")
	data := filepath.Join(fs, "data")
	p := startServer(t, data, "--min-free-disk", "67108864", "--fsync")
	var acked []pcommon.TraceID
	poll := func(what string, timeout time.Duration, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > timeout {
				t.Fatalf("%s: not within %s; server log:\n%s", what, timeout, p.out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	ready := func() (int, string) {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	send := func(i int) int {
		tid := pcommon.TraceID{0xd1, byte(i >> 8), byte(i)}
		code, h := postSpans(p.base, tid)
		switch code {
		case 200:
			acked = append(acked, tid)
		case 503:
			if h.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		default:
			t.Fatalf("ingest answered %d, want 200 or 503", code)
		}
		return code
	}
	for i := 0; i < 5; i++ {
		if send(i) != 200 {
			t.Fatal("ingest refused before the disk filled")
		}
	}

	filler := fill(t, fs, 32<<20) // 32 MiB left, under the 64 MiB threshold
	n := 100
	poll("ingest answers 503 once the disk is nearly full", 30*time.Second, func() bool { n++; return send(n) == 503 })
	if code, body := ready(); code != 503 || !strings.Contains(body, "free") {
		t.Errorf("/readyz with the disk full: %d %q, want 503 saying how much is free", code, body)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	took := poll("ingest resumes once space is back", 60*time.Second, func() bool { n++; return send(n) == 200 })
	t.Logf("ingest resumed %s after space returned", took.Round(time.Millisecond))
	if code, _ := ready(); code != 200 {
		t.Errorf("/readyz after space returned: %d", code)
	}

	// Full again, then SIGTERM: the server stops, it does not hang.
	fill(t, fs, 32<<20)
	poll("ingest answers 503 again", 30*time.Second, func() bool { n++; return send(n) == 503 })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("SIGTERM with the disk full: still running after 60 s; log:\n%s", p.out.String())
	}
	os.Remove(filepath.Join(fs, "filler"))

	requireTraces(t, data, acked, 20, "acknowledged with the disk filling, after a restart")
	t.Logf("%d acknowledged traces all readable after the restart", len(acked))
}
