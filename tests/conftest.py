"""Make the working tree importable as ansible_collections.opsgate.itsm without installing it."""

import os
import sys
import tempfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collection_path() -> str:
    base = os.path.join(tempfile.gettempdir(), f"opsgate-itsm-pytest-{os.getuid()}")
    link = os.path.join(base, "ansible_collections", "opsgate", "itsm")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.islink(link) and os.readlink(link) != _ROOT:
        os.unlink(link)
    if not os.path.lexists(link):
        try:
            os.symlink(_ROOT, link)
        except FileExistsError:
            pass
    return base


if "ansible_collections.opsgate.itsm" not in sys.modules:
    sys.path.insert(0, _collection_path())
