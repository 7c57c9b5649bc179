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

test: $(STAMP) sysdeps
	$(PY) -m pytest

bench: $(STAMP)
	@for b in bench/*_bench.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
