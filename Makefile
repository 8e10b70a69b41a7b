.PHONY: setup run test bench lock

# Set up everything, then serve the app on http://127.0.0.1:8501
run: setup
	.venv/bin/sentinel serve

# Set up everything, check the layers and lint, then run the whole test suite
test: setup
	.venv/bin/lint-imports
	.venv/bin/ruff check .
	.venv/bin/python -m pytest

setup:
	bash scripts/setup.sh

# Pin every release of the working .venv in requirements.lock (after a dependency change and a green make test)
lock:
	bash scripts/lock.sh

# Measure speed and quality (needs ../shared/datasets); results land in bench/results/
bench: setup
	.venv/bin/python bench/bench_tracking.py
	.venv/bin/python bench/bench_pipeline.py
	.venv/bin/python bench/bench_retrieval.py
