package tracekit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// DefaultEndpoint is where spans go when neither Config.Endpoint nor any of the
// endpoint environment variables is set: a TraceKit server on this machine.
const DefaultEndpoint = "http://localhost:4318/v1/traces"

// Defaults for the export pipeline. They keep the memory bounded and make a
// down server cost lost spans, never a blocked request.
const (
	DefaultMaxQueueSize  = 2048
	DefaultBatchTimeout  = time.Second
	DefaultExportTimeout = 5 * time.Second
)

// ErrInvalidConfig is wrapped by every error NewSDK returns for a setting it
// cannot use; the message names the setting.
var ErrInvalidConfig = errors.New("tracekit: invalid config")

// Config configures an SDK. Every field is optional where an environment
// variable can stand in for it; NewSDK reports the first setting it cannot use.
// Add fields by name: new ones will appear.
type Config struct {
	// APIKey is sent with every export as the X-API-Key header.
	// Empty: TRACEKIT_API_KEY. Never put the key in code.
	APIKey string

	// ServiceName names this service in every span. Required.
	// Empty: TRACEKIT_SERVICE_NAME, then OTEL_SERVICE_NAME, then service.name
	// in OTEL_RESOURCE_ATTRIBUTES.
	ServiceName string

	// Endpoint is the full URL spans are posted to as OTLP/HTTP protobuf,
	// for example http://localhost:4318/v1/traces; a URL without a path gets
	// /v1/traces. Empty: TRACEKIT_ENDPOINT, then
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then OTEL_EXPORTER_OTLP_ENDPOINT
	// followed by /v1/traces, then DefaultEndpoint.
	Endpoint string

	// EnableCodeMonitoring turns on breakpoints and snapshots (see
	// SDK.SnapshotClient).
	EnableCodeMonitoring bool

	// CodeMonitoringEndpoint is the base URL of the server's code monitoring
	// API (breakpoint sync, snapshot upload), such as
	// https://tracekit.example.com. Empty: the scheme, host and port of
	// Endpoint.
	CodeMonitoringEndpoint string

	// CodeMonitoringPollInterval is how often breakpoints are polled while
	// their real-time stream is unavailable. Zero:
	// DefaultCodeMonitoringPollInterval.
	CodeMonitoringPollInterval time.Duration

	// CodeMonitoringServerChecks has the server evaluate breakpoint
	// conditions (POST /v1/codemon/check) instead of the SDK. A hit is
	// captured and scrubbed at once; a background worker asks the server and
	// uploads only when it says so. The application never waits. The server
	// is sent the variables scrubbed, as snapshots are: a condition on a
	// value PII scrubbing hides (user.email == "a@b.c") compares with its
	// marker there and does not match, where in process (the default) it
	// compares with the value.
	CodeMonitoringServerChecks bool

	// CaptureConfig sets PII scrubbing, capture limits and the circuit
	// breaker of code monitoring. Nil: the defaults of CaptureConfig.
	CaptureConfig *CaptureConfig

	// Environment is recorded as deployment.environment.name, for example
	// "production". Empty: TRACEKIT_ENVIRONMENT, then
	// deployment.environment.name in OTEL_RESOURCE_ATTRIBUTES.
	Environment string

	// ServiceVersion is recorded as service.version. Empty:
	// TRACEKIT_SERVICE_VERSION, then service.version in OTEL_RESOURCE_ATTRIBUTES.
	ServiceVersion string

	// SampleRate is the fraction of new traces recorded, from 0 to 1. A trace
	// that arrives from another service keeps the caller's decision. Zero
	// means unset: OTEL_TRACES_SAMPLER_ARG, then 1 (every trace).
	SampleRate float64

	// MaxQueueSize bounds the spans waiting for export; spans that end while
	// it is full are dropped and counted in Stats. Zero: DefaultMaxQueueSize.
	MaxQueueSize int

	// BatchTimeout is the longest a span waits before its batch is sent.
	// Zero: DefaultBatchTimeout.
	BatchTimeout time.Duration

	// ExportTimeout bounds one export, retries included. Zero:
	// DefaultExportTimeout.
	ExportTimeout time.Duration

	// Logger receives the SDK's warnings (rate-limited) and the lines of
	// logpoints. Nil: slog.Default().
	Logger *slog.Logger
}

// resolved is a Config with its defaults and environment fallbacks applied,
// plus the resource attributes found in OTEL_RESOURCE_ATTRIBUTES.
type resolved struct {
	Config
	resourceAttrs []attribute.KeyValue
}

// setting is one candidate source for a value: its name, for error messages,
// and its value.
type setting struct{ name, value string }

// first returns the first candidate with a non-empty value.
func first(candidates ...setting) setting {
	for _, c := range candidates {
		if c.value != "" {
			return c
		}
	}
	return setting{}
}

func env(name string) setting { return setting{name, strings.TrimSpace(os.Getenv(name))} }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// resolve applies environment fallbacks and defaults to cfg and validates the
// result once, so that nothing later has to.
func resolve(cfg *Config) (resolved, error) {
	var r resolved
	if cfg != nil {
		r.Config = *cfg
	}
	c := &r.Config

	resAttrs, err := parseResourceAttributes(os.Getenv("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		return r, invalid("OTEL_RESOURCE_ATTRIBUTES: %v", err)
	}
	r.resourceAttrs = resAttrs
	fromResource := func(keys ...string) setting {
		for _, k := range keys {
			for _, kv := range resAttrs {
				if string(kv.Key) == k && kv.Value.AsString() != "" {
					return setting{"OTEL_RESOURCE_ATTRIBUTES " + k, kv.Value.AsString()}
				}
			}
		}
		return setting{}
	}

	c.APIKey = first(setting{"Config.APIKey", c.APIKey}, env("TRACEKIT_API_KEY")).value

	c.ServiceName = first(
		setting{"Config.ServiceName", strings.TrimSpace(c.ServiceName)},
		env("TRACEKIT_SERVICE_NAME"),
		env("OTEL_SERVICE_NAME"),
		fromResource("service.name"),
	).value
	if c.ServiceName == "" {
		return r, invalid("ServiceName is empty: set Config.ServiceName or TRACEKIT_SERVICE_NAME to a name unique to this service")
	}

	c.Environment = first(
		setting{"Config.Environment", c.Environment},
		env("TRACEKIT_ENVIRONMENT"),
		fromResource("deployment.environment.name", "deployment.environment"),
	).value
	c.ServiceVersion = first(
		setting{"Config.ServiceVersion", c.ServiceVersion},
		env("TRACEKIT_SERVICE_VERSION"),
		fromResource("service.version"),
	).value

	endpoint := first(
		setting{"Config.Endpoint", strings.TrimSpace(c.Endpoint)},
		env("TRACEKIT_ENDPOINT"),
		env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
	)
	if endpoint.value == "" {
		if base := env("OTEL_EXPORTER_OTLP_ENDPOINT"); base.value != "" {
			endpoint = setting{base.name, strings.TrimRight(base.value, "/") + "/v1/traces"}
		}
	}
	if endpoint.value == "" {
		endpoint = setting{"DefaultEndpoint", DefaultEndpoint}
	}
	if c.Endpoint, err = parseEndpoint(endpoint.value); err != nil {
		return r, invalid("Endpoint %q (from %s): %v", endpoint.value, endpoint.name, err)
	}

	if c.SampleRate == 0 {
		if arg := env("OTEL_TRACES_SAMPLER_ARG"); arg.value != "" {
			rate, err := strconv.ParseFloat(arg.value, 64)
			if err != nil {
				return r, invalid("SampleRate: OTEL_TRACES_SAMPLER_ARG %q is not a number between 0 and 1", arg.value)
			}
			if rate < 0 || rate > 1 {
				return r, invalid("SampleRate: OTEL_TRACES_SAMPLER_ARG %v is outside 0..1", rate)
			}
			c.SampleRate = rate
		} else {
			c.SampleRate = 1
		}
	} else if c.SampleRate < 0 || c.SampleRate > 1 || c.SampleRate != c.SampleRate {
		return r, invalid("SampleRate %v is outside 0..1: use 1 to record every trace, 0.1 for one in ten", c.SampleRate)
	}

	if c.MaxQueueSize < 0 {
		return r, invalid("MaxQueueSize %d is negative", c.MaxQueueSize)
	}
	if c.MaxQueueSize == 0 {
		c.MaxQueueSize = DefaultMaxQueueSize
	}
	if c.BatchTimeout < 0 {
		return r, invalid("BatchTimeout %v is negative", c.BatchTimeout)
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.ExportTimeout < 0 {
		return r, invalid("ExportTimeout %v is negative", c.ExportTimeout)
	}
	if c.ExportTimeout == 0 {
		c.ExportTimeout = DefaultExportTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if err := resolveCodeMonitoring(c); err != nil {
		return r, err
	}
	return r, nil
}

// parseEndpoint checks that s is an absolute http or https URL and gives it
// the OTLP traces path when it has none.
func parseEndpoint(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errors.New("want an http:// or https:// URL such as " + DefaultEndpoint)
	}
	if u.Host == "" {
		return "", errors.New("the URL has no host; want one such as " + DefaultEndpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// parseResourceAttributes parses OTEL_RESOURCE_ATTRIBUTES: comma-separated
// key=value pairs whose values may be percent-encoded.
func parseResourceAttributes(s string) ([]attribute.KeyValue, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var attrs []attribute.KeyValue
	for pair := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", pair)
		}
		val, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("value of %s: %w", k, err)
		}
		attrs = append(attrs, attribute.String(k, val))
	}
	return attrs, nil
}
