package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
)

func testBreakpoints(t *testing.T, open MetadataOpener) {
	s := openStore(t, open)
	ctx := context.Background()
	bp := func(id, service string, created time.Time) store.Breakpoint {
		return store.Breakpoint{ID: id, Project: "p", Service: service, Type: store.BreakpointConditional, File: "pay.go", Line: 42,
			Condition: "order.total > 10000", CaptureDepth: 3, RateLimit: 10, MaxStringLength: 256,
			ExpiresAt: created.Add(24 * time.Hour), CreatedAt: created, UpdatedAt: created}
	}
	for _, b := range []store.Breakpoint{bp("b2", "pay", base.Add(time.Second)), bp("b1", "pay", base), bp("b3", "web", base)} {
		if err := s.PutBreakpoint(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	other := bp("b9", "pay", base)
	other.Project = "q"
	if err := s.PutBreakpoint(ctx, other); err != nil {
		t.Fatal(err)
	}
	got, err := s.Breakpoint(ctx, "p", "b1")
	if err != nil || got.Condition != "order.total > 10000" || !got.ExpiresAt.Equal(base.Add(24*time.Hour)) {
		t.Errorf("Breakpoint = %+v, %v", got, err)
	}
	if _, err := s.Breakpoint(ctx, "q", "b1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other project reads b1: %v", err)
	}
	list, err := s.ListBreakpoints(ctx, "p", "pay")
	if err != nil || len(list) != 2 || list[0].ID != "b1" || list[1].ID != "b2" {
		t.Errorf("ListBreakpoints(pay) = %+v, %v", list, err)
	}
	if all, _ := s.ListBreakpoints(ctx, "p", ""); len(all) != 3 {
		t.Errorf("ListBreakpoints(all) = %d", len(all))
	}
	if n, err := s.AdmitHits(ctx, "p", "b1", 3, 0, base.Add(time.Minute)); err != nil || n != 3 {
		t.Fatalf("AdmitHits = %d, %v", n, err)
	}
	if n, err := s.AdmitHits(ctx, "p", "b1", 2, 0, base.Add(30*time.Second)); err != nil || n != 2 {
		t.Fatalf("AdmitHits = %d, %v", n, err)
	}
	got, _ = s.Breakpoint(ctx, "p", "b1")
	if got.Hits != 5 || got.LastHitAt == nil || !got.LastHitAt.Equal(base.Add(time.Minute)) {
		t.Errorf("after hits: %d %v", got.Hits, got.LastHitAt)
	}
	if err := s.DeleteBreakpoint(ctx, "p", "b1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBreakpoint(ctx, "p", "b1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := s.DeleteBreakpoint(ctx, "p", "b9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting another project's breakpoint: %v", err)
	}
}

func testKillSwitchAndCapturePoints(t *testing.T, open MetadataOpener) {
	s := openStore(t, open)
	ctx := context.Background()
	ks, err := s.KillSwitch(ctx, "p", "pay")
	if err != nil || ks.Enabled {
		t.Errorf("default kill switch = %+v, %v", ks, err)
	}
	if err := s.SetKillSwitch(ctx, "p", store.KillSwitch{Service: "pay", Enabled: true, UpdatedAt: base}); err != nil {
		t.Fatal(err)
	}
	if ks, _ := s.KillSwitch(ctx, "p", "pay"); !ks.Enabled {
		t.Error("kill switch not stored")
	}
	if ks, _ := s.KillSwitch(ctx, "q", "pay"); ks.Enabled {
		t.Error("kill switch leaks across projects")
	}
	cp := store.CapturePoint{Service: "pay", Name: "payment-failed", File: "/app/pay.go", Line: 42, Function: "main.pay", FirstSeen: base, LastSeen: base}
	if err := s.PutCapturePoints(ctx, "p", []store.CapturePoint{cp}); err != nil {
		t.Fatal(err)
	}
	cp.FirstSeen, cp.LastSeen = base.Add(time.Hour), base.Add(time.Hour)
	if err := s.PutCapturePoints(ctx, "p", []store.CapturePoint{cp, {Service: "web", Name: "x", File: "w.go", Line: 1}}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListCapturePoints(ctx, "p", "pay")
	if err != nil || len(list) != 1 || !list[0].FirstSeen.Equal(base) || !list[0].LastSeen.Equal(base.Add(time.Hour)) {
		t.Errorf("ListCapturePoints = %+v, %v", list, err)
	}
}

func testSnapshots(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	ctx := context.Background()
	mk := func(bp, svc, env, trace string, at time.Time) store.Snapshot {
		return store.Snapshot{BreakpointID: bp, Service: svc, Environment: env, TraceID: trace, Time: at,
			Variables: json.RawMessage(`{"order":{"id":"o-1","total":12000}}`), Stack: []store.Frame{{Function: "main.pay", File: "pay.go", Line: 42}}}
	}
	snaps := []store.Snapshot{
		mk("b1", "pay", "prod", "aa", base.Add(-3*time.Minute)),
		mk("b1", "pay", "staging", "bb", base.Add(-2*time.Minute)),
		mk("b2", "web", "prod", "aa", base.Add(-time.Minute)),
		mk("b1", "pay", "prod", "cc", base.Add(-48*time.Hour)),
	}
	if err := s.WriteSnapshots(ctx, "p", snaps); err != nil {
		t.Fatal(err)
	}
	for _, sn := range snaps {
		if sn.ID == "" {
			t.Fatal("WriteSnapshots assigned no ID")
		}
	}
	got, err := s.Snapshot(ctx, "p", snaps[0].ID)
	if err != nil || got.BreakpointID != "b1" || string(got.Variables) != `{"order":{"id":"o-1","total":12000}}` || len(got.Stack) != 1 || !got.Time.Equal(snaps[0].Time) {
		t.Errorf("Snapshot = %+v, %v", got, err)
	}
	if _, err := s.Snapshot(ctx, "q", snaps[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other project reads snapshot: %v", err)
	}
	if _, err := s.Snapshot(ctx, "p", "nonsense"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("malformed id: %v", err)
	}
	f := func(q store.SnapshotQuery, want ...int) {
		t.Helper()
		got, err := s.FindSnapshots(ctx, "p", q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, g := range got {
			ids = append(ids, g.ID)
		}
		var wantIDs []string
		for _, w := range want {
			wantIDs = append(wantIDs, snaps[w].ID)
		}
		if len(ids) != len(wantIDs) {
			t.Errorf("FindSnapshots(%+v) = %v, want %v", q, ids, wantIDs)
			return
		}
		for i := range ids {
			if ids[i] != wantIDs[i] {
				t.Errorf("FindSnapshots(%+v) = %v, want %v", q, ids, wantIDs)
				return
			}
		}
	}
	f(store.SnapshotQuery{}, 2, 1, 0, 3)
	f(store.SnapshotQuery{BreakpointID: "b1"}, 1, 0, 3)
	f(store.SnapshotQuery{Service: "pay", Environment: "prod"}, 0, 3)
	f(store.SnapshotQuery{TraceID: "AA"}, 2, 0)
	f(store.SnapshotQuery{Start: base.Add(-150 * time.Second), End: base}, 2, 1)
	f(store.SnapshotQuery{Limit: 2}, 2, 1)
	if other, _ := s.FindSnapshots(ctx, "q", store.SnapshotQuery{}); len(other) != 0 {
		t.Errorf("other project finds %d snapshots", len(other))
	}
	if err := s.DeleteSnapshotsBefore(ctx, base.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f(store.SnapshotQuery{}, 2, 1, 0)
}

func testLogs(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	ctx := context.Background()
	lines := []store.LogLine{
		{BreakpointID: "b1", Service: "pay", Time: base.Add(-2 * time.Minute), Message: "Order o-1 processing took 812ms"},
		{BreakpointID: "b1", Service: "pay", Time: base.Add(-time.Minute), Message: "Cache HIT for key user:7"},
		{BreakpointID: "b2", Service: "web", Time: base.Add(-30 * time.Second), Message: "order O-2 shipped"},
	}
	if err := s.WriteLogs(ctx, "p", lines); err != nil {
		t.Fatal(err)
	}
	f := func(q store.LogQuery, want ...string) {
		t.Helper()
		got, err := s.FindLogs(ctx, "p", q)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, g := range got {
			msgs = append(msgs, g.Message)
		}
		if len(msgs) != len(want) {
			t.Errorf("FindLogs(%+v) = %q, want %q", q, msgs, want)
			return
		}
		for i := range msgs {
			if msgs[i] != want[i] {
				t.Errorf("FindLogs(%+v) = %q, want %q", q, msgs, want)
				return
			}
		}
	}
	f(store.LogQuery{}, lines[2].Message, lines[1].Message, lines[0].Message)
	f(store.LogQuery{Text: "ORDER"}, lines[2].Message, lines[0].Message)
	f(store.LogQuery{Service: "pay", Text: "cache"}, lines[1].Message)
	f(store.LogQuery{Start: base.Add(-90 * time.Second), End: base.Add(-45 * time.Second)}, lines[1].Message)
}
