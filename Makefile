# `make run` serves the service with demo data; `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# Test processes (pytest-xdist); `PYTEST_WORKERS=0 make test` runs the suite in one process.
PYTEST_WORKERS ?= auto

.PHONY: run test venv dev migrate demo worker bench clean

$(BIN)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(BIN)/.installed

# Test and benchmark tools, on top of the service's own requirements.
$(BIN)/.installed-dev: requirements-dev.txt $(BIN)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

dev: $(BIN)/.installed-dev

migrate: venv
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py setup_demo

run: demo
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@if [ -n "$$REDIS_URL" ]; then \
		echo "Starting a Celery worker (REDIS_URL is set)"; \
		$(BIN)/celery -A virtool_site worker -l INFO & \
	fi; \
	echo "Serving on http://$(HOST):$(PORT)/  (API docs: /api/docs/, admin: /admin/)"; \
	exec $(BIN)/gunicorn virtool_site.wsgi:application --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY:-2} --access-logfile -

worker: venv
	$(BIN)/celery -A virtool_site worker -l INFO

test: dev
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: dev
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) staticfiles
