# make run  : set up .venv (first time only) and start the app
# make test : set up .venv, test tools and Debian's chromium (first time only), run the suite
# make test-slow: the soak tests kept out of make test
# make test-deploy: replicas behind HAProxy with a PostgreSQL session store, one killed (docs/deploy.md)
# make bench: run the benchmarks
# make screenshots: renew docs/images/*.png from the real server in Chromium
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-slow test-deploy bench screenshots install install-dev chromium servers clean
# Test files run on this many processes (pytest-xdist); CI machines have two cores.
TEST_WORKERS ?= 2

$(VENV)/.runtime: requirements.txt
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

chromium:
	@[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium fonts-noto-color-emoji; }

# Debian's PostgreSQL server for the networked session store's tests, HAProxy for the deploy proof:
# the tests start and stop their own instances (tests/servers.py).
servers:
	@[ -n "$(wildcard /usr/lib/postgresql/*/bin/postgres)" ] || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q postgresql; }
	@[ -x /usr/sbin/haproxy ] || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q haproxy; }

run: install
	$(PY) -m streamlit run app.py

test: install-dev chromium servers
	$(PY) -m pytest -n $(TEST_WORKERS) --dist load --durations=40

# The soak tests left out of `make test` (twenty browser sessions against one server).
test-slow: install-dev chromium
	$(PY) -m pytest -m slow -s

# The class deployment on this machine: HAProxy, three replicas, PostgreSQL, six browser sessions, a replica killed.
test-deploy: install-dev chromium servers
	$(PY) -m pytest -m deploy -s -p no:cacheprovider tests/test_deploy.py

# The engine benchmarks (again with --device cuda when PyTorch sees a GPU), CPU vs GPU on the Transformer and the
# digits autoencoder, then the browser and server ones (Playwright, from requirements-dev, in Debian's chromium).
bench: install-dev chromium
	$(PY) -m bench
	if $(PY) -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then $(PY) -m bench --device cuda; fi
	$(PY) -m bench.devices
	$(PY) -m bench.browser

# The README's and the guides' pictures, taken from the real server in Debian's chromium.
screenshots: install-dev chromium
	$(PY) docs/screenshots.py

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache
