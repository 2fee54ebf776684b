"""Make the working tree importable as ansible_collections.opsgate.itsm without installing it."""

import hashlib
import os
import sys
import tempfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tests that start ansible-* subprocesses read the tree's location from here (ANSIBLE_COLLECTIONS_PATH).
COLLECTIONS_ENV = "OPSGATE_ITSM_TEST_COLLECTIONS"


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
