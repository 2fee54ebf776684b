#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy the collection's source files to DEST, which must end in ansible_collections/opsgate/itsm.

DEST is emptied first, except DEST/tests/output (ansible-test's results and cached venvs).

ansible-test only works on a collection that really lives at .../ansible_collections/<ns>/<name>
(it resolves symlinks), and the repository root is not such a path. The files copied are the ones
git would ship: tracked plus untracked-but-not-ignored (`git ls-files --cached --others
--exclude-standard`), so local venvs, caches and test output never reach the linters. Outside a git
checkout (an exported tree) the root .gitignore is applied instead, with the common subset of its
syntax: `#` comments, `/` anchors, trailing-`/` directory patterns and globs.

Usage: collection_copy.py ROOT DEST
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys


def git_files(root: str) -> list[str] | None:
    """Return the paths git would ship, or None when ROOT is not inside a git work tree."""
    try:
        inside = subprocess.run(["git", "-C", root, "rev-parse", "--is-inside-work-tree"],
                                capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    listing = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True)
    paths = [p for p in listing.stdout.decode("utf-8", "surrogateescape").split("\0") if p]
    # A tracked file deleted in the work tree is still listed; it is not part of what is tested.
    return sorted(p for p in set(paths) if os.path.lexists(os.path.join(root, p)))


def _ignore_rules(root: str) -> list[tuple[str, bool, bool]]:
    """Parse ROOT/.gitignore into (pattern, anchored, directory_only) rules."""
    rules = [(".git", False, True)]
    path = os.path.join(root, ".gitignore")
    if not os.path.exists(path):
        return rules
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("!"):
                raise SystemExit(f"{path}: negated pattern {line!r} is not supported outside a git checkout")
            directory_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = line.startswith("/") or "/" in line
            rules.append((line.lstrip("/"), anchored, directory_only))
    return rules


def _ignored(rel: str, is_dir: bool, rules: list[tuple[str, bool, bool]]) -> bool:
    name = os.path.basename(rel)
    for pattern, anchored, directory_only in rules:
        if directory_only and not is_dir:
            continue
        if fnmatch.fnmatch(rel if anchored else name, pattern):
            return True
    return False


def walked_files(root: str) -> list[str]:
    """Return the files under ROOT that .gitignore does not exclude."""
    rules = _ignore_rules(root)
    found = []
    for current, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(current, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        kept = []
        for name in dirs:
            rel = os.path.join(rel_dir, name)
            if _ignored(rel, True, rules):
                continue
            if os.path.islink(os.path.join(current, name)):
                found.append(rel)
            else:
                kept.append(name)
        dirs[:] = kept
        found.extend(os.path.join(rel_dir, n) for n in files if not _ignored(os.path.join(rel_dir, n), False, rules))
    return sorted(found)


def _clear(dest: str) -> None:
    """Empty DEST but keep its tests/output/, where ansible-test keeps its delegation venv between runs."""
    if not os.path.isdir(dest):
        return
    for name in os.listdir(dest):
        path = os.path.join(dest, name)
        if name == "tests" and os.path.isdir(path) and not os.path.islink(path):
            for inner in os.listdir(path):
                if inner != "output":
                    _remove(os.path.join(path, inner))
        else:
            _remove(path)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def main() -> None:
    """Copy ROOT's shippable files into a fresh DEST."""
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    root, dest = (os.path.abspath(a) for a in sys.argv[1:])
    if not dest.endswith(os.path.join("ansible_collections", "opsgate", "itsm")):
        raise SystemExit(f"{dest} must end in ansible_collections/opsgate/itsm")
    files = git_files(root)
    source = "git"
    if files is None:
        files, source = walked_files(root), ".gitignore"
    _clear(dest)
    for rel in files:
        src, dst = os.path.join(root, rel), os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.lexists(dst):
            _remove(dst)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    print(f"copied {len(files)} files ({source} listing) to {dest}")


if __name__ == "__main__":
    main()
