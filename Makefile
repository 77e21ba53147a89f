# The README's test command is `make test`; .ci/run calls exactly that.
GO ?= go

NPM ?= npm

.PHONY: test vet build js-test
test: vet js-test
	$(GO) test -race -count=1 ./...
	cd sdk/go && $(GO) test -race -count=1 ./...

# The JavaScript SDKs and the three-service example: one npm workspace,
# installed from the committed lock file whenever it changed.
node_modules/.package-lock.json: package-lock.json package.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

js-test: node_modules/.package-lock.json
	$(NPM) test

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	cd sdk/go && $(GO) vet ./...
	cd examples/go-service && $(GO) vet ./... && $(GO) build -o /dev/null .
	cd examples/three-services/go-service && $(GO) vet ./... && $(GO) build -o /dev/null .

build:
	$(GO) build -o bin/tracekit ./cmd/tracekit
