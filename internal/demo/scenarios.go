package demo

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

const ms = time.Millisecond

const (
	server   = ptrace.SpanKindServer
	client   = ptrace.SpanKindClient
	internal = ptrace.SpanKindInternal
	producer = ptrace.SpanKindProducer
	consumer = ptrace.SpanKindConsumer
)

// shop is the cast of the demo: a web shop of eight services in four
// languages, as the guide's multi-service example grows in practice.
type shop struct {
	web, gateway, users, orders, payments, inventory, notify, search service
}

func newShop() *shop {
	return &shop{
		web:       service{"web-frontend", "2.14.0", "webjs", "", "@opentelemetry/instrumentation-fetch", "0.203.0"},
		gateway:   service{"api-gateway", "4.8.1", "nodejs", "api-gateway-7d9f8b6c4-x2kqp", "@opentelemetry/instrumentation-http", "0.203.0"},
		users:     service{"user-service", "1.22.3", "go", "user-service-5c6d7f9b8-qm4zt", "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.63.0"},
		orders:    service{"order-service", "3.2.0", "java", "order-service-6f8d9c7b5-hz2lw", "io.opentelemetry.spring-webmvc-6.0", "2.20.1-alpha"},
		payments:  service{"payment-service", "0.9.12", "go", "payment-service-84b5f6d7c-9tqvr", "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.63.0"},
		inventory: service{"inventory-service", "5.0.4", "python", "inventory-service-7b9c8d6f5-kx7mp", "opentelemetry.instrumentation.grpc", "0.58b0"},
		notify:    service{"notification-service", "1.4.0", "nodejs", "notification-service-59d7c8b6f-r4nls", "@opentelemetry/instrumentation-kafkajs", "0.14.0"},
		search:    service{"search-service", "2.3.1", "python", "search-service-6c5b7d8f9-w2jxq", "opentelemetry.instrumentation.flask", "0.58b0"},
	}
}

// visitor is who a trace's request comes from.
type visitor struct {
	user, tenant, agent, ip string
}

func newVisitor(rng *rand.Rand) visitor {
	return visitor{
		user:   fmt.Sprintf("usr_%06d", rng.IntN(1_000_000)),
		tenant: pick(rng, "acme", "globex", "initech", "umbrella", "hooli"),
		agent: pick(rng,
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
		ip: fmt.Sprintf("203.0.113.%d", 1+rng.IntN(254)),
	}
}

// scenario writes one trace into b.
type scenario func(b *builder, s *shop)

// pickScenario draws the next trace's scenario with the demo's traffic mix.
func pickScenario(rng *rand.Rand) scenario {
	switch p := rng.Float64(); {
	case p < 0.35:
		return listUsers
	case p < 0.65:
		return checkout
	case p < 0.85:
		return search
	}
	return healthCheck
}

func serverAttrs(method, route, path string, v visitor, extra ...attr) []attr {
	return append([]attr{
		{"http.request.method", method}, {"http.route", route}, {"url.path", path}, {"url.scheme", "http"},
		{"client.address", v.ip}, {"network.protocol.version", "1.1"},
	}, extra...)
}

func clientAttrs(method, url, host string, port int) []attr {
	return []attr{
		{"http.request.method", method}, {"url.full", url}, {"server.address", host}, {"server.port", port},
	}
}

// httpEnd ends span i with an HTTP status, failing it when the status is
// an error for its side: 5xx for servers, 4xx and 5xx for clients.
func httpEnd(b *builder, i, status int) {
	b.end(i, attr{"http.response.status_code", status})
	kind := b.tr.spans[i].kind
	if status >= 500 || (status >= 400 && kind == client) {
		b.fail(i, "")
	}
}

// listUsers is the guide's flow: a click in the browser fetches
// /api/users through the Node.js gateway from the Go user service, which
// queries PostgreSQL.
func listUsers(b *builder, s *shop) {
	v := newVisitor(b.rng)
	page := 1 + b.rng.IntN(5)
	root := b.begin(-1, &s.web, "click Load Users", internal,
		attr{"event_type", "click"}, attr{"target_element", "BUTTON"},
		attr{"target_xpath", `//*[@id="load-users"]`}, attr{"user.id", v.user})
	b.scope(root, "@opentelemetry/instrumentation-user-interaction")
	b.wait(4 * ms)
	fetch := b.begin(root, &s.web, "fetch /api/users", client,
		append(clientAttrs("GET", fmt.Sprintf("https://shop.example.com/api/users?page=%d", page), "shop.example.com", 443),
			attr{"user_agent.original", v.agent})...)
	b.wait(14 * ms)
	gw := b.begin(fetch, &s.gateway, "GET /api/users", server,
		serverAttrs("GET", "/api/users", "/api/users", v, attr{"url.query", fmt.Sprintf("page=%d", page)},
			attr{"user_agent.original", v.agent}, attr{"user.id", v.user}, attr{"tenant.id", v.tenant})...)
	b.wait(2 * ms)
	auth := b.begin(gw, &s.gateway, "validate-auth", internal,
		attr{"auth.scheme", "bearer"}, attr{"user.id", v.user}, attr{"tenant.id", v.tenant})
	b.wait(38 * ms)
	b.end(auth)
	b.wait(2 * ms)
	call := b.begin(gw, &s.gateway, "GET", client,
		clientAttrs("GET", fmt.Sprintf("http://user-service:8080/users?tenant=%s&page=%d", v.tenant, page), "user-service", 8080)...)
	b.wait(2 * ms)
	us := b.begin(call, &s.users, "GET /users", server,
		serverAttrs("GET", "/users", "/users", v, attr{"server.address", "user-service"}, attr{"tenant.id", v.tenant})...)
	b.wait(5 * ms)
	q := b.begin(us, &s.users, "db.Query", client,
		attr{"db.system.name", "postgresql"}, attr{"db.namespace", "users"},
		attr{"db.operation.name", "SELECT"}, attr{"db.collection.name", "users"},
		attr{"db.query.text", "SELECT id, name, email, role FROM users WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 50 OFFSET $2"},
		attr{"server.address", "postgres-primary.db.svc"}, attr{"server.port", 5432})
	b.scope(q, "github.com/XSAM/otelsql")
	status, upstream := 200, 200
	if b.chance(0.06) {
		status, upstream = 500, 502
		b.now += int64(2 * time.Second) // the statement timeout
		b.exception(q, "*pgconn.PgError", "ERROR: canceling statement due to statement timeout (SQLSTATE 57014)", goStack)
		b.end(q)
	} else {
		b.wait(170 * ms)
		b.end(q, attr{"db.response.returned_rows", 1 + b.rng.IntN(50)})
	}
	b.wait(3 * ms)
	httpEnd(b, us, status)
	b.wait(2 * ms)
	httpEnd(b, call, status)
	b.wait(3 * ms)
	httpEnd(b, gw, upstream)
	b.wait(16 * ms)
	httpEnd(b, fetch, upstream)
	b.wait(30 * ms)
	b.end(root)
}

// checkout is an order through four services: stock is reserved over gRPC
// with a Redis cache in front of PostgreSQL, the card is charged (and
// sometimes the payment provider fails, which travels up as 502s), and a
// Kafka message makes the notification service send the confirmation.
func checkout(b *builder, s *shop) {
	v := newVisitor(b.rng)
	order := fmt.Sprintf("ord_%08x", b.rng.Uint32())
	sku := fmt.Sprintf("sku-%04d", b.rng.IntN(10_000))
	items := 1 + b.rng.IntN(5)
	total := float64(500+b.rng.IntN(30_000)) / 100
	gw := b.begin(-1, &s.gateway, "POST /api/checkout", server,
		serverAttrs("POST", "/api/checkout", "/api/checkout", v, attr{"user_agent.original", v.agent},
			attr{"user.id", v.user}, attr{"tenant.id", v.tenant}, attr{"order.id", order})...)
	b.wait(1 * ms)
	auth := b.begin(gw, &s.gateway, "validate-auth", internal, attr{"auth.scheme", "bearer"}, attr{"user.id", v.user})
	b.wait(4 * ms)
	b.end(auth)
	b.wait(1 * ms)
	call := b.begin(gw, &s.gateway, "POST", client, clientAttrs("POST", "http://order-service:8080/orders", "order-service", 8080)...)
	b.wait(2 * ms)
	ord := b.begin(call, &s.orders, "POST /orders", server,
		serverAttrs("POST", "/orders", "/orders", v, attr{"order.id", order}, attr{"user.id", v.user},
			attr{"tenant.id", v.tenant}, attr{"cart.items", items}, attr{"order.total", total}, attr{"order.currency", "EUR"})...)
	b.wait(3 * ms)
	reserveStock(b, s, ord, sku, items)
	b.wait(2 * ms)

	ok := chargeCard(b, s, ord, order, total)
	status := 502
	if ok {
		status = 201
		b.wait(2 * ms)
		ins := b.begin(ord, &s.orders, "INSERT orders", client,
			attr{"db.system.name", "postgresql"}, attr{"db.namespace", "orders"}, attr{"db.operation.name", "INSERT"},
			attr{"db.collection.name", "orders"},
			attr{"db.query.text", "insert into orders (id, user_id, tenant_id, total, currency, status) values (?, ?, ?, ?, ?, ?)"},
			attr{"server.address", "postgres-primary.db.svc"}, attr{"server.port", 5432})
		b.scope(ins, "io.opentelemetry.jdbc")
		b.wait(6 * ms)
		b.end(ins)
		b.wait(1 * ms)
		publishOrderPlaced(b, s, ord, order, v)
	} else {
		b.exception(ord, "org.springframework.web.client.HttpServerErrorException$BadGateway",
			`502 Bad Gateway: "{"error":"payment provider unavailable"}"`, javaStack)
	}
	b.wait(2 * ms)
	httpEnd(b, ord, status)
	b.wait(2 * ms)
	httpEnd(b, call, status)
	b.wait(1 * ms)
	httpEnd(b, gw, status)
}

func reserveStock(b *builder, s *shop, parent int, sku string, items int) {
	rpc := []attr{
		{"rpc.system", "grpc"}, {"rpc.service", "inventory.v1.InventoryService"}, {"rpc.method", "Reserve"},
		{"server.address", "inventory-service"}, {"server.port", 50051},
	}
	call := b.begin(parent, &s.orders, "inventory.v1.InventoryService/Reserve", client, rpc...)
	b.scope(call, "io.opentelemetry.grpc-1.6")
	b.wait(2 * ms)
	srv := b.begin(call, &s.inventory, "inventory.v1.InventoryService/Reserve", server, rpc...)
	b.wait(500 * time.Microsecond)
	hit := b.chance(0.7)
	get := b.begin(srv, &s.inventory, "GET", client,
		attr{"db.system.name", "redis"}, attr{"db.operation.name", "GET"}, attr{"db.query.text", "GET stock:" + sku},
		attr{"db.namespace", "0"}, attr{"server.address", "redis-cache.db.svc"}, attr{"server.port", 6379}, attr{"cache.hit", hit})
	b.scope(get, "opentelemetry.instrumentation.redis")
	b.wait(600 * time.Microsecond)
	b.end(get)
	pg := []attr{{"db.system.name", "postgresql"}, {"db.namespace", "inventory"}, {"db.collection.name", "stock"},
		{"server.address", "postgres-primary.db.svc"}, {"server.port", 5432}}
	if !hit {
		b.wait(300 * time.Microsecond)
		sel := b.begin(srv, &s.inventory, "SELECT stock", client, append(pg,
			attr{"db.operation.name", "SELECT"}, attr{"db.query.text", "SELECT available, reserved FROM stock WHERE sku = %s"})...)
		b.scope(sel, "opentelemetry.instrumentation.psycopg")
		b.wait(9 * ms)
		b.end(sel)
	}
	b.wait(300 * time.Microsecond)
	upd := b.begin(srv, &s.inventory, "UPDATE stock", client, append(pg,
		attr{"db.operation.name", "UPDATE"},
		attr{"db.query.text", "UPDATE stock SET reserved = reserved + %s WHERE sku = %s AND available - reserved >= %s"})...)
	b.scope(upd, "opentelemetry.instrumentation.psycopg")
	b.wait(7 * ms)
	b.end(upd, attr{"db.response.returned_rows", 1})
	b.wait(1 * ms)
	b.end(srv, attr{"rpc.grpc.status_code", 0}, attr{"inventory.items", items})
	b.wait(1 * ms)
	b.end(call, attr{"rpc.grpc.status_code", 0})
}

// chargeCard charges through the payment service and reports whether the
// payment provider answered.
func chargeCard(b *builder, s *shop, parent int, order string, total float64) bool {
	call := b.begin(parent, &s.orders, "POST", client, clientAttrs("POST", "http://payment-service:8080/v1/charges", "payment-service", 8080)...)
	b.scope(call, "io.opentelemetry.spring-webclient-5.3")
	b.wait(2 * ms)
	srv := b.begin(call, &s.payments, "POST /v1/charges", server,
		serverAttrs("POST", "/v1/charges", "/v1/charges", visitor{ip: "10.42.3.17"}, attr{"order.id", order})...)
	b.wait(1 * ms)
	charge := b.begin(srv, &s.payments, "charge", internal,
		attr{"order.id", order}, attr{"payment.provider", "stripe"}, attr{"payment.method", "card"},
		attr{"payment.amount", total}, attr{"payment.currency", "EUR"})
	b.wait(1 * ms)
	api := b.begin(charge, &s.payments, "POST", client,
		clientAttrs("POST", "https://api.stripe.com/v1/payment_intents", "api.stripe.com", 443)...)
	failed := b.chance(0.22)
	status := 200
	if failed {
		status = 502
		b.wait(1800 * ms)
	} else {
		b.wait(320 * ms)
	}
	httpEnd(b, api, status)
	b.wait(1 * ms)
	if failed {
		b.exception(charge, "*payments.ProviderError",
			"stripe: POST /v1/payment_intents: 502 Bad Gateway after 1 attempt", goStack)
	}
	b.end(charge)
	b.wait(1 * ms)
	httpEnd(b, srv, status)
	b.wait(2 * ms)
	httpEnd(b, call, status)
	return !failed
}

// publishOrderPlaced sends order.placed to Kafka and, a moment later, has
// the notification service consume it: the consumer span is the producer's
// child and links to it, as messaging instrumentations record it.
func publishOrderPlaced(b *builder, s *shop, parent int, order string, v visitor) {
	partition := b.rng.IntN(6)
	msg := []attr{
		{"messaging.system", "kafka"}, {"messaging.destination.name", "order.placed"},
		{"messaging.destination.partition.id", fmt.Sprint(partition)}, {"messaging.kafka.message.key", order},
		{"server.address", "kafka-0.kafka.svc"}, {"server.port", 9092},
	}
	send := b.begin(parent, &s.orders, "send order.placed", producer,
		append(msg, attr{"messaging.operation.type", "send"}, attr{"messaging.operation.name", "send"})...)
	b.scope(send, "io.opentelemetry.kafka-clients-2.6")
	sent := b.now
	b.wait(3 * ms)
	b.end(send)
	resume := b.now

	b.now = sent + int64(b.jitter(25*ms)) // delivery runs on its own clock
	proc := b.begin(send, &s.notify, "process order.placed", consumer,
		append(msg, attr{"messaging.operation.type", "process"}, attr{"messaging.operation.name", "process"},
			attr{"messaging.consumer.group.name", "notification-service"},
			attr{"messaging.kafka.offset", int64(100_000 + b.rng.IntN(900_000))}, attr{"order.id", order}, attr{"user.id", v.user})...)
	b.tr.spans[proc].link = send
	b.wait(4 * ms)
	mail := b.begin(proc, &s.notify, "POST", client, clientAttrs("POST", "https://api.sendgrid.com/v3/mail/send", "api.sendgrid.com", 443)...)
	b.scope(mail, "@opentelemetry/instrumentation-undici")
	b.wait(110 * ms)
	httpEnd(b, mail, 202)
	b.wait(2 * ms)
	b.end(proc)
	b.now = resume
}

// search is a product search through the Python search service: usually a
// cache miss and an Elasticsearch query of tens of milliseconds, now and
// then a multi-second outlier, rarely a timeout.
func search(b *builder, s *shop) {
	v := newVisitor(b.rng)
	term := pick(b.rng, "running shoes", "usb-c hub", "espresso machine", "rain jacket", "mechanical keyboard", "yoga mat")
	q := "q=" + url.QueryEscape(term)
	fetch := b.begin(-1, &s.web, "fetch /api/search", client,
		append(clientAttrs("GET", "https://shop.example.com/api/search?"+q, "shop.example.com", 443),
			attr{"user_agent.original", v.agent})...)
	b.wait(12 * ms)
	gw := b.begin(fetch, &s.gateway, "GET /api/search", server,
		serverAttrs("GET", "/api/search", "/api/search", v, attr{"url.query", q}, attr{"user.id", v.user}, attr{"tenant.id", v.tenant})...)
	b.wait(2 * ms)
	call := b.begin(gw, &s.gateway, "GET", client, clientAttrs("GET", "http://search-service:5000/search?"+q, "search-service", 5000)...)
	b.wait(2 * ms)
	srv := b.begin(call, &s.search, "GET /search", server, serverAttrs("GET", "/search", "/search", v, attr{"tenant.id", v.tenant})...)
	b.wait(1 * ms)
	key := "search:" + v.tenant + ":" + url.QueryEscape(term)
	hit := b.chance(0.25)
	get := b.begin(srv, &s.search, "GET", client,
		attr{"db.system.name", "redis"}, attr{"db.operation.name", "GET"}, attr{"db.query.text", "GET " + key},
		attr{"server.address", "redis-cache.db.svc"}, attr{"server.port", 6379}, attr{"cache.hit", hit})
	b.scope(get, "opentelemetry.instrumentation.redis")
	b.wait(700 * time.Microsecond)
	b.end(get)
	status := 200
	if !hit {
		b.wait(1 * ms)
		es := b.begin(srv, &s.search, "search products", client,
			attr{"db.system.name", "elasticsearch"}, attr{"db.operation.name", "search"}, attr{"db.collection.name", "products"},
			attr{"db.query.text", fmt.Sprintf(`{"query":{"multi_match":{"query":%q,"fields":["title^3","description"]}},"size":24}`, term)},
			attr{"http.request.method", "POST"}, attr{"url.full", "http://es-0.search.svc:9200/products/_search"},
			attr{"server.address", "es-0.search.svc"}, attr{"server.port", 9200})
		b.scope(es, "opentelemetry.instrumentation.elasticsearch")
		switch p := b.rng.Float64(); {
		case p < 0.06:
			status = 504
			b.now += int64(5 * time.Second)
			b.exception(es, "elasticsearch.exceptions.ConnectionTimeout",
				"ConnectionTimeout caused by - ReadTimeoutError(HTTPConnectionPool(host='es-0.search.svc', port=9200): Read timed out. (read timeout=5))",
				pythonStack)
		case p < 0.14:
			b.wait(time.Duration(2+b.rng.IntN(4)) * time.Second) // a slow query: the outliers
		default:
			b.wait(45 * ms)
		}
		b.end(es)
		if status == 200 {
			b.wait(1 * ms)
			rank := b.begin(srv, &s.search, "rank results", internal, attr{"search.results", 24}, attr{"search.term", term})
			b.wait(8 * ms)
			b.end(rank)
			set := b.begin(srv, &s.search, "SETEX", client,
				attr{"db.system.name", "redis"}, attr{"db.operation.name", "SETEX"}, attr{"db.query.text", "SETEX " + key + " 300 ?"},
				attr{"server.address", "redis-cache.db.svc"}, attr{"server.port", 6379})
			b.scope(set, "opentelemetry.instrumentation.redis")
			b.wait(600 * time.Microsecond)
			b.end(set)
		}
	}
	b.wait(2 * ms)
	httpEnd(b, srv, status)
	b.wait(1 * ms)
	httpEnd(b, call, status)
	b.wait(1 * ms)
	httpEnd(b, gw, status)
	b.wait(12 * ms)
	httpEnd(b, fetch, status)
}

// healthCheck is a Kubernetes probe: one server span.
func healthCheck(b *builder, s *shop) {
	svc := pick(b.rng, &s.gateway, &s.users, &s.orders, &s.payments, &s.inventory, &s.search)
	route := map[string]string{"java": "/actuator/health", "python": "/health"}[svc.language]
	if route == "" {
		route = "/healthz"
	}
	i := b.begin(-1, svc, "GET "+route, server,
		serverAttrs("GET", route, route, visitor{ip: "10.42.0.1"}, attr{"user_agent.original", "kube-probe/1.31"})...)
	b.wait(800 * time.Microsecond)
	httpEnd(b, i, 200)
}

const goStack = `goroutine 4127 [running]:
runtime/debug.Stack()
	/usr/local/go/src/runtime/debug/stack.go:26 +0x5e
go.opentelemetry.io/otel/sdk/trace.recordStackTrace()
	/go/pkg/mod/go.opentelemetry.io/otel/sdk@v1.38.0/trace/span.go:568 +0x1f
main.(*handler).serve(0xc0001a2b40, {0x1a3f2c8, 0xc000512e10}, 0xc000498a00)
	/src/internal/api/handler.go:88 +0x2f4
net/http.HandlerFunc.ServeHTTP(0xc000132000, {0x1a3e5f0, 0xc0004a61c0}, 0xc000498a00)
	/usr/local/go/src/net/http/server.go:2294 +0x29`

const javaStack = `org.springframework.web.client.HttpServerErrorException$BadGateway: 502 Bad Gateway
	at org.springframework.web.client.HttpServerErrorException.create(HttpServerErrorException.java:108)
	at org.springframework.web.client.DefaultResponseErrorHandler.handleError(DefaultResponseErrorHandler.java:183)
	at com.example.orders.payment.PaymentClient.charge(PaymentClient.java:57)
	at com.example.orders.checkout.CheckoutService.placeOrder(CheckoutService.java:92)
	at com.example.orders.api.OrderController.create(OrderController.java:41)`

const pythonStack = `Traceback (most recent call last):
  File "/app/search/service.py", line 74, in search_products
    resp = es.search(index="products", body=query, request_timeout=5)
  File "/usr/local/lib/python3.12/site-packages/elasticsearch/client/__init__.py", line 1548, in search
    return self.transport.perform_request("POST", _make_path(index, "_search"), params=params, body=body)
  File "/usr/local/lib/python3.12/site-packages/elasticsearch/connection/http_urllib3.py", line 252, in perform_request
    raise ConnectionTimeout("TIMEOUT", str(e), e)
elasticsearch.exceptions.ConnectionTimeout: ConnectionTimeout caused by - ReadTimeoutError(HTTPConnectionPool(host='es-0.search.svc', port=9200): Read timed out. (read timeout=5))`
