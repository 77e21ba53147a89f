package pebble

import (
	"strings"
	"testing"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

func TestLeafRankFollowsLeafAttributes(t *testing.T) {
	for i, c := range leafAttributes {
		if got := leafRank(c.key); got != i {
			t.Errorf("leafRank(%q) = %d, want %d", c.key, got, i)
		}
	}
	if got := leafRank("http.route"); got != len(leafAttributes) {
		t.Errorf("leafRank of another key = %d, want %d", got, len(leafAttributes))
	}
}

func TestLeafOf(t *testing.T) {
	str := func(k, v string) telemetry.Attribute {
		return telemetry.Attribute{Key: k, Value: telemetry.StringValue(v)}
	}
	for _, tc := range []struct {
		name  string
		kind  telemetry.SpanKind
		attrs []telemetry.Attribute
		want  store.NodeKind
		leaf  string
	}{
		{"database before address", telemetry.KindClient, []telemetry.Attribute{str("server.address", "db.internal"), str("db.system.name", "postgresql")}, store.NodeDatabase, "postgresql"},
		{"newer key before older", telemetry.KindClient, []telemetry.Attribute{str("db.system", "mysql"), str("db.system.name", "postgresql")}, store.NodeDatabase, "postgresql"},
		{"messaging", telemetry.KindProducer, []telemetry.Attribute{str("messaging.system", "kafka"), str("net.peer.name", "broker")}, store.NodeMessaging, "kafka"},
		{"empty value falls through", telemetry.KindClient, []telemetry.Attribute{str("db.system.name", ""), str("peer.service", "billing")}, store.NodeExternal, "billing"},
		{"too long falls through", telemetry.KindClient, []telemetry.Attribute{str("peer.service", strings.Repeat("x", 256)), str("net.peer.name", "api.example")}, store.NodeExternal, "api.example"},
		{"first of a repeated key counts", telemetry.KindClient, []telemetry.Attribute{str("server.address", ""), str("server.address", "later")}, "", ""},
		{"an int value", telemetry.KindClient, []telemetry.Attribute{{Key: "server.address", Value: telemetry.IntValue(7)}}, store.NodeExternal, "7"},
		{"server span", telemetry.KindServer, []telemetry.Attribute{str("db.system.name", "postgresql")}, "", ""},
		{"no leaf attribute", telemetry.KindClient, []telemetry.Attribute{str("http.route", "/x")}, "", ""},
	} {
		sp := &telemetry.Span{Kind: tc.kind, Attributes: tc.attrs}
		if kind, leaf := leafOf(sp); kind != tc.want || leaf != tc.leaf {
			t.Errorf("%s: leafOf = %q %q, want %q %q", tc.name, kind, leaf, tc.want, tc.leaf)
		}
	}
}
