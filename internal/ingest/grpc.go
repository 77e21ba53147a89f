package ingest

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/reqbody"
	"github.com/tracekit-oss/tracekit/internal/store"
)

// The TraceService is registered with a hand-made service description and
// a codec that hands the handler the message's raw bytes, instead of the
// collector's generated server, whose codec decodes (recursively) before any
// handler runs. So the handler authenticates before the message is read at
// all, charges it to the in-flight budget, pre-scans it like an HTTP body,
// and only then decodes it.

// rawMessage is a gRPC message kept as its wire bytes.
type rawMessage struct{ b []byte }

// rawCodec passes rawMessage through and leaves other types to the proto
// codec.
type rawCodec struct{ proto encoding.CodecV2 }

func (c rawCodec) Name() string { return "proto" }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*rawMessage); ok {
		return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
	}
	return c.proto.Marshal(v)
}

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*rawMessage); ok {
		m.b = data.Materialize()
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

var traceServiceDesc = grpc.ServiceDesc{
	ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			return srv.(*Receiver).exportGRPC(ctx, dec)
		},
	}},
	Metadata: "opentelemetry/proto/collector/trace/v1/trace_service.proto",
}

// RegisterGRPC registers the OTLP TraceService on s, which must be created
// with GRPCOptions.
func (r *Receiver) RegisterGRPC(s *grpc.Server) {
	s.RegisterService(&traceServiceDesc, r)
}

// GRPCOptions returns the server options the receiver needs: its codec and
// its message size limit.
func (r *Receiver) GRPCOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(rawCodec{proto: encoding.GetCodecV2("proto")}),
		grpc.MaxRecvMsgSize(int(r.cfg.MaxBodyBytes)),
		grpc.MaxConcurrentStreams(uint32(r.cfg.MaxGRPCInFlight)),
	}
}

func keyFromMetadata(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-api-key"); len(v) > 0 && v[0] != "" {
		return v[0]
	}
	if v := md.Get("authorization"); len(v) > 0 && len(v[0]) > 7 && (v[0][:7] == "Bearer " || v[0][:7] == "bearer ") {
		return v[0][7:]
	}
	return ""
}

// exportGRPC handles one Export call: authenticate, then read, charge,
// scan and decode the message, then store its spans.
func (r *Receiver) exportGRPC(ctx context.Context, dec func(any) error) (any, error) {
	p, err := r.auth.Authenticate(ctx, keyFromMetadata(ctx))
	if err == nil && !p.Can(store.ScopeIngest) {
		err = auth.ErrScope
	}
	if err != nil {
		r.m.refused.WithLabelValues("grpc", "unauthenticated").Inc()
		code := codes.Unauthenticated
		if errors.Is(err, auth.ErrScope) {
			code = codes.PermissionDenied
		}
		return nil, status.Error(code, err.Error())
	}
	select {
	case r.grpcIn <- struct{}{}:
		defer func() { <-r.grpcIn }()
	default:
		r.m.refused.WithLabelValues("grpc", "overload").Inc()
		return nil, retryable(codes.Unavailable, errOverloaded.Error(), time.Second)
	}
	var msg rawMessage
	if err := dec(&msg); err != nil {
		return nil, err
	}
	charge := reqbody.NewCharge(r.budget, p.Project)
	defer charge.Release()
	if err := charge.Add((1 + decodeFactor) * int64(len(msg.b))); errors.Is(err, reqbody.ErrOverloaded) {
		r.m.refused.WithLabelValues("grpc", "overload").Inc()
		return nil, retryable(codes.Unavailable, errOverloaded.Error(), time.Second)
	} else if err != nil {
		r.m.refused.WithLabelValues("grpc", "invalid").Inc()
		return nil, status.Error(codes.ResourceExhausted, err.Error())
	}
	start := time.Now()
	c, err := r.decode(msg.b, false)
	if err != nil {
		r.m.refused.WithLabelValues("grpc", "invalid").Inc()
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	msg.b = nil
	res, err := r.store(ctx, "grpc", p.Project, c, start)
	var inv errInvalid
	switch {
	case errors.As(err, &inv):
		return nil, status.Error(codes.InvalidArgument, inv.msg)
	case err != nil:
		return nil, retryable(codes.Unavailable, r.storeFailed(p.Project, err), 5*time.Second)
	}
	resp := ptraceotlp.NewExportResponse()
	if res.rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(int64(res.rejected))
		resp.PartialSuccess().SetErrorMessage(res.message)
	}
	out, err := resp.MarshalProto()
	if err != nil {
		return nil, status.Error(codes.Internal, "encode response")
	}
	return &rawMessage{b: out}, nil
}

func retryable(code codes.Code, msg string, after time.Duration) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(after)}); err == nil {
		st = d
	}
	return st.Err()
}
