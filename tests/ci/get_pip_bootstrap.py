#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Give ansible-test a pip bootstrap script that works without its CI file server.

ansible-test creates its virtual environments without pip and then runs
~/.ansible/test/cache/get_pip_<X>_<Y>.py, which it downloads from ci-files.testing.ansible.com
when the file is missing. That server is unreachable here, so this writes a small stand-in that
installs pip with the standard library's ensurepip and then runs `pip install` with the arguments
ansible-test passes (`pip==X.Y` and friends), from the package index pip is configured with.

Run it with the Python of the virtualenv that holds ansible-test: the pip versions are read from
that ansible-test's own python_requirements.py, so every ansible-core release gets the right names.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys

MARKER = "# opsgate.itsm pip bootstrap stand-in"

STAND_IN = MARKER + '''
"""Install pip with ensurepip, then pip install what ansible-test asked for (written by tests/ci/get_pip_bootstrap.py)."""
import subprocess
import sys

# get-pip.py options that `pip install` does not know; setuptools and wheel are simply not installed.
_GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True, stdout=subprocess.DEVNULL)
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + [a for a in sys.argv[1:] if a not in _GET_PIP_ONLY]))
'''


def pip_versions() -> list[str]:
    """Return every pip version named in the installed ansible-test's python_requirements.py."""
    spec = importlib.util.find_spec("ansible_test")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"ansible-test is not installed for {sys.executable}; run `make venv` first.")
    source = os.path.join(list(spec.submodule_search_locations)[0], "_internal", "python_requirements.py")
    with open(source, encoding="utf-8") as handle:
        versions = sorted(set(re.findall(r"\bpip=['\"](\d+(?:\.\d+)+)['\"]", handle.read())))
    if not versions:
        raise SystemExit(f"No pip='X.Y' found in {source}; ansible-test changed how it pins pip.")
    return versions


def main() -> None:
    """Write the stand-in for each pip version, leaving any real get-pip script in place."""
    cache = os.path.expanduser(os.path.join("~", ".ansible", "test", "cache"))
    os.makedirs(cache, exist_ok=True)
    for version in pip_versions():
        path = os.path.join(cache, f"get_pip_{version.replace('.', '_')}.py")
        if os.path.exists(path) and not _is_ours(path):
            print(f"pip bootstrap: keeping existing {path}")
            continue
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(STAND_IN)
        print(f"pip bootstrap: wrote {path} (pip {version})")


def _is_ours(path: str) -> bool:
    """Tell a stand-in written by this script from a genuine get-pip script."""
    with open(path, encoding="utf-8") as handle:
        return handle.read(len(MARKER)) == MARKER


if __name__ == "__main__":
    main()
