package ingest

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
)

const (
	contentProto = "application/x-protobuf"
	contentJSON  = "application/json"
)

// ServeHTTP handles POST /v1/traces.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// Errors are answered in the request's encoding: JSON for JSON bodies,
	// protobuf otherwise (also for a missing or unsupported Content-Type).
	mt, _, mtErr := mime.ParseMediaType(req.Header.Get("Content-Type"))
	ct := contentProto
	if mtErr == nil && mt == contentJSON {
		ct = contentJSON
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeStatus(w, ct, http.StatusMethodNotAllowed, codes.Unimplemented, "use POST to send traces", 0)
		return
	}
	p, err := r.auth.Authenticate(req.Context(), auth.FromHeader(req.Header))
	if err == nil && !p.Can(store.ScopeIngest) {
		err = auth.ErrScope
	}
	if err != nil {
		r.m.refused.WithLabelValues("http", "unauthenticated").Inc()
		writeStatus(w, ct, auth.Status(err), codes.Unauthenticated, err.Error(), 0)
		return
	}
	if mtErr != nil || (mt != contentProto && mt != contentJSON) {
		writeStatus(w, ct, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("unsupported Content-Type %q: send application/x-protobuf or application/json", req.Header.Get("Content-Type")), 0)
		return
	}
	reserve := r.cfg.MaxBodyBytes
	if req.ContentLength >= 0 && req.ContentLength < reserve {
		reserve = req.ContentLength
	}
	if req.ContentLength > r.cfg.MaxBodyBytes {
		writeStatus(w, ct, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
			fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes: send smaller batches", req.ContentLength, r.cfg.MaxBodyBytes), 0)
		return
	}
	if !r.acquire(reserve) {
		r.m.refused.WithLabelValues("http", "overload").Inc()
		writeStatus(w, ct, http.StatusTooManyRequests, codes.Unavailable, errOverloaded.Error(), 1)
		return
	}
	defer r.release(reserve)

	body, status, err := r.readBody(w, req)
	if err != nil {
		writeStatus(w, ct, status, codes.InvalidArgument, err.Error(), 0)
		return
	}
	er := ptraceotlp.NewExportRequest()
	if ct == contentJSON {
		err = er.UnmarshalJSON(body)
	} else {
		err = er.UnmarshalProto(body)
	}
	if err != nil {
		r.m.refused.WithLabelValues("http", "invalid").Inc()
		writeStatus(w, ct, http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf("malformed OTLP %s body: %v", strings.TrimPrefix(ct, "application/"), err), 0)
		return
	}
	res, err := r.store(req.Context(), "http", p.Project, er.Traces())
	var inv errInvalid
	switch {
	case errors.As(err, &inv):
		writeStatus(w, ct, http.StatusBadRequest, codes.InvalidArgument, inv.msg, 0)
		return
	case err != nil:
		r.log.Error("store spans", "project", p.Project, "err", err)
		writeStatus(w, ct, http.StatusServiceUnavailable, codes.Unavailable, "could not store spans: retry later", 5)
		return
	}
	resp := ptraceotlp.NewExportResponse()
	if res.rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(int64(res.rejected))
		resp.PartialSuccess().SetErrorMessage(res.message)
	}
	var out []byte
	if ct == contentJSON {
		out, err = resp.MarshalJSON()
	} else {
		out, err = resp.MarshalProto()
	}
	if err != nil {
		writeStatus(w, ct, http.StatusInternalServerError, codes.Internal, "encode response", 0)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// readBody reads the body within the size limits, undoing gzip.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request) ([]byte, int, error) {
	body := http.MaxBytesReader(w, req.Body, r.cfg.MaxBodyBytes)
	var rd io.Reader = body
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(body)
		if err != nil {
			return nil, tooLargeOr(err, http.StatusBadRequest), fmt.Errorf("body is not valid gzip: %w", err)
		}
		defer gz.Close()
		rd = io.LimitReader(gz, r.cfg.MaxDecodedBytes+1)
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q: send gzip or no encoding", enc)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, tooLargeOr(err, http.StatusBadRequest), fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > r.cfg.MaxDecodedBytes {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("decompressed body exceeds the limit of %d bytes", r.cfg.MaxDecodedBytes)
	}
	return b, 0, nil
}

func tooLargeOr(err error, status int) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return status
}

// writeStatus writes an OTLP error response: a google.rpc.Status in the
// request's encoding, and Retry-After for retryable refusals.
func writeStatus(w http.ResponseWriter, ct string, httpStatus int, code codes.Code, msg string, retryAfter int) {
	st := &status.Status{Code: int32(code), Message: msg}
	var b []byte
	if ct == contentJSON {
		b, _ = protojson.Marshal(st)
	} else {
		b, _ = proto.Marshal(st)
	}
	w.Header().Set("Content-Type", ct)
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.WriteHeader(httpStatus)
	_, _ = w.Write(b)
}
