"""Make the working tree importable as ansible_collections.opsgate.itsm without installing it."""

import hashlib
import os
import shutil
import sys
import tempfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tests that start ansible-* subprocesses read the tree's location from here (ANSIBLE_COLLECTIONS_PATH).
COLLECTIONS_ENV = "OPSGATE_ITSM_TEST_COLLECTIONS"
# tests/postgresql_server.SESSION_ENV (that module is imported only when a session stops a server)
SESSION_POSTGRESQL_ENV = "OPSGATE_ITSM_TEST_POSTGRESQL"


def _collection_path() -> str:
    """$TMPDIR/opsgate-itsm-pytest-<uid>-<checkout hash>/ansible_collections/opsgate/itsm -> this checkout.

    One tree per checkout (the hash of its root, as tests/ci/ansible_test.sh names its copy): with one
    shared tree, concurrent checkouts re-pointed the link at each other and tested each other's code.
    """
    digest = hashlib.sha256(_ROOT.encode()).hexdigest()[:10]
    base = os.path.join(tempfile.gettempdir(), f"opsgate-itsm-pytest-{os.getuid()}-{digest}")
    link = os.path.join(base, "ansible_collections", "opsgate", "itsm")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.islink(link) or os.readlink(link) != _ROOT:
        staged = f"{link}.{os.getpid()}"
        os.symlink(_ROOT, staged)
        os.replace(staged, link)  # atomic: a parallel worker never sees the link missing
    return base


os.environ[COLLECTIONS_ENV] = _collection_path()
if "ansible_collections.opsgate.itsm" not in sys.modules:
    sys.path.insert(0, os.environ[COLLECTIONS_ENV])


def pytest_configure(config):
    """The controlling process names the directory of the session's PostgreSQL server (tests/postgresql_server.py):
    the first test that needs the server starts it there, every xdist worker (which inherits the environment)
    shares it, and pytest_unconfigure stops it."""
    if not hasattr(config, "workerinput") and SESSION_POSTGRESQL_ENV not in os.environ:
        config.opsgate_itsm_postgresql = tempfile.mkdtemp(prefix="opsgate-itsm-pg-session-")
        os.environ[SESSION_POSTGRESQL_ENV] = os.path.join(config.opsgate_itsm_postgresql, "server")


def pytest_unconfigure(config):
    directory = getattr(config, "opsgate_itsm_postgresql", None)
    if directory:
        from tests import postgresql_server  # here: the hook runs once, and only then needs it

        postgresql_server.stop(os.path.join(directory, "server"))
        shutil.rmtree(directory, ignore_errors=True)
        os.environ.pop(SESSION_POSTGRESQL_ENV, None)
