# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend registry (backends/__init__.py): the backend option's value -> the class, importing only its package.

The import checks run in a fresh interpreter: in the test session every backend is imported already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmUnavailableError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import NAMES, backend_class, build_backend

COLLECTIONS_BASE = os.environ["OPSGATE_ITSM_TEST_COLLECTIONS"]
PACKAGE = "ansible_collections.opsgate.itsm.plugins"

# Imports what a run on the backend named by argv[1] imports (every runner, the action base, the recorder's
# delivery and the inventory's helpers), builds that backend, uses it once, and prints the modules it loaded.
_RUN = textwrap.dedent(f"""
    import importlib, json, pkgutil, sys
    from {PACKAGE}.module_utils import runners
    for module in pkgutil.iter_modules(runners.__path__):
        importlib.import_module(runners.__name__ + "." + module.name)
    for name in ("plugin_utils._action", "plugin_utils._recorder_delivery", "plugin_utils._inventory"):
        importlib.import_module("{PACKAGE}." + name)
    from {PACKAGE}.module_utils._options import ConnectionSettings
    from {PACKAGE}.module_utils.backends import build_backend
    backend = build_backend(ConnectionSettings(backend=sys.argv[1], local_db=sys.argv[2], url="https://sn.invalid",
                                               username="u", password="p"))
    if sys.argv[1] == "local":
        backend.create("change", {{"short_description": "imports"}})
    backend.close()
    print(json.dumps(sorted(sys.modules)))
""")


def loaded_modules(backend: str, tmp_path) -> list[str]:
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_BASE)
    done = subprocess.run([sys.executable, "-c", _RUN, backend, str(tmp_path / "itsm.sqlite")], env=env,
                          capture_output=True, text=True, check=False, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def remote_backend_code(modules: list[str]) -> list[str]:
    """The modules of the servicenow and jsm packages among ``modules``."""
    return [name for name in modules if name.startswith((f"{PACKAGE}.module_utils.backends.servicenow",
                                                         f"{PACKAGE}.module_utils.backends.jsm"))]


def test_a_local_run_never_imports_requests_or_a_remote_backend(tmp_path):
    modules = loaded_modules("local", tmp_path)

    assert f"{PACKAGE}.module_utils.backends.local" in modules
    assert "requests" not in modules
    assert f"{PACKAGE}.module_utils._http" not in modules
    assert remote_backend_code(modules) == []


def test_a_servicenow_run_imports_its_package_and_requests(tmp_path):
    # The check above can see what it looks for: building the servicenow backend loads both.
    modules = loaded_modules("servicenow", tmp_path)

    assert "requests" in modules
    assert f"{PACKAGE}.module_utils.backends.servicenow" in modules
    assert f"{PACKAGE}.module_utils.backends.jsm" not in modules


def test_a_jsm_run_imports_its_package_and_not_servicenow(tmp_path):
    modules = loaded_modules("jsm", tmp_path)

    assert f"{PACKAGE}.module_utils.backends.jsm" in modules
    assert [name for name in remote_backend_code(modules) if ".servicenow" in name] == []


@pytest.mark.parametrize("name", NAMES)
def test_each_name_builds_its_backend(name, tmp_path):
    backend = build_backend(ConnectionSettings(backend=name, local_db=str(tmp_path / "itsm.sqlite"),
                                               url="https://sn.invalid", username="u", password="p"))
    try:
        assert isinstance(backend, backend_class(name)) and backend.name == name
    finally:
        backend.close()


@pytest.mark.parametrize("name, reason", [
    ("remedy", "expected one of: jsm, local, servicenow"),
    ("", "expected one of: jsm, local, servicenow"),
])
def test_an_unknown_backend_is_refused_naming_the_option(name, reason):
    with pytest.raises(ItsmUnavailableError) as error:
        build_backend(ConnectionSettings(backend=name))

    assert error.value.message == f"backend: {name!r} cannot be used; {reason}"
    assert error.value.details["option"] == "backend"
