package ingest

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
)

// grpcService implements the OTLP TraceService.
type grpcService struct {
	ptraceotlp.UnimplementedGRPCServer
	r *Receiver
}

// RegisterGRPC registers the OTLP TraceService on s. The server should be
// created with grpc.MaxRecvMsgSize(cfg.MaxDecodedBytes) (see GRPCOptions).
func (r *Receiver) RegisterGRPC(s *grpc.Server) {
	ptraceotlp.RegisterGRPCServer(s, &grpcService{r: r})
}

// GRPCOptions returns server options matching the receiver's limits.
func (r *Receiver) GRPCOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(int(r.cfg.MaxDecodedBytes))}
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

func (g *grpcService) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	r := g.r
	resp := ptraceotlp.NewExportResponse()
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
		return resp, status.Error(code, err.Error())
	}
	// The message is already decoded (bounded by MaxRecvMsgSize); reserve an
	// estimate of its size so gRPC shares the HTTP overload budget.
	est := int64(req.Traces().SpanCount()) * 512
	if !r.acquire(est) {
		r.m.refused.WithLabelValues("grpc", "overload").Inc()
		return resp, retryable(codes.Unavailable, errOverloaded.Error(), time.Second)
	}
	defer r.release(est)
	res, err := r.store(ctx, "grpc", p.Project, req.Traces())
	var inv errInvalid
	switch {
	case errors.As(err, &inv):
		return resp, status.Error(codes.InvalidArgument, inv.msg)
	case err != nil:
		r.log.Error("store spans", "project", p.Project, "err", err)
		return resp, retryable(codes.Unavailable, "could not store spans: retry later", 5*time.Second)
	}
	if res.rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(int64(res.rejected))
		resp.PartialSuccess().SetErrorMessage(res.message)
	}
	return resp, nil
}

func retryable(code codes.Code, msg string, after time.Duration) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(after)}); err == nil {
		st = d
	}
	return st.Err()
}
