package ingest_test

import (
	"context"
	"net"
	"reflect"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/tracekit-oss/tracekit/internal/ingest"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// richTraces holds a span with values of every type, an event and a link,
// and a span refused for its IDs.
func richTraces() ptrace.Traces {
	td := traces(2)
	rs := td.ResourceSpans().At(0)
	rs.Resource().Attributes().PutInt("process.pid", 42)
	rs.ScopeSpans().At(0).Scope().SetName("lib")
	rs.ScopeSpans().At(0).Scope().SetVersion("1.2")
	sp := rs.ScopeSpans().At(0).Spans().At(0)
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetParentSpanID(pcommon.SpanID{9})
	sp.TraceState().FromRaw("k=v")
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("boom")
	a := sp.Attributes()
	a.PutBool("b", true)
	a.PutDouble("d", 2.5)
	a.PutEmptyBytes("raw").FromRaw([]byte{0, 1, 2})
	a.PutEmpty("empty")
	arr := a.PutEmptySlice("arr")
	arr.AppendEmpty().SetStr("x")
	arr.AppendEmpty().SetEmptyMap().PutInt("n", 1)
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(1_700_000_000_050_000_000)
	ev.Attributes().PutStr("exception.message", "bad")
	l := sp.Links().AppendEmpty()
	l.SetTraceID(pcommon.TraceID{7})
	l.SetSpanID(pcommon.SpanID{7})
	l.Attributes().PutInt("i", 1)
	rs.ScopeSpans().At(0).Spans().AppendEmpty().SetName("no ids")
	return td
}

// The same request stores the same spans over HTTP as protobuf (decoded
// straight from the wire) and as JSON (decoded through pdata), and over
// gRPC.
func TestTransportsStoreTheSameSpans(t *testing.T) {
	td := richTraces()
	req := ptraceotlp.NewExportRequestFromTraces(td)
	pb, err := req.MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	js, err := req.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	stored := func(send func(r *ingest.Receiver)) []telemetry.Span {
		t.Helper()
		w := &memWriter{}
		send(newReceiver(t, w, ingest.Config{}))
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.spans["a"]) != 2 {
			t.Fatalf("stored %d spans, want 2", len(w.spans["a"]))
		}
		return w.spans["a"]
	}
	httpProto := stored(func(r *ingest.Receiver) {
		if rec := post(r, "ingest-a", "application/x-protobuf", "", pb); rec.Code != 200 {
			t.Fatalf("protobuf: status %d", rec.Code)
		}
	})
	httpJSON := stored(func(r *ingest.Receiver) {
		if rec := post(r, "ingest-a", "application/json", "", js); rec.Code != 200 {
			t.Fatalf("json: status %d", rec.Code)
		}
	})
	overGRPC := stored(func(r *ingest.Receiver) {
		s := grpc.NewServer(r.GRPCOptions()...)
		r.RegisterGRPC(s)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.Serve(lis) }()
		defer s.Stop()
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "ingest-a")
		resp, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, req)
		if err != nil {
			t.Fatalf("gRPC export: %v", err)
		}
		if n := resp.PartialSuccess().RejectedSpans(); n != 1 {
			t.Fatalf("gRPC: %d spans rejected, want 1", n)
		}
	})
	if !reflect.DeepEqual(httpProto, httpJSON) {
		t.Errorf("protobuf stored\n%+v\nJSON stored\n%+v", httpProto, httpJSON)
	}
	if !reflect.DeepEqual(httpProto, overGRPC) {
		t.Errorf("HTTP stored\n%+v\ngRPC stored\n%+v", httpProto, overGRPC)
	}
}
