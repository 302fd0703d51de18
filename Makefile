# jurismon: make help lists the targets.
GO        ?= go
BIN       ?= bin
FUZZTIME  ?= 30s
# Minimising each new input costs up to 60s by default, which left a slow
# target (FuzzOpenDatabase) almost no time to fuzz: a few calls are enough.
FUZZMINIMIZE ?= 20x
BENCHTIME ?= 1s
COUNT     ?= 6
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -s -w \
	-X github.com/prometheus/common/version.Version=$(VERSION) \
	-X github.com/prometheus/common/version.Revision=$(REVISION) \
	-X github.com/prometheus/common/version.Branch=$(shell git rev-parse --abbrev-ref HEAD 2>/dev/null) \
	-X github.com/prometheus/common/version.BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

# Fuzz targets as package:function.
FUZZ := ./geo:FuzzLookupEmbedded ./capture:FuzzDecode ./capture/pcapfile:FuzzReadPcap ./capture/pcapfile:FuzzReadPcapNg \
	./capture:FuzzCompileFilter ./policy:FuzzParse ./geo:FuzzOpenDatabase \
	./probe:FuzzParseReply ./probe:FuzzPathsHandler ./events:FuzzHandlerQuery \
	./dns:FuzzMessage ./workload:FuzzParseCgroup ./probe:FuzzOwned \
	./tunnel:FuzzClassifier ./tunnel:FuzzParseProviders ./macvendor:FuzzParse \
	./capture:FuzzCut ./collect:FuzzDecode

.PHONY: help build test lint bench bench-analyze bench-live bench-collect soak fuzz generate check-peers clean

help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## Build a static jurismon binary (no cgo) into bin/.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/jurismon ./cmd/jurismon

test: lint ## Lint, then every test with the race detector (as root, the namespace tests run too).
	$(GO) test -race -count=1 ./...
	cd deploy && $(GO) test -count=1 ./...

lint: ## gofmt, go vet and staticcheck, in both modules.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	staticcheck ./...
	cd deploy && $(GO) vet ./... && staticcheck ./...

bench: ## Benchmarks of the packet path (COUNT runs each, for benchstat).
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(COUNT) ./capture ./flow ./geo ./policy ./dns

bench-analyze: ## Time analyze against tcpdump on a generated 1 GB pcap, one core.
	scripts/bench-analyze.sh

bench-collect: ## Flow records per second on one core, allocations, drops over UDP; then jurismon collect and nfacctd on one stream.
	$(GO) test -run '^$$' -bench 'Decode|Collect|UDP' -benchmem -cpu 1 -benchtime $(BENCHTIME) -count $(COUNT) ./collect
	scripts/bench-collect.sh

bench-live: ## Live capture CPU and drops against tcpdump and pmacctd on a veth pair (root).
	scripts/bench-live.sh

soak: ## The real agent under floods, flaps, bad files and signals in namespaces; prints a table (root; SOAK_SHORT=1 for CI).
	scripts/soak.sh

fuzz: ## Run every fuzz target for FUZZTIME.
	@for t in $(FUZZ); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$fn ($$pkg)"; $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) \
		-fuzzminimizetime $(FUZZMINIMIZE) $$pkg || exit 1; done

generate: ## Regenerate every generated file: fixtures, test databases, the country table; BUILTIN=1 also the built-in database (needs npm).
	$(GO) generate ./capture/... ./geo/
	scripts/gen-countries.sh
ifeq ($(BUILTIN),1)
	$(GO) generate ./geo/builtin
endif

check-peers: ## Compare totals with tshark and pmacctd: make check-peers DB=dir CAPTURES="a.pcap b.pcap".
	scripts/check-peers.sh $(DB) $(CAPTURES)

clean: ## Remove build output.
	rm -rf $(BIN)
