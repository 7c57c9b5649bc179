# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs the project when needed (idempotent), then runs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.groundctl-installed
# System packages the test suite starts for real (a broker, a browser).
SYSTEM_PACKAGES := mosquitto openssl

.PHONY: demo test bench lint venv sysdeps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

sysdeps:
	@scripts/ensure-system-packages $(SYSTEM_PACKAGES)

demo: $(STAMP)
	@mkdir -p out
	$(VENV)/bin/groundctl plan configs/areas/valley_3km2.geojson --camera h20t --alt 60 --overlap 20 --drones 3 --airframe m350_h20t -o out/demo-plan.json --export qgc --preview out/demo-plan.png
	@# A simulated search of one meadow of the valley (the whole valley takes too long to fly here).
	$(VENV)/bin/groundctl sim truth -s configs/scenarios/valley_meadow_night.yaml -o out/demo-truth.geojson --area out/demo-search-area.geojson
	$(VENV)/bin/groundctl plan out/demo-search-area.geojson --camera h20t --alt 50 --overlap 20 --drones 3 --airframe mavic3t -o out/demo-search-plan.json
	@rm -f out/demo-search.sqlite out/demo-search.sqlite-wal out/demo-search.sqlite-shm
	$(VENV)/bin/groundctl fly out/demo-search-plan.json --sim 3 --scenario configs/scenarios/valley_meadow_night.yaml --speedup 5 --operation demo-search --db out/demo-search.sqlite --hits-geojson out/demo-hits.geojson --sim-found-after 30 --on-exit rtl

test: $(STAMP) sysdeps
	$(PY) -m pytest

bench: $(STAMP)
	@for b in bench/*_bench.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
