# Convenience targets; scripts/test remains the one command CI runs.
PY := .venv/bin/python
SOAK_REQUESTS ?= 20000
SOAK_SECONDS ?= 300
SOAK_CHILDREN ?= 200

.PHONY: setup test fuzz soak soak-postgres bench

setup:
	scripts/setup

test:
	scripts/test

# Many more generated requests than the suite's default (schemathesis + hostile input).
fuzz:
	HEALTHBRIDGE_FUZZ_EXAMPLES=200 scripts/test tests/healthbridge/api/test_schemathesis.py \
		tests/healthbridge/api/test_bad_input.py tests/healthbridge/api/test_faults.py \
		tests/healthbridge/api/test_concurrency.py

# Long soak on SQLite (bounded by SOAK_REQUESTS and SOAK_SECONDS); figures in bench/results/.
soak:
	$(PY) -m bench.soak --children $(SOAK_CHILDREN) --clients 8 \
		--requests $(SOAK_REQUESTS) --seconds $(SOAK_SECONDS) --label make-soak

# The same against PostgreSQL: make soak-postgres DATABASE_URL=postgresql://user@host/db
soak-postgres:
	$(PY) -m bench.soak --database-url "$(DATABASE_URL)" --children $(SOAK_CHILDREN) \
		--clients 8 --requests $(SOAK_REQUESTS) --seconds $(SOAK_SECONDS) --label make-soak

# Quick runs of the benchmarks (small sizes; see each script's --help for real runs).
bench:
	$(PY) -m bench.soak --children 20 --clients 4 --requests 1000 --seconds 60 --label quick
	$(PY) -m bench.zscores --n 20000 --repeat 1 --no-write
