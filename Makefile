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

.PHONY: all build deps demo test vet

all: build

build:
	$(GO) build -o $(BIN) ./cmd/mlb

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

test: deps vet
	$(GO) test -race -count=1 -timeout 45m ./...
