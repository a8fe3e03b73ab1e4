# mlb's build, demo and test entry points. `make demo` and `make test` are
# the two commands a fresh clone needs; both install what they use.

GO      ?= go
BIN     := bin/mlb
PYTHON  ?= /usr/bin/python3
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
EXAMPLE := examples/hotel-bookings

# The real hotel-bookings data, when the shared data folder sits beside the
# repository; the example falls back to its small synthetic CSV.
REAL_DATA := ../shared/data/hotel-bookings/train.csv
ifneq ($(wildcard $(REAL_DATA)),)
DEMO_PARAMS := -p data.train=../../$(REAL_DATA)
endif

.PHONY: all build deps demo test test-deps vet

all: build

# bin/mlb-cloud is mlb with the s3://, gs:// and azblob:// drivers, which
# mlb hands cloud remotes over to; see docs/remote-cache.md.
VERSION := $(shell git describe --always --dirty 2>/dev/null)
LDFLAGS := -X main.buildVersion=$(VERSION)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mlb
	$(GO) build -ldflags '$(LDFLAGS)' -tags mlb_cloud -o $(BIN)-cloud ./cmd/mlb

# Python with pandas and scikit-learn for the example's stages, from
# Debian's packages; skipped when the interpreter already has them.
deps:
	@$(PYTHON) -c 'import pandas, sklearn' 2>/dev/null || { \
		echo "installing python3-pandas and python3-sklearn"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends python3-pandas python3-sklearn >/dev/null; }

demo: build deps
	cd $(EXAMPLE) && ../../$(BIN) build $(DEMO_PARAMS)
	cd $(EXAMPLE) && ../../$(BIN) build $(DEMO_PARAMS)
	cd $(EXAMPLE) && ../../$(BIN) runs --limit 5

vet:
	$(GO) vet ./...
	$(GO) vet -tags mlb_cloud ./...

# versitygw and fake-gcs-server, the S3 server and Cloud Storage emulator
# the remote cache tests start on 127.0.0.1; without them those tests run
# against file:// remotes only.
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin
test-deps:
	@command -v versitygw >/dev/null || [ -x $(GOBIN_DIR)/versitygw ] || { \
		echo "installing versitygw v1.8.0 (about a minute)"; \
		$(GO) install github.com/versity/versitygw/cmd/versitygw@v1.8.0; }
	@command -v fake-gcs-server >/dev/null || [ -x $(GOBIN_DIR)/fake-gcs-server ] || { \
		echo "installing fake-gcs-server v1.56.1 (about a minute)"; \
		$(GO) install github.com/fsouza/fake-gcs-server@v1.56.1; }

# The plain build's tests, then cache/remote's tests of the cloud drivers.
# cmd/mlb's tests build mlb-cloud themselves and run it through the
# hand-over, as a user does.
test: deps test-deps vet
	$(GO) test -race -count=1 -timeout 45m ./...
	$(GO) test -race -count=1 -timeout 10m -tags mlb_cloud ./cache/remote

# Benchmarks against b3sum, md5sum, ninja, make and Snakemake; rewrites
# docs/benchmarks.md. BENCH_FLAGS=-quick runs the CI-sized version (about
# two minutes); the full run takes about ten. Install the peers first with
# make bench-deps, else the report leaves them out.
BENCH_FLAGS ?=

.PHONY: bench bench-deps

bench:
	$(GO) run ./cmd/mlbbench $(BENCH_FLAGS)

bench-deps:
	@command -v ninja >/dev/null && command -v snakemake >/dev/null && command -v b3sum >/dev/null && command -v make >/dev/null || { \
		echo "installing ninja-build, make, snakemake and b3sum"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends ninja-build make snakemake b3sum >/dev/null; }
