# The README's test command is `make test`; .ci/run calls exactly that.
GO ?= go

.PHONY: test vet build
test: vet
	$(GO) test -race -count=1 ./...
	cd sdk/go && $(GO) test -race -count=1 ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	cd sdk/go && $(GO) vet ./...
	cd examples/go-service && $(GO) vet ./... && $(GO) build -o /dev/null .

build:
	$(GO) build -o bin/tracekit ./cmd/tracekit
