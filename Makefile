# opsgate.itsm: developer and CI entry points. `make help` lists them.
#
# Needs only Python 3.11 and make (and Python 3.12 for `make next`): every target first builds what it
# uses (.venv from tests/requirements-dev.txt, or the small .venv-demo for `make demo` and `make install`,
# ansible-test's pip bootstrap, the collection copy, the installed tarball). Helper scripts live in tests/ci/;
# shared/reference/toolchain.md explains why.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.SUFFIXES:

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
CACHE := $(ROOT)/.cache
REPORTS := $(CACHE)/reports
CI := $(ROOT)/tests/ci

# Interpreters. Empty means: find one (tests/ci/find_python.sh: newest pyenv build, then PATH).
PYTHON ?=
NEXT_PYTHON ?=
# The "newest ansible-core" line run by `make next`.
NEXT_ANSIBLE_CORE ?= ansible-core>=2.21,<2.22
# The oldest ansible-core the README promises, run by `make floor` (unit tests only, with Python 3.11).
FLOOR_ANSIBLE_CORE ?= ansible-core>=2.17,<2.18

REQ_FILES := $(ROOT)/requirements.txt $(ROOT)/tests/requirements-dev.txt
VENV := $(ROOT)/.venv
NEXT_VENV := $(ROOT)/.venv-next
# A venv is rebuilt when the requirements it was made from change (the stamp name carries their hash).
REQ_HASH := $(shell cat $(REQ_FILES) 2>/dev/null | sha256sum | cut -c1-12)
VENV_STAMP := $(VENV)/.opsgate-requirements-$(REQ_HASH)
NEXT_HASH := $(shell (cat $(REQ_FILES) 2>/dev/null; echo '$(NEXT_ANSIBLE_CORE)') | sha256sum | cut -c1-12)
NEXT_STAMP := $(NEXT_VENV)/.opsgate-requirements-$(NEXT_HASH)
FLOOR_VENV := $(ROOT)/.venv-floor
FLOOR_HASH := $(shell (cat $(ROOT)/requirements.txt 2>/dev/null; echo '$(FLOOR_ANSIBLE_CORE)') | sha256sum | cut -c1-12)
FLOOR_STAMP := $(FLOOR_VENV)/.opsgate-requirements-$(FLOOR_HASH)
# The demo's venv holds only what the collection needs to run: requirements.txt and the ansible-core line of
# tests/requirements-dev.txt (one place for that range), none of the test toolchain.
DEMO_VENV ?= $(ROOT)/.venv-demo
DEMO_ANSIBLE_CORE := $(shell grep -E '^ansible-core[<>=]' $(ROOT)/tests/requirements-dev.txt 2>/dev/null)
DEMO_HASH := $(shell (cat $(ROOT)/requirements.txt 2>/dev/null; echo '$(DEMO_ANSIBLE_CORE)') | sha256sum | cut -c1-12)
DEMO_STAMP := $(DEMO_VENV)/.opsgate-requirements-$(DEMO_HASH)
# The demo's local store and site, kept between runs so that a re-run finds the release's change; `make demo-reset`
# (or `make demo fresh=1`) starts over.
DEMO_DIR ?= $(CACHE)/demo
fresh ?=

# Where `make install` puts the built collection; demo and build-check run ansible against this copy.
# ANSIBLE_HOME under .cache: ansible-lint puts $ANSIBLE_HOME/collections ahead of the path it is given,
# so a copy of opsgate.itsm left in ~/.ansible/collections would shadow the one being checked.
COLLECTIONS_DIR := $(CACHE)/collections
INSTALLED_ENV := ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_DIR) ANSIBLE_HOME=$(CACHE)/ansible-home

# pytest: parallel with pytest-xdist; --rootdir makes pytest load tests/conftest.py; importlib import
# mode lets test files in different folders share a name (test_outbox.py under module_utils/ and
# runners/); TMPDIR keeps the conftest's ansible_collections symlink (made under the temp dir) private
# to this checkout. The fidelity suite (simulators against third-party clients) does not depend on
# ansible-core, so only the main line runs it; so is tests/checkout (`make demo` and the README's commands in a
# fresh copy of the repository, with their own .venv-demo whatever Python runs pytest).
PYTEST_XDIST ?= -n auto
PYTEST_ARGS ?=
UNIT_PATHS ?= tests/unit $(if $(wildcard $(ROOT)/tests/fidelity/test_*.py),tests/fidelity) \
	$(if $(wildcard $(ROOT)/tests/checkout/test_*.py),tests/checkout)
PYTEST = cd $(ROOT) && mkdir -p $(REPORTS) $(CACHE)/tmp && TMPDIR=$(CACHE)/tmp
PYTEST_OPTS = --rootdir=$(ROOT) -p no:cacheprovider --import-mode=importlib $(PYTEST_XDIST)

# Same Python versions as the venvs; controller-only code (tests/config.yml) needs no other.
SANITY_ARGS ?= --venv --python 3.11
NEXT_SANITY_ARGS ?= --venv --python 3.12
INTEGRATION_ARGS ?= --local --python 3.11 --continue-on-error

.PHONY: help venv next-venv demo-venv install demo demo-reset test units soak imports sanity integration lint docs-lint \
	build-check molecule next next-units next-sanity floor floor-venv clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: $(VENV_STAMP) ## .venv (Python 3.11) with tests/requirements-dev.txt, reused until requirements change

$(VENV_STAMP):
	@py="$(PYTHON)"; [ -n "$$py" ] || py=$$($(CI)/find_python.sh 3.11); \
	echo "creating $(VENV) with $$py ($$("$$py" --version))"; \
	rm -rf $(VENV); "$$py" -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r $(ROOT)/tests/requirements-dev.txt
	@touch $@
	@$(VENV)/bin/python -m pip list --format=freeze | grep -iE '^(ansible-core|ansible-lint|molecule|pytest|antsibull-[a-z]+|requests|jsonschema)=='

next-venv: $(NEXT_STAMP) ## .venv-next (Python 3.12) with the same requirements and the newest ansible-core

$(NEXT_STAMP):
	@py="$(NEXT_PYTHON)"; [ -n "$$py" ] || py=$$($(CI)/find_python.sh 3.12); \
	echo "creating $(NEXT_VENV) with $$py ($$("$$py" --version))"; \
	rm -rf $(NEXT_VENV); "$$py" -m venv $(NEXT_VENV)
	@mkdir -p $(CACHE)
	sed -e '/^ansible-core\b/d' -e 's#^-r \.\./#-r $(ROOT)/#' $(ROOT)/tests/requirements-dev.txt \
		> $(CACHE)/requirements-next.txt
	$(NEXT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NEXT_VENV)/bin/python -m pip install --quiet -r $(CACHE)/requirements-next.txt '$(NEXT_ANSIBLE_CORE)'
	@touch $@
	@$(NEXT_VENV)/bin/python -m pip list --format=freeze | grep -iE '^(ansible-core|pytest)=='

demo-venv: $(DEMO_STAMP) ## .venv-demo (Python 3.11) with ansible-core and requirements.txt only, for demo and install

$(DEMO_STAMP):
	@py="$(PYTHON)"; [ -n "$$py" ] || py=$$($(CI)/find_python.sh 3.11); \
	echo "creating $(DEMO_VENV) with $$py ($$("$$py" --version))"; \
	rm -rf $(DEMO_VENV); "$$py" -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DEMO_VENV)/bin/python -m pip install --quiet -r $(ROOT)/requirements.txt '$(DEMO_ANSIBLE_CORE)'
	@touch $@
	@$(DEMO_VENV)/bin/python -m pip list --format=freeze | grep -iE '^(ansible-core|requests|jsonschema)=='

# Only what the unit tests import: the collection's requirements, pytest and the floor ansible-core (fast to make).
floor-venv: $(FLOOR_STAMP) ## .venv-floor (Python 3.11) with the oldest supported ansible-core, for `make floor`

$(FLOOR_STAMP):
	@py="$(PYTHON)"; [ -n "$$py" ] || py=$$($(CI)/find_python.sh 3.11); \
	echo "creating $(FLOOR_VENV) with $$py ($$("$$py" --version))"; \
	rm -rf $(FLOOR_VENV); "$$py" -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet -r $(ROOT)/requirements.txt '$(FLOOR_ANSIBLE_CORE)' \
		$$(grep -E '^(pytest(-xdist)?|psycopg\[binary\])[<>=]' $(ROOT)/tests/requirements-dev.txt)
	@touch $@
	@$(FLOOR_VENV)/bin/python -m pip list --format=freeze | grep -iE '^(ansible-core|pytest)=='

# The line that puts the installed collection and the demo venv's ansible commands on a new shell's path.
USE_INSTALLED := export ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_DIR) PATH=$(DEMO_VENV)/bin:$$PATH

install: demo-venv ## build the tarball from the working tree and install it into .cache/collections (with .venv-demo)
	$(DEMO_VENV)/bin/python $(CI)/build_and_doc.py --install-only
	@echo 'use it from a new shell with: $(USE_INSTALLED)'

# The demo's store is kept: a re-run finds the release's change and stops ("already deployed under CHG...").
demo: install ## run playbooks/deploy_with_change.yml on the local backend (`make demo-reset` or fresh=1 starts over)
	@$(if $(fresh),rm -rf $(DEMO_DIR) && echo "demo: starting over (fresh=$(fresh))")
	@mkdir -p $(DEMO_DIR)
	cd $(ROOT) && $(INSTALLED_ENV) ITSM_BACKEND=local ITSM_LOCAL_DB=$(DEMO_DIR)/itsm.db DEMO_DIR=$(DEMO_DIR) \
		PATH=$(DEMO_VENV)/bin:$$PATH $(DEMO_VENV)/bin/ansible-playbook -i playbooks/inventory \
		playbooks/deploy_with_change.yml $(DEMO_ARGS)
	@cd $(ROOT) && $(INSTALLED_ENV) ITSM_BACKEND=local ITSM_LOCAL_DB=$(DEMO_DIR)/itsm.db PATH=$(DEMO_VENV)/bin:$$PATH \
		$(DEMO_VENV)/bin/ansible-playbook -i playbooks/inventory playbooks/change_report.yml \
		-e report_path=$(DEMO_DIR)/report.html > $(DEMO_DIR)/report.log 2>&1 \
		|| { cat $(DEMO_DIR)/report.log; echo "demo: the change report failed"; exit 1; }
	@echo
	@echo 'The demo keeps its store, $(DEMO_DIR)/itsm.db: run `make demo` again and it finds the change of the'
	@echo 'release and stops ("already deployed under CHG..."); `make demo DEMO_ARGS="-e demo_release=1.4.3"` deploys'
	@echo 'another release; `make demo-reset` (or `make demo fresh=1`) starts over.'
	@echo
	@echo 'Try next, from a new shell:'
	@echo '  cd $(ROOT)'
	@echo '  $(USE_INSTALLED)'
	@echo '  ansible-doc opsgate.itsm.change_gate'
	@echo '  ITSM_LOCAL_DB=$(DEMO_DIR)/itsm.db ansible localhost -i playbooks/inventory -m opsgate.itsm.change_request_info -a "correlation_id=demo-deploy-1.4.2 approvals=true"'
	@echo 'The change report (make demo rewrites it; playbooks/change_report.yml): open $(DEMO_DIR)/report.html in a browser'
	@echo '  (for example: xdg-open $(DEMO_DIR)/report.html)'

demo-reset: ## forget the demo's store, site and report; the next `make demo` starts over
	rm -rf $(DEMO_DIR)

test: ## every step below, continuing after failures; ends with "N passed, M failed"
	@py="$(PYTHON)"; [ -n "$$py" ] || py=$$($(CI)/find_python.sh 3.11); \
	MAKE="$(MAKE)" "$$py" $(CI)/run_all.py

# The local store's tests on PostgreSQL (issue 18) start a throw-away server from Debian's postgresql package
# (tests/postgresql_server.py). Without it (no apt, sudo or network) the other tests still run; those fail, saying so.
.PHONY: postgresql
postgresql:
	@$(CI)/install_postgresql.sh || echo "postgresql could not be installed; the local store's PostgreSQL tests will fail"

units: venv postgresql ## pytest tests/unit, tests/fidelity and tests/checkout (ansible-core 2.19)
	$(PYTEST) $(VENV)/bin/python -m pytest $(UNIT_PATHS) $(PYTEST_OPTS) --junitxml=$(REPORTS)/units.xml $(PYTEST_ARGS)

# The soak (issue 14; docs/reliability.md): concurrent processes and kill -9 rounds on local (SQLite and PostgreSQL),
# the outbox under kill -9, a play over many hosts and forks and every fault kind on each simulator. SOAK=ci (what
# `make test` runs, about two minutes here) or SOAK=full (the issue's sizes: 50 processes, 200 hosts x 50 forks, under
# ten minutes). One test at a time: the soak itself is the load. The figures are printed at the end.
SOAK ?= ci

soak: venv postgresql ## bounded soak: concurrency, faults and kill -9 on every backend; prints its figures (SOAK=ci|full)
	$(PYTEST) OPSGATE_SOAK=$(SOAK) $(VENV)/bin/python -m pytest tests/soak --rootdir=$(ROOT) -p no:cacheprovider \
		--import-mode=importlib -p no:xdist --junitxml=$(REPORTS)/soak.xml $(PYTEST_ARGS)

imports: venv ## no import circle in plugins/, no function-level import or private name of another file in backends
	$(VENV)/bin/python $(CI)/check_imports.py

sanity: venv ## ansible-test sanity on a copy of the tree, no ignore files
	@$(MAKE) --no-print-directory no-sanity-ignores
	$(CI)/ansible_test.sh $(VENV) sanity $(SANITY_ARGS)

.PHONY: no-sanity-ignores
no-sanity-ignores:
	@found=$$(find $(ROOT)/tests/sanity -name 'ignore-*.txt' -size +0 2>/dev/null || true); \
	if [ -n "$$found" ]; then echo "sanity ignore entries are not allowed: $$found"; exit 1; fi

integration: venv postgresql ## ansible-test integration on the controller (targets under tests/integration/targets/)
	@# The change report target checks its HTML in Debian's headless chromium. Without it (no apt, sudo or
	@# network) the other targets still run; that target's browser check fails under CI=true, else is skipped.
	$(CI)/install_chromium.sh || echo "integration: chromium could not be installed; playbook_change_report's browser check will fail (CI=true) or be skipped"
	@if compgen -G '$(ROOT)/tests/integration/targets/*/' >/dev/null; then \
		$(CI)/ansible_test.sh $(VENV) integration $(INTEGRATION_ARGS); \
	else echo "integration: no targets under tests/integration/targets/, nothing to run"; fi

# Offline, ansible-lint does not put the collection it lints on the collection path, so it would not
# resolve opsgate.itsm modules or the action group: it lints against the installed tarball (built here with .venv,
# so that linting needs no .venv-demo).
lint: venv ## ansible-lint --offline, production profile (.ansible-lint)
	$(VENV)/bin/python $(CI)/build_and_doc.py --install-only
	cd $(ROOT) && $(INSTALLED_ENV) PATH=$(VENV)/bin:$$PATH $(VENV)/bin/ansible-lint --offline --profile production

docs-lint: venv ## antsibull-changelog lint and antsibull-docs lint-collection-docs --plugin-docs
	cd $(ROOT) && PATH=$(VENV)/bin:$$PATH $(VENV)/bin/antsibull-changelog lint
	cd $(ROOT) && PATH=$(VENV)/bin:$$PATH $(VENV)/bin/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	cd $(ROOT) && PATH=$(VENV)/bin:$$PATH $(VENV)/bin/antsibull-docs lint-collection-docs --plugin-docs .

build-check: venv ## build + install the tarball, check its contents, ansible-doc every plugin of the installed copy
	$(VENV)/bin/python $(CI)/build_and_doc.py

# Molecule installs the working tree as a collection into $ANSIBLE_HOME/collections before each scenario:
# ANSIBLE_HOME under .cache keeps that copy out of ~/.ansible, where it would shadow later installs.
molecule: venv ## every scenario under extensions/molecule/ (skipped when there is none)
	@scenarios=$$(cd $(ROOT) && for f in extensions/molecule/*/molecule.yml; do [ -f "$$f" ] && basename "$$(dirname "$$f")"; done || true); \
	if [ -z "$$scenarios" ]; then echo "molecule: no scenario under extensions/molecule/, nothing to run"; exit 0; fi; \
	cd $(ROOT); failed=""; for s in $$scenarios; do \
		echo "+ molecule test -s $$s"; \
		ANSIBLE_HOME=$(CACHE)/molecule-home PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s "$$s" || failed="$$failed $$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "molecule: failed scenario(s):$$failed"; exit 1; fi; \
	echo "molecule: all scenarios passed:" $$scenarios

next: ## units and sanity again with Python 3.12 and the newest ansible-core (.venv-next)
	@$(MAKE) --no-print-directory -k next-units next-sanity

# The injection table (issue 14) drives every backend's query building with thousands of hostile values; it does not
# depend on ansible-core, so the main line alone runs it.
MAIN_LINE_ONLY := --ignore=tests/unit/plugins/module_utils/backends/test_injection_table.py

next-units: next-venv postgresql
	$(PYTEST) $(NEXT_VENV)/bin/python -m pytest tests/unit $(MAIN_LINE_ONLY) $(PYTEST_OPTS) \
		--junitxml=$(REPORTS)/units-next.xml $(PYTEST_ARGS)

next-sanity: next-venv no-sanity-ignores
	$(CI)/ansible_test.sh $(NEXT_VENV) sanity $(NEXT_SANITY_ARGS)

# Not on the floor: test_awx.py drives the development toolchain (ansible-builder, ansible-runner), which the floor
# venv does not hold, and test_constructed.py compares the inventory's native groups with ansible-core 2.19's own
# Constructable through that line's data tags (ansible._internal._datatag), which 2.17 does not have; the property
# tests need hypothesis, a test tool the floor venv (requirements.txt only) does not hold.
FLOOR_IGNORE := --ignore=tests/unit/test_awx.py --ignore=tests/unit/plugins/plugin_utils/test_constructed.py \
	--ignore=tests/unit/property $(MAIN_LINE_ONLY)

floor: floor-venv postgresql ## unit tests with Python 3.11 and the oldest supported ansible-core (.venv-floor)
	$(PYTEST) $(FLOOR_VENV)/bin/python -m pytest tests/unit $(FLOOR_IGNORE) $(PYTEST_OPTS) \
		--junitxml=$(REPORTS)/units-floor.xml $(PYTEST_ARGS)

clean: ## remove venvs, caches, built and test output
	rm -rf $(VENV) $(NEXT_VENV) $(FLOOR_VENV) $(DEMO_VENV) $(CACHE) $(ROOT)/collections $(ROOT)/.ansible $(ROOT)/tests/output \
		$(ROOT)/changelogs/.plugin-cache.yaml $(ROOT)/.pytest_cache
