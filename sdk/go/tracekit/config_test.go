package tracekit

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

// configEnv lists every variable NewSDK reads; each test starts with all
// of them empty, which NewSDK treats as unset.
var configEnv = []string{
	"TRACEKIT_API_KEY", "TRACEKIT_SERVICE_NAME", "TRACEKIT_ENDPOINT",
	"TRACEKIT_ENVIRONMENT", "TRACEKIT_SERVICE_VERSION",
	"OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER_ARG",
}

func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range configEnv {
		t.Setenv(k, env[k])
	}
	for k := range env {
		t.Setenv(k, env[k])
	}
}

func TestConfigResolution(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		env  map[string]string
		want Config // the fields checked: APIKey, ServiceName, Endpoint, Environment, ServiceVersion, SampleRate
	}{{
		name: "explicit fields win over the environment",
		cfg: Config{APIKey: "k", ServiceName: "svc", Endpoint: "https://tk.example.com/v1/traces",
			Environment: "prod", ServiceVersion: "1.2.3", SampleRate: 0.5},
		env: map[string]string{"TRACEKIT_API_KEY": "env-k", "TRACEKIT_SERVICE_NAME": "env-svc",
			"TRACEKIT_ENDPOINT": "http://env:4318/v1/traces", "TRACEKIT_ENVIRONMENT": "dev",
			"TRACEKIT_SERVICE_VERSION": "0.0.1", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
		want: Config{APIKey: "k", ServiceName: "svc", Endpoint: "https://tk.example.com/v1/traces",
			Environment: "prod", ServiceVersion: "1.2.3", SampleRate: 0.5},
	}, {
		name: "TRACEKIT variables fill empty fields",
		env: map[string]string{"TRACEKIT_API_KEY": "env-k", "TRACEKIT_SERVICE_NAME": "env-svc",
			"TRACEKIT_ENDPOINT": "http://tk:4318/v1/traces", "TRACEKIT_ENVIRONMENT": "staging",
			"TRACEKIT_SERVICE_VERSION": "2.0.0", "OTEL_SERVICE_NAME": "otel-svc",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://otel:4318/v1/traces"},
		want: Config{APIKey: "env-k", ServiceName: "env-svc", Endpoint: "http://tk:4318/v1/traces",
			Environment: "staging", ServiceVersion: "2.0.0", SampleRate: 1},
	}, {
		name: "OpenTelemetry variables",
		env: map[string]string{"OTEL_SERVICE_NAME": "otel-svc",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://otel:4318/custom/traces",
			"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://base:4318",
			"OTEL_TRACES_SAMPLER_ARG":            "0.25"},
		want: Config{ServiceName: "otel-svc", Endpoint: "http://otel:4318/custom/traces", SampleRate: 0.25},
	}, {
		name: "OTEL_EXPORTER_OTLP_ENDPOINT gets the traces path",
		cfg:  Config{ServiceName: "svc"},
		env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318/"},
		want: Config{ServiceName: "svc", Endpoint: "https://collector:4318/v1/traces", SampleRate: 1},
	}, {
		name: "OTEL_RESOURCE_ATTRIBUTES, last",
		env:  map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=res%20svc, service.version=3.1,deployment.environment.name=qa,team=core"},
		want: Config{ServiceName: "res svc", Endpoint: DefaultEndpoint, Environment: "qa", ServiceVersion: "3.1", SampleRate: 1},
	}, {
		name: "old deployment.environment",
		cfg:  Config{ServiceName: "svc"},
		env:  map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=legacy"},
		want: Config{ServiceName: "svc", Endpoint: DefaultEndpoint, Environment: "legacy", SampleRate: 1},
	}, {
		name: "an endpoint without a path gets /v1/traces",
		cfg:  Config{ServiceName: "svc", Endpoint: "http://localhost:4318"},
		want: Config{ServiceName: "svc", Endpoint: "http://localhost:4318/v1/traces", SampleRate: 1},
	}, {
		name: "defaults",
		cfg:  Config{ServiceName: " svc "},
		want: Config{ServiceName: "svc", Endpoint: DefaultEndpoint, SampleRate: 1},
	}} {
		t.Run(c.name, func(t *testing.T) {
			setEnv(t, c.env)
			s, err := NewSDK(&c.cfg)
			if err != nil {
				t.Fatalf("NewSDK: %v", err)
			}
			t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
			got := s.Config()
			got2 := Config{APIKey: got.APIKey, ServiceName: got.ServiceName, Endpoint: got.Endpoint,
				Environment: got.Environment, ServiceVersion: got.ServiceVersion, SampleRate: got.SampleRate}
			if got2 != c.want {
				t.Errorf("resolved\n%+v\nwant\n%+v", got2, c.want)
			}
			if got.MaxQueueSize != DefaultMaxQueueSize || got.BatchTimeout != DefaultBatchTimeout ||
				got.ExportTimeout != DefaultExportTimeout || got.Logger == nil {
				t.Errorf("defaults not applied: %+v", got)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	f := func(cfg *Config, env map[string]string, wantInMessage ...string) {
		t.Helper()
		setEnv(t, env)
		s, err := NewSDK(cfg)
		if err == nil {
			_ = s.Shutdown(context.Background())
			t.Errorf("NewSDK(%+v) with %v succeeded, want an error naming %v", cfg, env, wantInMessage)
			return
		}
		if s != nil {
			t.Errorf("NewSDK returned an SDK with its error")
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("error %v does not wrap ErrInvalidConfig", err)
		}
		for _, w := range wantInMessage {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}
	svc := func(c Config) *Config { c.ServiceName = "svc"; return &c }

	f(nil, nil, "ServiceName", "TRACEKIT_SERVICE_NAME")
	f(&Config{ServiceName: "  "}, nil, "ServiceName")
	f(svc(Config{Endpoint: "localhost:4318"}), nil, "Endpoint", "Config.Endpoint", "http://")
	f(svc(Config{Endpoint: "ftp://host/v1/traces"}), nil, "Endpoint", "http://")
	f(svc(Config{Endpoint: "http:///v1/traces"}), nil, "Endpoint", "no host")
	f(svc(Config{Endpoint: "http://host:port:x/"}), nil, "Endpoint", "not a URL")
	f(svc(Config{}), map[string]string{"TRACEKIT_ENDPOINT": "::"}, "Endpoint", "TRACEKIT_ENDPOINT")
	f(svc(Config{}), map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "Endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT")
	f(svc(Config{SampleRate: 1.5}), nil, "SampleRate", "0..1")
	f(svc(Config{SampleRate: -0.1}), nil, "SampleRate")
	f(svc(Config{SampleRate: math.NaN()}), nil, "SampleRate")
	f(svc(Config{}), map[string]string{"OTEL_TRACES_SAMPLER_ARG": "half"}, "SampleRate", "OTEL_TRACES_SAMPLER_ARG")
	f(svc(Config{}), map[string]string{"OTEL_TRACES_SAMPLER_ARG": "2"}, "SampleRate", "OTEL_TRACES_SAMPLER_ARG")
	f(svc(Config{MaxQueueSize: -1}), nil, "MaxQueueSize")
	f(svc(Config{BatchTimeout: -1}), nil, "BatchTimeout")
	f(svc(Config{ExportTimeout: -1}), nil, "ExportTimeout")
	f(svc(Config{}), map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "team"}, "OTEL_RESOURCE_ATTRIBUTES")
	f(svc(Config{}), map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "team=%zz"}, "OTEL_RESOURCE_ATTRIBUTES")
}

func TestResource(t *testing.T) {
	setEnv(t, map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "team=core,service.name=ignored"})
	s, exp := newTestSDK(t, &Config{ServiceName: "checkout", ServiceVersion: "1.4.0", Environment: "production"})
	_, span := s.StartSpan(context.Background(), "work")
	span.End()
	sp := onlySpan(t, endedSpans(t, s, exp), "work")
	wantAttrs(t, sp.Resource.Attributes(), map[string]any{
		"service.name":                "checkout",
		"service.version":             "1.4.0",
		"deployment.environment.name": "production",
		"deployment.environment":      "production",
		"telemetry.sdk.language":      "go",
		"telemetry.sdk.name":          "opentelemetry",
		"telemetry.sdk.version":       nil,
		"telemetry.distro.name":       "tracekit",
		"team":                        "core",
	})
}
