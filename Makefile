# The same targets run on a laptop, in the README and in CI (.ci/run).
.PHONY: setup demo test lint bench-m3 stack stack-down

setup:
	bash scripts/setup

demo: setup  ## the main job on the bundled data (embedded defaults)
	.venv/bin/gpcast demo

test:  ## every test: unit, integration (real servers on 127.0.0.1), e2e; two workers (2 cores)
	bash scripts/setup --test
	.venv/bin/ruff check src tests bench
	.venv/bin/lint-imports
	.venv/bin/python -m pytest -n 2 --dist loadgroup

lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy
	.venv/bin/lint-imports

bench-m3: setup
	.venv/bin/python bench/m3/run.py

# The team stack (compose.yaml, docs/container.md): secrets in .env (compose/env.example).
# LOCAL=1 builds every image on the local base, no registry (compose/local.yaml); podman on
# hosts like CI: COMPOSE=".venv/bin/podman-compose --podman-args=--runtime=runc
# --podman-args=--cgroup-manager=cgroupfs --podman-build-args=--network=host".
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo docker compose || echo .venv/bin/podman-compose)
STACK_FILES = -f compose.yaml $(if $(LOCAL),-f compose/local.yaml)

stack:  ## the team stack: MLflow on PostgreSQL, S3, staging and production
	@test -f .env || { echo "make stack: first cp compose/env.example .env and fill it in" >&2; exit 2; }
	$(COMPOSE) $(STACK_FILES) up -d --build

stack-down:  ## stop the team stack (its volumes stay)
	$(COMPOSE) $(STACK_FILES) down
