# sagemaker-beam-scoring -- `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE := data/sample/part-00000.parquet
SAMPLE_ROWS ?= 100000
DATE   ?= $(shell date -u +%F)
# The tested range of apache-beam (setup.py): the newest that PyPI serves here runs everything (.venv, Prism,
# the benchmarks); the Flink tests run on the newest whose Flink job server and KafkaIO expansion service
# Maven serves here (.venv-flink, java/*/pom.xml).
BEAM_VERSION := 2.77.0
FLINK_BEAM_VERSION := 2.62.0
FLINK_VENV := .venv-flink
FLINK_STAMP := $(FLINK_VENV)/.installed
AIRFLOW_VERSION := 3.3.2
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
AIRFLOW_ENV := AIRFLOW_HOME=$(CURDIR)/.airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False SMSCORE_BIN=$(CURDIR)/$(BIN)/smscore
JARS   := .jars
KAFKA_JARS := $(JARS)/kafka-broker/.fetched
KAFKA_IO_JAR := $(JARS)/kafka-expansion-service.jar
FLINK_JARS := $(JARS)/flink-job-server/.fetched
FLINK_JAR := $(JARS)/flink-job-server.jar
PRISM  := .tools/bin/prism
PRISM_STAMP := .tools/bin/.prism-$(BEAM_VERSION)
JS_SDK := tests/js/node_modules/.installed
MVN    := mvn -q -B
# The package registries here drop connections mid-download now and then: pip resumes a download many times,
# and each command that fetches gets three tries before the build fails.
export PIP_RETRIES := 10
export PIP_RESUME_RETRIES := 20
export PIP_DEFAULT_TIMEOUT := 60
RETRY = retry() { for attempt in 1 2 3; do "$$@" && return 0; [ $$attempt = 3 ] && return 1; \
	echo "make: a download failed (attempt $$attempt of 3), trying again in 15 s" >&2; sleep 15; done; }; retry

.DEFAULT_GOAL := help
.PHONY: help setup run test test-unit lint endpoint validate clean kafka-jars kafka-io-jar kafka-up kafka-down prism flink-jars run-flink bench chaos js-sdk airflow

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(RETRY) $(BIN)/pip install --quiet --upgrade pip
	$(RETRY) $(BIN)/pip install --quiet -e ".[dev,local]" "apache-beam[gcp,aws]==$(BEAM_VERSION)"
	touch $@

setup: $(STAMP) ## create .venv and install the package with its dev tools (the newest apache-beam of the tested range)

# The oldest end of the range, for the Flink tests (and the unit tests, so both ends are tested).
$(FLINK_STAMP): setup.py
	$(PYTHON) -m venv $(FLINK_VENV)
	$(RETRY) $(FLINK_VENV)/bin/pip install --quiet --upgrade pip
	$(RETRY) $(FLINK_VENV)/bin/pip install --quiet -e ".[test,local]" "apache-beam==$(FLINK_BEAM_VERSION)"
	touch $@

$(SAMPLE): | $(STAMP)
	$(BIN)/smscore sample-data --out data/sample --rows $(SAMPLE_ROWS)

run: $(STAMP) $(SAMPLE) ## score the sample data on the local endpoint (DirectRunner); report in out/report.json
	$(BIN)/smscore run --config configs/local.yaml --date $(DATE) --report out/report.json

replay: $(STAMP) ## score again the dead letters of `make run` (DATE=YYYY-MM-DD, default today); out/<date>/replayed/
	$(BIN)/smscore run --config configs/replay-local.yaml --date $(DATE)

validate: $(STAMP) ## print the resolved configs/local.yaml
	$(BIN)/smscore validate --config configs/local.yaml

endpoint: $(STAMP) ## serve the built-in local endpoint on 127.0.0.1:8080 until Ctrl-C
	$(BIN)/smscore endpoint serve --port 8080

# Java parts come from Maven Central (cached in ~/.m2), copied with their runtime dependencies.
$(JARS)/%/.fetched: java/%/pom.xml
	rm -rf $(JARS)/$*
	$(RETRY) $(MVN) -f java/$*/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(JARS)/$*
	touch $@

# Maven Central as served here has no shaded Flink job-server jar: a manifest-only jar points at the copied ones.
$(FLINK_JAR): $(FLINK_JARS)
	$(PYTHON) java/pathing_jar.py $(JARS)/flink-job-server org.apache.beam.runners.flink.FlinkJobServerDriver $@

flink-jars: $(FLINK_JAR) ## fetch Beam's Flink 1.19 job server at FLINK_BEAM_VERSION (Maven)

run-flink: $(FLINK_STAMP) $(SAMPLE) $(FLINK_JAR) ## the default batch job on an embedded Flink cluster (configs/flink.yaml, in .venv-flink)
	$(FLINK_VENV)/bin/smscore run --config configs/flink.yaml --date $(DATE) --report out/flink/report.json

kafka-jars: $(KAFKA_JARS) ## fetch the Apache Kafka broker jars (Maven)

# One shaded jar (maven-shade-plugin), so runners can stage it for Java workers.
$(KAFKA_IO_JAR): java/kafka-expansion-service/pom.xml
	$(RETRY) $(MVN) -f java/kafka-expansion-service/pom.xml package -DskipTests
	cp java/kafka-expansion-service/target/kafka-expansion-service-1.jar $@

kafka-io-jar: $(KAFKA_IO_JAR) ## build Beam's Java KafkaIO expansion service jar (Maven; source.reader: java)

# Beam's Prism runner (streaming on this machine), built from Beam's Go module at the Python SDK's version.
$(PRISM_STAMP):
	$(RETRY) env GOBIN=$(CURDIR)/.tools/bin GONOSUMDB=github.com/apache/beam GOFLAGS=-mod=mod \
		go install github.com/apache/beam/sdks/v2/go/cmd/prism@v$(BEAM_VERSION)
	rm -f .tools/bin/.prism-*
	touch $@

prism: $(PRISM_STAMP) ## build Beam's Prism runner with Go (streaming jobs run on it)

# The AWS SDK for JavaScript v3, to check the local endpoint against a second real client (npm).
$(JS_SDK): tests/js/package.json
	$(RETRY) npm ci --prefix tests/js --no-audit --no-fund --silent
	touch $@

js-sdk: $(JS_SDK) ## install the AWS SDK for JavaScript v3 used by the endpoint tests (npm)

kafka-up: $(STAMP) $(KAFKA_JARS) ## start a Kafka broker on 127.0.0.1:9092 (state in .kafka/)
	$(BIN)/python -m local_kafka up --port 9092

kafka-down: ## stop the broker `make kafka-up` started
	$(BIN)/python -m local_kafka down

test: $(STAMP) $(FLINK_STAMP) $(AIRFLOW_STAMP) $(KAFKA_JARS) $(KAFKA_IO_JAR) $(PRISM_STAMP) $(FLINK_JAR) $(JS_SDK) ## the whole suite: all but Flink on the newest Beam; unit and Flink tests on the oldest; the DAGs in Airflow
	$(BIN)/pytest -q -p no:cacheprovider -m "not flink" --ignore=tests/airflow
	$(FLINK_VENV)/bin/pytest -q -p no:cacheprovider -m "flink or not integration" --ignore=tests/airflow
	$(AIRFLOW_VENV)/bin/pytest -q -p no:cacheprovider --confcutdir=tests/airflow tests/airflow

test-unit: $(STAMP) ## only the fast unit tests
	$(BIN)/pytest -q -p no:cacheprovider -m "not integration" --ignore=tests/airflow

# Apache Airflow in a venv of its own (its pins and Beam's do not mix); the DAG runs smscore from .venv.
$(AIRFLOW_STAMP):
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(RETRY) $(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(RETRY) $(AIRFLOW_VENV)/bin/pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" "pytest>=8" "pytest-timeout>=2.3"
	touch $@

airflow: $(STAMP) $(AIRFLOW_STAMP) $(SAMPLE) ## Airflow loads dags/ and runs the local nightly DAG for DATE (outputs in out/<date>/)
	$(AIRFLOW_ENV) $(AIRFLOW_VENV)/bin/airflow db migrate > /dev/null
	$(AIRFLOW_ENV) $(AIRFLOW_VENV)/bin/airflow dags reserialize > /dev/null
	$(AIRFLOW_ENV) $(AIRFLOW_VENV)/bin/airflow dags list-import-errors
	$(AIRFLOW_ENV) $(AIRFLOW_VENV)/bin/airflow dags test sagemaker_nightly_scoring_local $(DATE) > .airflow/dags-test.log 2>&1
	@grep -E "^Scored " .airflow/dags-test.log; grep "DagRun Finished" .airflow/dags-test.log | sed -E 's/.*(dag_id=[^,]*).*(logical_date=[^ ]*).*(state=[a-z]+).*/\1 \2 \3/'; \
		echo "  full log: .airflow/dags-test.log"

lint: $(STAMP) ## ruff, mypy and the import rules of ARCHITECTURE.md
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider tests/unit/test_architecture.py

BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: setup.py
	$(PYTHON) -m venv $(BENCH_VENV)
	$(RETRY) $(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(RETRY) $(BENCH_VENV)/bin/pip install --quiet -e ".[local]" "apache-beam==$(BEAM_VERSION)"
	touch $@

bench: $(STAMP) $(BENCH_VENV)/.installed $(KAFKA_JARS) $(PRISM_STAMP) ## ours vs the peers (BENCH_ROWS=1000000); writes BENCHMARKS.md, benchmarks/results.json
	BENCH_PYTHON=$(BENCH_VENV)/bin/python $(BIN)/python -m benchmarks.bench

chaos: $(STAMP) $(KAFKA_JARS) $(PRISM_STAMP) ## every injected fault at 20% over 100,000 records, a poison run, a broker restart; writes RELIABILITY.md's table
	rm -rf out/chaos && mkdir -p out/chaos
	CHAOS_RECORDS=100000 CHAOS_REPORT=$(CURDIR)/out/chaos/results.jsonl $(BIN)/pytest -q -p no:cacheprovider -m chaos tests/integration
	$(BIN)/python -m benchmarks.reliability out/chaos/results.jsonl

clean: ## remove outputs and caches (keeps .venv, jars and Prism)
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
