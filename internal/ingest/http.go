package ingest

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/reqbody"
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
	charge := reqbody.NewCharge(r.budget, p.Project)
	defer charge.Release()
	body, err := reqbody.Read(req, r.lim, charge)
	if err == nil {
		err = charge.Add(decodeFactor * int64(len(body)))
	}
	if err != nil {
		var re *reqbody.Error
		errors.As(err, &re)
		status, retry := reqbody.StatusOf(err, http.StatusBadRequest), 0
		reason, code := "invalid", codes.InvalidArgument
		if re != nil && re.RetryAfter > 0 {
			retry, reason, code = re.RetryAfter, "overload", codes.Unavailable
		}
		r.m.refused.WithLabelValues("http", reason).Inc()
		writeStatus(w, ct, status, code, err.Error(), retry)
		return
	}
	start := time.Now()
	c, err := r.decode(body, ct == contentJSON)
	if err != nil {
		r.m.refused.WithLabelValues("http", "invalid").Inc()
		writeStatus(w, ct, http.StatusBadRequest, codes.InvalidArgument, err.Error(), 0)
		return
	}
	res, err := r.store(req.Context(), "http", p.Project, c, start)
	var inv errInvalid
	switch {
	case errors.As(err, &inv):
		writeStatus(w, ct, http.StatusBadRequest, codes.InvalidArgument, inv.msg, 0)
		return
	case err != nil:
		writeStatus(w, ct, http.StatusServiceUnavailable, codes.Unavailable, r.storeFailed(p.Project, err), 5)
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

// writeStatus writes an OTLP error response: a google.rpc.Status in the
// request's encoding, and Retry-After for retryable refusals.
func writeStatus(w http.ResponseWriter, ct string, httpStatus int, code codes.Code, msg string, retryAfter int) {
	// The message may quote the request (invalid UTF-8 included), which
	// protojson would refuse to encode.
	st := &status.Status{Code: int32(code), Message: strings.ToValidUTF8(msg, "\uFFFD")}
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
