# drswatch: build, demo and tests. `make demo` and `make test` are the two
# commands a newcomer runs; everything they need is installed here.
GO      ?= go
BIN     := bin/drswatch
DEV     := bin/drswatch-dev
NPM_OK  := node_modules/.package-lock.json
FUZZTIME ?= 5s
# Beside every checkout (read-only): references, the Bicep type checker, fixtures.
SHARED  ?= ../shared
BICEPCHECK := $(SHARED)/tools/bicepcheck

.PHONY: all build dev demo test test-go bicep-check fuzz bench soak package tools clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/drswatch

# The developer command (gen, bench): never part of the package.
dev: build
	$(GO) build -o $(DEV) ./internal/cmd/drswatch-dev

# Replays the bundled sample (one phishing session among ordinary traffic)
# with the embedded in-memory store and prints its alert.
demo: build
	./$(BIN) replay testdata/demo.ndjson

$(NPM_OK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

tools: $(NPM_OK)

# Everything: vet, the Bicep type check, unit and Azurite-backed tests (race
# detector on), the Bicep syntax check, and a few seconds of each fuzz target.
# Azurite is started by the tests themselves (internal/testenv) on a free
# loopback port, in memory, and stopped when they end.
test: tools
	$(GO) vet ./...
	$(MAKE) --no-print-directory bicep-check
	$(GO) test -race -count=1 -timeout 20m ./...
	node scripts/bicep-syntax.js infra/bicep
	scripts/fuzz.sh $(FUZZTIME)

# The templates against Azure's generated type definitions, the Bicep
# compiler's loop rules and the Flex Consumption rules (../shared/tools/bicepcheck,
# see its README), the parameters file against the params, and the checker's
# own self-test. Findings the docs prove wrong are in infra/bicep/bicepcheck-allow.txt,
# each with its reason; any other ERROR or WARNING fails. Without ../shared
# it is skipped with a message, except under CI=true, where that fails.
bicep-check:
	@if [ ! -f "$(BICEPCHECK)/bicepcheck.py" ]; then \
	  if [ "$$CI" = true ]; then echo "bicep-check: $(BICEPCHECK) is missing (CI=true: failing)" >&2; exit 1; fi; \
	  echo "bicep-check: SKIPPED: $(BICEPCHECK) not found; the Bicep type check needs ../shared (it fails under CI=true)"; exit 0; \
	fi; \
	set -e; \
	python3 $(BICEPCHECK)/bicepcheck.py --fail-on warning --base infra/bicep --allow infra/bicep/bicepcheck-allow.txt \
	  infra/bicep/main.bicep infra/bicep/tenant.bicep; \
	python3 $(BICEPCHECK)/checkparams.py infra/bicep/main.bicep infra/bicep/main.parameters.json; \
	$(BICEPCHECK)/run_tests.sh

# Runs every Fuzz target for FUZZTIME each (make fuzz FUZZTIME=5m for a long run).
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

bench: tools dev
	./$(DEV) bench -bin $(BIN)

soak: tools
	$(GO) test -count=1 -run 'TestSoak' -timeout 30m -v ./e2e -args -soak

# dist/drswatch.zip for deployment. GEOIP_CITY_DB and GEOIP_ASN_DB name your
# own MMDB files (GeoLite2/GeoIP2 City and ASN, or DB-IP's; we do not ship
# them): they are copied into dist/app/geoip/ under their own names, and the
# Bicep parameters geoipCityDb/geoipAsnDb take the paths printed here.
GEOIP_CITY_DB ?=
GEOIP_ASN_DB  ?=
package:
	@set -e; for db in $(GEOIP_CITY_DB) $(GEOIP_ASN_DB); do \
	  [ -f "$$db" ] || { echo "make package: GeoIP database $$db: no such file" >&2; exit 1; }; \
	  LC_ALL=C grep -q 'MaxMind\.com' "$$db" || { echo "make package: $$db is not a MaxMind DB (MMDB) file" >&2; exit 1; }; \
	done; \
	if [ -n "$(GEOIP_CITY_DB)" ] && [ -n "$(GEOIP_ASN_DB)" ] && \
	   [ "$$(basename "$(GEOIP_CITY_DB)")" = "$$(basename "$(GEOIP_ASN_DB)")" ]; then \
	  echo "make package: GEOIP_CITY_DB and GEOIP_ASN_DB have the same file name" >&2; exit 1; fi
	rm -rf dist && mkdir -p dist/app
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags='-s -w' -o dist/app/drswatch ./cmd/drswatch
	cp host.json dist/app/
	cp -r SignInLogs Sweep dist/app/
	chmod 0755 dist/app/drswatch
	@set -e; for kv in "geoipCityDb=$(GEOIP_CITY_DB)" "geoipAsnDb=$(GEOIP_ASN_DB)"; do \
	  db=$${kv#*=}; [ -n "$$db" ] || continue; \
	  mkdir -p dist/app/geoip; cp "$$db" dist/app/geoip/; chmod 0644 "dist/app/geoip/$$(basename "$$db")"; \
	  echo "packaged geoip/$$(basename "$$db"): deploy with $${kv%%=*}=geoip/$$(basename "$$db")"; \
	done
	$(GO) run ./internal/mkzip dist/app dist/drswatch.zip
	@echo dist/drswatch.zip

clean:
	rm -rf bin dist
