# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs the project when needed (idempotent), then runs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.groundctl-installed
# The web map's browser libraries (Leaflet, Leaflet-Geoman), from package-lock.json.
NODE_STAMP := node_modules/.groundctl-installed
# System packages the test suite starts for real (a broker, a browser).
SYSTEM_PACKAGES := mosquitto openssl chromium

.PHONY: demo test bench lint venv sysdeps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || scripts/ensure-system-packages npm
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

venv: $(STAMP) $(NODE_STAMP)

sysdeps:
	@scripts/ensure-system-packages $(SYSTEM_PACKAGES)

demo: $(STAMP) $(NODE_STAMP)
	@mkdir -p out
	$(VENV)/bin/groundctl plan configs/areas/valley_3km2.geojson --camera h20t --alt 60 --overlap 20 --drones 3 --airframe m350_h20t -o out/demo-plan.json --export qgc --preview out/demo-plan.png
	@# A simulated search of one meadow of the valley (the whole valley takes too long to fly here).
	$(VENV)/bin/groundctl sim truth -s configs/scenarios/valley_meadow_night.yaml -o out/demo-truth.geojson --area out/demo-search-area.geojson
	$(VENV)/bin/groundctl plan out/demo-search-area.geojson --camera h20t --alt 50 --overlap 20 --drones 3 --airframe mavic3t -o out/demo-search-plan.json
	@rm -f out/demo-search.sqlite out/demo-search.sqlite-wal out/demo-search.sqlite-shm
	@# The coordinator's map of the same operation database, served beside the search.
	@$(VENV)/bin/groundctl serve --db out/demo-search.sqlite --bind 127.0.0.1:0 > out/demo-serve.log 2>&1 & serve=$$!; \
	for i in $$(seq 100); do grep -q "groundctl map:" out/demo-serve.log && break; sleep 0.1; done; \
	echo "== the coordinator's map of this search: $$(grep -o 'http://[^ ]*' out/demo-serve.log || echo 'not started, see out/demo-serve.log')"; \
	$(VENV)/bin/groundctl fly out/demo-search-plan.json --sim 3 --scenario configs/scenarios/valley_meadow_night.yaml --speedup 5 --operation demo-search --db out/demo-search.sqlite --hits-geojson out/demo-hits.geojson --sim-found-after 30 --on-exit rtl; \
	status=$$?; kill -INT $$serve 2>/dev/null; wait $$serve; exit $$status

test: $(STAMP) $(NODE_STAMP) sysdeps
	$(PY) -m pytest

bench: $(STAMP) $(NODE_STAMP) sysdeps
	@for b in bench/*_bench.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) out node_modules .pytest_cache .ruff_cache .hypothesis tests/artifacts
