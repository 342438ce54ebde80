# The same targets run on a laptop, in the README and in CI (.ci/run).
.PHONY: setup demo test lint bench-m3

setup:
	bash scripts/setup

demo: setup  ## the main job on the bundled data (embedded defaults)
	.venv/bin/gpcast demo

test:  ## every test: unit, integration (real servers on 127.0.0.1), e2e
	bash scripts/setup --test
	.venv/bin/ruff check src tests bench
	.venv/bin/lint-imports
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy
	.venv/bin/lint-imports

bench-m3: setup
	.venv/bin/python bench/m3/run.py
