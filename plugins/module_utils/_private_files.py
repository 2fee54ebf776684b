# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files only their owner may read: the local store and the outbox. FOR INTERNAL COLLECTION USE ONLY.

They hold incidents, notes, attachments and recorder payloads, so the collection creates their directories 0700
and the files 0600 whatever the process umask says (issue 14). An SQLite file is created empty here, 0600, before
SQLite opens it: SQLite gives its ``-wal``, ``-shm`` and ``-journal`` files the mode of the database file, so they
are private too. A file that already exists is left as it is (its owner chose), with one warning per path and
process when others may read it.
"""

from __future__ import annotations

import os
import stat
import typing as t

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
#: the companions SQLite keeps beside a database file
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
_WARNED: set[str] = set()


def make_directories(directory: str) -> None:
    """Create ``directory`` and each missing parent 0700 (os.makedirs gives parents the umask's mode)."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for level in reversed(missing):
        try:
            os.mkdir(level, DIRECTORY_MODE)
        except FileExistsError:  # another process made it meanwhile
            pass


def create_file(path: str) -> bool:
    """Create ``path`` empty and 0600 (its directory 0700) unless it exists; True when this call created it."""
    make_directories(os.path.dirname(path))
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(descriptor)
    return True


def warn_if_readable(path: str, what: str, warn: t.Callable[[str], None] | None) -> None:
    """Warn once per path and process when the SQLite file ``path`` or a companion is readable by others."""
    if warn is None:
        return
    for candidate in (path,) + tuple(path + suffix for suffix in SQLITE_COMPANIONS):
        try:
            mode = os.stat(candidate).st_mode
        except OSError:
            continue
        if mode & (stat.S_IRGRP | stat.S_IROTH) and candidate not in _WARNED:
            _WARNED.add(candidate)
            warn(f"{what}: {candidate} is readable by other users (mode {stat.S_IMODE(mode):04o}) and holds records "
                 f"and notes; make it private: chmod 600 {candidate}")
