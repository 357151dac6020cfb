# Gatehouse. Needs Go and make; `make test` also needs PostgreSQL and NATS on
# 127.0.0.1 (scripts/services.sh starts them) and fails without them, unless
# GATEHOUSE_SKIP_SERVICES=1 opts out (the tests that need them then skip).

GO         ?= go
BIN        := bin
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
LDFLAGS    := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
TEST_FLAGS ?= -race -count=1 -timeout 15m
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BIN)/staticcheck

.PHONY: all build run test services lint bench fuzz clean graphql graphql-check

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/gatehouse ./cmd/gatehouse

# The embedded default: NATS JetStream in-process, projections in memory,
# the store in ./data.
run: build
	./$(BIN)/gatehouse serve

services:
	./scripts/services.sh

test: services graphql-check
	$(GO) test $(TEST_FLAGS) ./...

# The GraphQL transport's generated code (gqlgen, the version go.mod pins
# through tools.go): `make graphql` writes graphql/generated and
# graphql/model from graphql/schema.graphql; `make graphql-check` (part of
# `make test`, so of CI) regenerates and fails when the committed code was
# not what the schema and the generator give.
GQLGEN := cd graphql && $(GO) run ./gen

graphql:
	$(GQLGEN)

graphql-check:
	@tmp=$$(mktemp -d) && cp -R graphql/generated graphql/model "$$tmp"/ && \
	($(GQLGEN)) && \
	if diff -r "$$tmp/generated" graphql/generated && diff -r "$$tmp/model" graphql/model; then rm -rf "$$tmp"; \
	else rm -rf "$$tmp"; echo "graphql: the generated code was not current (now regenerated): commit it"; exit 1; fi

lint: $(STATICCHECK)
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './$(BIN)/*' -not -path './data/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l reports:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) build ./...
	./$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The figures of issue 7: `gatehouse bench` against a fresh embedded server
# (mint at c=1 and c=32, introspect, JWKS, healthz), then the Go
# micro-benchmarks with allocations, then a summary. See scripts/bench.sh.
bench: build
	GO='$(GO)' GATEHOUSE_BIN=./$(BIN)/gatehouse ./scripts/bench.sh

# Go native fuzzing (issue 12, point 10): every Fuzz target of every
# package that has one, found with `go test -list`, each for FUZZTIME on FUZZPARALLEL
# workers. A crasher is written to the package's testdata/fuzz/<target>/,
# which `go test` then runs as a seed: keep it (git add) with the fix.
FUZZTIME     ?= 10s
FUZZPARALLEL ?= 1
fuzz:
	@set -e; for pkg in $$(grep -l '^func Fuzz' $$(find . -name '*_test.go' -not -path './data/*') | xargs -n1 dirname | sort -u); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) $$pkg; \
		done; \
	done

# Only build output: ./data holds the event log and master key of `make run`.
clean:
	rm -rf $(BIN)
