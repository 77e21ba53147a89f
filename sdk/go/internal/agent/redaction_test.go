package agent

import (
	"context"
	"strings"
	"testing"

	"github.com/tracekit-oss/tracekit/sdk/go/pii"
)

// customer is an application struct a capture point passes.
type customer struct {
	ID    string
	Email string
}

// rawValues are what a handler holds: an email, in a map, a struct and a
// map key, and a password. None of them may leave the process.
func rawValues() map[string]any {
	return map[string]any{
		"user":     map[string]any{"id": "u1", "email": "jane@example.com"},
		"customer": customer{ID: "c1", Email: "jane@example.com"},
		"accounts": map[string]any{"jane@example.com": 1},
		"password": "hunter2",
		"mailbox":  "jane", "domain": "example.com",
	}
}

// leaks reports the raw secrets of rawValues that s holds.
func leaks(s string) []string {
	var found []string
	for _, secret := range []string{"jane@example.com", "hunter2", "JANE@EXAMPLE.COM"} {
		if strings.Contains(s, secret) {
			found = append(found, secret)
		}
	}
	return found
}

// TestConditionsSeeRawValues: a condition is evaluated on the values the
// code has, so that it can match a value PII scrubbing hides; the snapshot
// it captures is uploaded scrubbed.
func TestConditionsSeeRawValues(t *testing.T) {
	for _, c := range []struct {
		name, condition string
		captured        bool
		wantVars        []string // in the uploaded variables
	}{
		{"a condition on a raw email matches; the snapshot shows [REDACTED:email]",
			`user.email == "jane@example.com"`, true, []string{`"email":"[REDACTED:email]"`}},
		{"a condition that does not match the raw value captures nothing",
			`user.email == "john@example.com"`, false, nil},
		{"the marker is not the value: a condition on it does not match",
			`user.email == "[REDACTED:email]"`, false, nil},
		{"a condition on the value of a sensitive name matches",
			`password == "hunter2"`, true, []string{`"password":"[REDACTED:password]"`}},
		{"a condition on a struct field's raw value matches",
			`customer.Email endsWith "@example.com" && customer.ID == "c1"`, true, []string{`"Email":"[REDACTED:email]"`}},
		{"a condition on a raw map key matches; the key is uploaded scrubbed",
			`"jane@example.com" in keys(accounts)`, true, []string{`"[REDACTED:email]":1`}},
		{"a condition on the length of a raw value",
			`len(password) == 7`, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.setBreakpoints(false, Breakpoint{ID: "c1", Type: TypeConditional, CapturePoint: "pay", Condition: c.condition, RateLimit: 100})
			a, logs := newAgent(t, f, nil)
			applied(t, a, "v1")
			hit(a, context.Background(), "pay", rawValues())
			if s := a.Stats(); (s.Captures == 1) != c.captured || s.Captures > 1 {
				t.Fatalf("captures = %d, want captured = %v; log:\n%s", s.Captures, c.captured, logs.String())
			}
			if !c.captured {
				return
			}
			waitFor(t, a, "the upload", func(s Stats) bool { return s.Uploaded == 1 })
			snaps, _ := f.received()
			vars := string(snaps[0].Variables)
			if l := leaks(vars); l != nil {
				t.Errorf("uploaded variables hold %q: %s", l, vars)
			}
			for _, w := range c.wantVars {
				if !strings.Contains(vars, w) {
					t.Errorf("uploaded variables lack %s: %s", w, vars)
				}
			}
		})
	}
}

// TestLogpointsPrintMarkers: a logpoint's placeholders are evaluated on the
// values the code has, and a placeholder that would show a value PII
// scrubbing hides prints its marker instead, in the application's log and
// in the line uploaded.
func TestLogpointsPrintMarkers(t *testing.T) {
	for _, c := range []struct {
		name, condition, message string
		want                     string // "" for no line
	}{
		{"a placeholder of a raw email prints [REDACTED:email]", "", "by {user.email}", "by [REDACTED:email]"},
		{"a placeholder of a sensitive name prints [REDACTED:password]", "", "pw {password}", "pw [REDACTED:password]"},
		{"a placeholder of a struct field prints its marker", "", "{customer.Email}", "[REDACTED:email]"},
		{"a placeholder of a map prints it scrubbed", "", "{user}", `{"email":"[REDACTED:email]","id":"u1"}`},
		{"a placeholder of a value scrubbing keeps prints it", "", "user {user.id}", "user u1"},
		{"a comparison with a hidden value prints [REDACTED]", "", `{user.email == "jane@example.com" ? "vip" : "regular"}`, "[REDACTED]"},
		{"the length of a hidden value prints [REDACTED]", "", "{len(password)}", "[REDACTED]"},
		{"a transformed hidden value prints [REDACTED]", "", "{upper(user.email)}", "[REDACTED]"},
		{"an email put together from parts is scrubbed from the line", "", `{mailbox + "@" + domain}`, "[REDACTED:email]"},
		{"a conditional logpoint: its condition sees the raw email", `user.email == "jane@example.com"`, "paid by {user.id}", "paid by u1"},
		{"a conditional logpoint whose condition does not match the raw value writes nothing", `user.email == "john@example.com"`, "paid by {user.id}", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.setBreakpoints(false, Breakpoint{ID: "l1", Type: TypeLogpoint, CapturePoint: "pay", Condition: c.condition, Message: c.message, RateLimit: 100})
			a, logs := newAgent(t, f, nil)
			applied(t, a, "v1")
			hit(a, context.Background(), "pay", rawValues())
			if l := leaks(logs.String()); l != nil {
				t.Errorf("application log holds %q:\n%s", l, logs.String())
			}
			if c.want == "" {
				if s := a.Stats(); s.Logs != 0 {
					t.Errorf("logs = %d, want none", s.Logs)
				}
				return
			}
			waitFor(t, a, "the upload", func(s Stats) bool { return s.Uploaded == 1 })
			_, lines := f.received()
			if len(lines) != 1 || lines[0].Message != c.want {
				t.Fatalf("uploaded lines %+v, want %q", lines, c.want)
			}
			if !strings.Contains(logs.String(), "msg="+quoteLogValue(c.want)) {
				t.Errorf("application log lacks %q:\n%s", c.want, logs.String())
			}
		})
	}
}

// quoteLogValue writes s as slog's text handler writes a message.
func quoteLogValue(s string) string {
	if strings.ContainsAny(s, " \"=") {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return s
}

// TestErrorsDoNotQuoteRawValues: an error evaluated on a raw value may
// quote it; neither the logpoint line nor the warning about a failing
// condition does.
func TestErrorsDoNotQuoteRawValues(t *testing.T) {
	f := newFakeServer(t)
	f.setBreakpoints(false,
		Breakpoint{ID: "c1", Type: TypeConditional, CapturePoint: "pay", Condition: "int(user.email) > 0", RateLimit: 100},
		Breakpoint{ID: "l1", Type: TypeLogpoint, CapturePoint: "pay", Message: "n={int(password)}", RateLimit: 100})
	a, logs := newAgent(t, f, nil)
	applied(t, a, "v1")
	hit(a, context.Background(), "pay", rawValues())
	waitFor(t, a, "the upload", func(s Stats) bool { return s.Uploaded == 1 })
	_, lines := f.received()
	out := logs.String()
	if len(lines) != 1 || !strings.HasPrefix(lines[0].Message, "n=") || leaks(lines[0].Message) != nil {
		t.Errorf("uploaded lines %+v, want one without the password", lines)
	}
	if !strings.Contains(out, "condition could not be evaluated") || leaks(out) != nil {
		t.Errorf("application log must warn about c1 without quoting the email:\n%s", out)
	}
	if a.Stats().Captures != 0 {
		t.Error("a failing condition captured")
	}
}

// TestScrubbingOffShowsRawValues: with PII scrubbing turned off, what the
// code has is what is sent.
func TestScrubbingOffShowsRawValues(t *testing.T) {
	f := newFakeServer(t)
	f.setBreakpoints(false,
		Breakpoint{ID: "c1", Type: TypeConditional, CapturePoint: "pay", Condition: `user.email == "jane@example.com"`, RateLimit: 100},
		Breakpoint{ID: "l1", Type: TypeLogpoint, CapturePoint: "pay", Message: "by {user.email}", RateLimit: 100})
	off := mustScrubber(t, true)
	a, _ := newAgent(t, f, func(o *Options) { o.Scrubber = off })
	applied(t, a, "v1")
	hit(a, context.Background(), "pay", rawValues())
	waitFor(t, a, "the uploads", func(s Stats) bool { return s.Uploaded == 2 })
	snaps, lines := f.received()
	if len(snaps) != 1 || !strings.Contains(string(snaps[0].Variables), `"email":"jane@example.com"`) {
		t.Errorf("snapshots %+v, want the raw email", snaps)
	}
	if len(lines) != 1 || lines[0].Message != "by jane@example.com" {
		t.Errorf("lines %+v, want the raw email", lines)
	}
}

// mustScrubber returns a Scrubber with the built-in patterns, or one that
// scrubs nothing when disabled.
func mustScrubber(t *testing.T, disabled bool) *pii.Scrubber {
	t.Helper()
	s, err := pii.New(pii.Config{Disabled: disabled})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConditionCapturesWhatItReads: evaluating a condition in process
// captures the variables it names, not the others; the snapshot it
// captures holds them all.
func TestConditionCapturesWhatItReads(t *testing.T) {
	f := newFakeServer(t)
	f.setBreakpoints(false, Breakpoint{ID: "c1", Type: TypeConditional, CapturePoint: "pay", Condition: "attempt > 1", RateLimit: 100})
	a, _ := newAgent(t, f, nil)
	applied(t, a, "v1")
	var bad *panicError // its Error method panics: capturing it is observable
	hit(a, context.Background(), "pay", map[string]any{"attempt": 1, "err": error(bad)})
	if s := a.Stats(); s.Captures != 0 || s.Panics != 0 {
		t.Errorf("stats %+v: a condition on attempt captured err", s)
	}
	hit(a, context.Background(), "pay", map[string]any{"attempt": 2, "err": error(bad)})
	waitFor(t, a, "the upload", func(s Stats) bool { return s.Uploaded == 1 })
	snaps, _ := f.received()
	if vars := string(snaps[0].Variables); !strings.Contains(vars, `"attempt":2`) || !strings.Contains(vars, "Error() panicked") {
		t.Errorf("snapshot variables %s, want attempt and err", vars)
	}
	if p := a.Stats().Panics; p != 1 {
		t.Errorf("Panics = %d, want 1: err captured once, for the snapshot", p)
	}
}
