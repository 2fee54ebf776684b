"""Fixtures shared by the unit tests."""

import os
import subprocess
import sys
import tempfile

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The jsm backend keeps site metadata under $XDG_CACHE_HOME (backends/jsm/client.py SiteCache): one directory per
# test process, so tests never read or write the user's own cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="opsgate-itsm-unit-cache-")
# The per-checkout tree tests/conftest.py links (it always runs first).
COLLECTIONS_BASE = os.environ["OPSGATE_ITSM_TEST_COLLECTIONS"]


@pytest.fixture
def local_backend(tmp_path):
    from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend

    backend = build_backend(ConnectionSettings(backend="local", local_db=str(tmp_path / "itsm.sqlite"),
                                               username="tester"))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def ansible_doc():
    """ansible-doc --json over the working tree, as a function of plugin names."""
    return ansible_doc_json


def ansible_doc_json(*names: str) -> dict:
    """The parsed documentation of plugins as ansible-doc sees it (fragments merged)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_BASE)
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    output = subprocess.run([ansible_doc, "--json", *names], env=env, check=True,
                            capture_output=True, text=True).stdout
    import json
    return json.loads(output)
