# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the ``local_db`` option is read: the path of an SQLite file, or a PostgreSQL URL. FOR INTERNAL COLLECTION USE ONLY.

The one place that decides which database the local backend uses, how messages and the outbox name it (a
URL without its password), and which parts of it are secrets. A value that starts with ``scheme://`` is a
URL: ``postgresql://`` (or ``postgres://``) selects the PostgreSQL store, any other scheme is refused; any
other value is a file path (``~`` and ``$VARS`` expanded, made absolute).
"""

from __future__ import annotations

import dataclasses
import os
import re
import urllib.parse

from ._errors import ItsmSettingsError

#: the URL schemes that select the PostgreSQL store (libpq's own two)
POSTGRESQL_SCHEMES = ("postgresql", "postgres")
ALLOWED = ("expected the path of an SQLite file, or a PostgreSQL URL such as "
           "postgresql://itsm@db.example.com:5432/itsm?sslmode=verify-full")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Query parameters of a libpq URL that hold a secret.
_SECRET_PARAMETERS = ("password", "sslpassword")
#: the table the recorder's outbox keeps in a PostgreSQL database (issue 17); a local store on the same URL shares
#: the schema with it and takes it for none of another application's
OUTBOX_TABLE = "outbox_items"
_HIDDEN = "********"


@dataclasses.dataclass(frozen=True)
class LocalDb:
    """Where the local store lives. ``url`` (as given, password and all) for PostgreSQL, else ``path``."""

    path: str | None
    url: str | None
    #: how messages name the store: the absolute path, or the URL with its secrets hidden
    shown: str
    #: the secrets the URL carries (its password, as written and decoded), to mask wherever text is shown
    secrets: tuple[str, ...] = ()

    @property
    def is_postgresql(self) -> bool:
        return self.url is not None


def read(value: str, option: str = "local_db") -> LocalDb:
    """``local_db`` (or the recorder's ``outbox``, which takes the same values: ``option``) as a LocalDb; a URL of
    any scheme other than PostgreSQL's is refused, naming the option."""
    match = _SCHEME.match(value)
    if match is None:
        path = os.path.abspath(os.path.expanduser(os.path.expandvars(value)))
        return LocalDb(path=path, url=None, shown=path)
    shown, secrets = _redacted(value)
    if match.group(1).lower() not in POSTGRESQL_SCHEMES:
        raise ItsmSettingsError(option, shown, ALLOWED + f"; the scheme {match.group(1)}:// is not one of "
                                + ", ".join(f"{scheme}://" for scheme in POSTGRESQL_SCHEMES))
    return LocalDb(path=None, url=value, shown=shown, secrets=secrets)


def shown(value: str) -> str:
    """How messages name the store ``value`` selects, never refusing (the outbox names items' targets with it)."""
    if _SCHEME.match(value):
        return _redacted(value)[0]
    return os.path.abspath(os.path.expanduser(os.path.expandvars(value)))


def secrets(value: str | None) -> tuple[str, ...]:
    """The secrets written into a ``local_db`` URL (none for a file path)."""
    return _redacted(value)[1] if value and _SCHEME.match(value) else ()


def _redacted(url: str) -> tuple[str, tuple[str, ...]]:
    """The URL with its password (and password query parameters) hidden, and the hidden values."""
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:  # not parseable as a URL (a bad port, say): show the scheme only
        return _SCHEME.match(url).group(0) + _HIDDEN, ()
    found: list[str] = []
    netloc = parts.netloc
    if password is not None:
        userinfo, _at, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        found.append(userinfo.split(":", 1)[1])
        netloc = f"{user}:{_HIDDEN}@{hostport}"
    query = []
    for key, item in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if key in _SECRET_PARAMETERS and item:
            found.append(item)
            item = _HIDDEN
        query.append((key, item))
    if any(key in _SECRET_PARAMETERS for key, _item in query):
        rebuilt = urllib.parse.urlencode(query, safe="*/:")
    else:
        rebuilt = parts.query
    secrets_found = {secret for raw in found for secret in (raw, urllib.parse.unquote(raw)) if secret}
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, rebuilt, parts.fragment)), \
        tuple(sorted(secrets_found, key=len, reverse=True))
