# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bottom of the jsm backend: Jira platform, Service Management and Assets REST calls.
FOR INTERNAL COLLECTION USE ONLY.

Every other file of the package talks to the site through a JsmClient, on the shared transport
(_http.HttpClient: one session, TLS, proxies, timeouts, retries honouring Retry-After and naming Jira's
RateLimit-Reason, secrets redacted, error bodies read into the collection's error tree). Credentials
(jira-api.md section 2): ``username`` + ``token`` is an API token sent as Basic (Cloud), ``token`` alone a
personal access token sent as Bearer (Data Center), ``username`` + ``password`` Basic (Data Center). ``url``
is the site, or the scoped-token form ``https://api.atlassian.com/ex/jira/{cloudId}``.

The site's metadata (the deployment type from ``serverInfo``, the field list, the Assets workspace) is read
once per site and user and kept on disk (SiteCache: a 0600 file in a 0700 directory under the user's cache,
``$XDG_CACHE_HOME/opsgate.itsm/jsm``, keyed by the site's URL and the user, never holding a secret, kept a day),
so a task (a new process) does not pay two or three site reads before its first record request. Metadata
taken from the file is trusted until the site contradicts it: a search the flavour does not have (404, 410),
a write Jira refuses naming a field id, an issue read without a field the list names; then the client forgets
it (``forget_site``), reads it again and the caller repeats the request once (an Assets call that 404s on a
cached workspace too). Search is one generator on both flavours (section 4): Data Center pages ``/search`` by
startAt and total; Cloud follows ``nextPageToken`` on ``/search/jql``, passing just-created issues in
``reconcileIssues`` since its index lags: the newest 50 (Cloud's most) of those created from this controller in
the last 15 minutes, remembered next to the site's cache file (CreatedIssues), so a task finds what an earlier
task created a moment before. Assets AQL pages on the Cloud workspace form or Data Center's
``/rest/insight/1.0``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import fcntl
import hashlib
import json
import os
import re
import tempfile
import time
import typing as t
import urllib.parse
import uuid

from ..._errors import ItsmNotFoundError, ItsmSettingsError, ItsmUnexpectedResponseError, ItsmValidationError
from ..._http import HttpClient, ItsmHttpError, Response
from ..._options import ConnectionSettings

API = "/rest/api/2"
DESK_API = "/rest/servicedeskapi"
INSIGHT_API = "/rest/insight/1.0"
# Sent on every service-desk call: experimental endpoints need it, the others ignore it (section 5.5).
DESK_HEADERS = {"X-ExperimentalApi": "opt-in"}
#: the comment property that makes a JSM comment internal (an agent's work note), section 8.5
INTERNAL_COMMENT = "sd.public.comment"
SEARCH_PAGE = 100  # Cloud's most with fields; Data Center allows more but pages are cheap
RECONCILE_MAX = 50
DESK_PAGE = 50
SCOPED_HOST = "api.atlassian.com"
_SCOPED_PATH = re.compile(r"^(?P<root>.*)/ex/jira/[A-Za-z0-9-]+$")
SITE_CACHE_SECONDS = 24 * 3600  # a site's fields rarely change; a refusal or a missing field re-reads them sooner
#: CreatedIssues: the issues remembered, the newest this many created within CREATED_SECONDS (well over Cloud's
#: index lag, seconds to a minute or two); the newest RECONCILE_MAX of them ride on every Cloud search
CREATED_KEEP = 200
CREATED_SECONDS = 15 * 60
#: what of a field the backend reads (approvals.py: the schema's custom type; field_ids: id, name, custom)
_FIELD_KEYS = ("id", "name", "custom", "schema")
CREDENTIALS = ("give username and token (an API token, Jira Cloud), token alone (a personal access token, "
               "Data Center) or username and password (Data Center)")


def auth_method(settings: ConnectionSettings) -> str:
    """The transport's method for these credentials: ``api_token`` (Basic username:token), ``token`` (Bearer),
    ``basic`` (username:password). OAuth client credentials and API keys are ServiceNow's, refused by name."""
    for option in ("client_id", "client_secret", "api_key"):
        if getattr(settings, option):
            raise ItsmSettingsError(option, "(set)", f"the jsm backend does not use {option}; {CREDENTIALS}",
                                    message=f"{option}: the jsm backend does not use {option}; {CREDENTIALS}")
    if settings.token:
        return "api_token" if settings.username else "token"
    if settings.username and settings.password:
        return "basic"
    raise ItsmSettingsError("token", None, CREDENTIALS, message=f"token: no credentials for the jsm backend; "
                            f"{CREDENTIALS}")


def check_url(url: str | None) -> str:
    """The site's address, or the scoped-token base ``https://api.atlassian.com/ex/jira/{cloudId}``."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.hostname == SCOPED_HOST and not _SCOPED_PATH.match(parts.path.rstrip("/")):
        raise ItsmSettingsError("url", url, "with a scoped API token the address is https://api.atlassian.com/ex/"
                                "jira/{cloudId} (the cloudId is in https://<site>.atlassian.net/_edge/tenant_info)")
    if parts.query or parts.fragment:
        raise ItsmSettingsError("url", url, "expected the site's address without ?query or #fragment, like "
                                "https://example.atlassian.net or https://jira.example.com/jira")
    return (url or "").rstrip("/")


def cache_directory() -> str:
    """Where site metadata is kept: ``$XDG_CACHE_HOME/opsgate.itsm/jsm``, else ``~/.cache/opsgate.itsm/jsm``."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "opsgate.itsm", "jsm")


class SiteCache:
    """One site's metadata as one user sees it, in a JSON file: ``{url, user, saved, deploymentType, fields,
    assets_base}``. The file name is a SHA-256 of the URL and the identity (the user name, or for a personal
    access token alone a SHA-256 of it), so two users or tokens never share a file and no secret is written.
    Every failure to read or write the file is a cache miss: the site is asked instead."""

    def __init__(self, url: str, identity: str, directory: str | None = None, max_age: float = SITE_CACHE_SECONDS):
        self.url, self.identity = url, identity
        self.directory = directory or cache_directory()
        digest = hashlib.sha256(f"{url}\n{identity}".encode("utf-8")).hexdigest()[:32]
        self.path = os.path.join(self.directory, f"site-{digest}.json")
        self.max_age = max_age

    def load(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        fresh = isinstance(data, dict) and time.time() - float(data.get("saved") or 0) < self.max_age
        return data if fresh and data.get("url") == self.url and data.get("identity") == self.identity else {}

    def save(self, values: t.Mapping[str, t.Any]) -> None:
        data = {**self.load(), **values, "url": self.url, "identity": self.identity, "saved": time.time()}
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            os.chmod(self.directory, 0o700)
            handle, staged = tempfile.mkstemp(dir=self.directory, prefix=".site-", suffix=".tmp")  # created 0600
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(staged, self.path)  # atomic: a concurrent fork reads the old file or the new one
        except OSError:
            return  # a read-only home or a full disk: the next task asks the site again

    def forget(self) -> None:
        try:
            os.remove(self.path)
        except OSError:
            pass


class CreatedIssues:
    """The issues created on one site, as one user, from this controller in the last CREATED_SECONDS (at most
    CREATED_KEEP): ``{id, key, kind, cid, at}``, ``cid`` a SHA-256 of the correlation id. Kept next to the site's
    SiteCache file (``created-<digest>.json``, 0600, in the same 0700 directory; no secret), so a task (a new
    process) knows what the tasks before it created while Cloud's search index does not show it yet: their ids
    ride on every search in ``reconcileIssues``, and a create finds a twin a concurrent fork made (claiming()).

    Concurrent forks: the file is rewritten atomically (a temporary file renamed over it) under an exclusive lock on
    byte 0 of ``created-<digest>.lock``, so no fork loses another's id; claiming() locks one byte of the same file
    chosen by the correlation id, so creates of one correlation id run one at a time while others go on. The locks
    are POSIX record locks of the process: they are held per process, and one controller's processes share them,
    never two controllers. Every failure to read, write or lock is a miss: the create goes on unguarded, as before.
    """

    def __init__(self, site_cache: SiteCache):
        self.directory = site_cache.directory
        name = os.path.basename(site_cache.path).replace("site-", "created-", 1)
        self.path = os.path.join(self.directory, name)
        self.lock_path = self.path[:-len(".json")] + ".lock"
        self.here: list[dict] = []  # what this process created: kept when the file cannot be written
        self._handle: int | None = None  # the lock file's descriptor while claiming() holds it

    def entries(self) -> list[dict]:
        """The remembered issues within the window, oldest first (this process's own even when the file fails)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            data = {}
        listed = data.get("issues") if isinstance(data, dict) else None
        since = time.time() - CREATED_SECONDS
        merged = {str(item["id"]): item for item in [*(listed if isinstance(listed, list) else []), *self.here]
                  if isinstance(item, dict) and "id" in item and _number(item.get("at"), float) >= since}
        return sorted(merged.values(), key=lambda item: (_number(item.get("at"), float), _number(item["id"])))

    def ids(self) -> list[str]:
        return [str(item["id"]) for item in self.entries()]

    def holder(self, kind: str, correlation_id: str) -> dict | None:
        """The newest remembered issue of ``kind`` created with ``correlation_id``, None when there is none."""
        digest = _digest(correlation_id)
        held = [item for item in self.entries() if item.get("kind") == kind and item.get("cid") == digest]
        return held[-1] if held else None

    @contextlib.contextmanager
    def claiming(self, correlation_id: str) -> t.Iterator[None]:
        """Held around a create's look at holder(), its POST and remember(): a concurrent fork creating the same
        correlation id waits here, then finds this one's issue in holder()."""
        handle = self._handle = self._open_lock()
        try:
            if handle is not None:
                _lock(handle, fcntl.LOCK_EX, 1 + int(_digest(correlation_id)[:8], 16))
            yield
        finally:
            self._handle = None
            if handle is not None:
                os.close(handle)  # releases every lock this process holds on the file

    def remember(self, issue_id: str, key: str, kind: str, correlation_id: str | None) -> None:
        """Add a just-created issue, under the file's lock (byte 0), dropping what fell out of the window."""
        entry = {"id": str(issue_id), "key": key, "kind": kind, "at": time.time(),
                 "cid": _digest(correlation_id) if correlation_id else None}
        self.here.append(entry)
        # Within a claim its descriptor is used: closing any descriptor of the file would drop the claim's lock
        # (POSIX record locks belong to the process, not to the descriptor).
        owned = self._handle is None
        handle = self._open_lock() if owned else self._handle
        if handle is None:
            return
        staged = None
        try:
            _lock(handle, fcntl.LOCK_EX, 0)
            kept = [item for item in self.entries() if item["id"] != entry["id"]] + [entry]
            fd, staged = tempfile.mkstemp(dir=self.directory, prefix=".created-", suffix=".tmp")  # created 0600
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"issues": kept[-CREATED_KEEP:]}, out)
            os.replace(staged, self.path)  # atomic: a reader sees the old list or the new one
            staged = None
        except OSError:
            pass  # a read-only or full cache: this process still remembers (``here``)
        finally:
            if staged:
                with contextlib.suppress(OSError):
                    os.remove(staged)
            _lock(handle, fcntl.LOCK_UN, 0)
            if owned:
                os.close(handle)

    def _open_lock(self) -> int | None:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            os.chmod(self.directory, 0o700)
            return os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None


def _lock(handle: int, operation: int, offset: int) -> None:
    """One byte of the lock file, at ``offset``, locked (LOCK_EX) or unlocked (LOCK_UN); blocks until granted."""
    with contextlib.suppress(OSError):
        fcntl.lockf(handle, operation, 1, offset, os.SEEK_SET)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def _number(value: t.Any, kind: t.Callable[[t.Any], t.Any] = int) -> t.Any:
    """``kind(value)``, 0 for what is no number (a hand-edited or foreign file is a miss, never an error)."""
    try:
        return kind(value)
    except (TypeError, ValueError):
        return 0


def identity_of(settings: ConnectionSettings) -> str:
    """Who the metadata is read as: the user name, or a digest of a personal access token used alone."""
    if settings.username:
        return f"user:{settings.username}"
    return "token:" + hashlib.sha256(str(settings.token or "").encode("utf-8")).hexdigest()


class JsmClient:
    """The site as the backend's files see it: ``http`` for single requests, typed reads on top."""

    def __init__(self, settings: ConnectionSettings, warn: t.Callable[[str], None], **http_options: t.Any):
        check_url(settings.url)
        self.settings = settings
        self.warn = warn
        self.http = HttpClient(settings, warn, auth_method=auth_method(settings), **http_options)
        self.site_cache = SiteCache(check_url(settings.url), identity_of(settings))
        #: the issues created on the site from this controller lately: reconciled in every Cloud search
        self.created = CreatedIssues(self.site_cache)
        cached = self.site_cache.load()
        self._server: dict | None = ({"deploymentType": cached["deploymentType"]}
                                     if isinstance(cached.get("deploymentType"), str) else None)
        self._fields: list[dict] | None = cached["fields"] if isinstance(cached.get("fields"), list) else None
        assets_base = cached.get("assets_base")
        self._assets_base: str | None = assets_base if isinstance(assets_base, str) else None
        #: True while some metadata in use came from the file and the site has not confirmed it
        self.site_from_cache = any(value is not None for value in (self._server, self._fields, self._assets_base))
        #: bumped by forget_site, so the files that derived ids from the metadata (codec.py) derive them again
        self.site_generation = 0

    def call(self, method: str, path: str, what: str, **options: t.Any) -> t.Any:
        """One request (options as HttpClient.request takes them); the decoded JSON body, None when empty."""
        return self.http.request(method, path, what=what, **options).body

    def call_dated(self, method: str, path: str, what: str, **options: t.Any) -> tuple[t.Any, str | None]:
        """``call``, with when the site answered (its ``Date`` header, ISO 8601 UTC; None without one): the time a
        write that answers no fields (create, edit) took effect, to the second."""
        response = self.http.request(method, path, what=what, **options)
        return response.body, answered_at(response.headers or {})

    # -- the site ------------------------------------------------------------------------------------

    def server_info(self) -> dict:
        if self._server is None:
            body = self.call("GET", f"{API}/serverInfo", "read the Jira server information")
            if not isinstance(body, dict) or "deploymentType" not in body:
                raise ItsmUnexpectedResponseError(f"url: {self.http.base} did not answer /rest/api/2/serverInfo "
                                                  "as Jira does; is it a Jira site?", url=self.http.base)
            self._server = body
            self.site_cache.save({"deploymentType": body["deploymentType"]})
        return self._server

    @property
    def cloud(self) -> bool:
        """Jira Cloud (``deploymentType: Cloud``); anything else is Server / Data Center."""
        return self.server_info().get("deploymentType") == "Cloud"

    def fields(self) -> list[dict]:
        """The site's fields ``{id, name, custom, schema, ...}``, read once."""
        if self._fields is None:
            listed = self.call("GET", f"{API}/field", "read the Jira field list") or []
            self._fields = [{key: field[key] for key in _FIELD_KEYS if key in field} for field in listed
                            if isinstance(field, dict) and "id" in field]
            self.site_cache.save({"fields": self._fields})
        return self._fields

    def forget_site(self) -> bool:
        """Drop metadata that came from the cache file (and the file), so it is read from the site again; False
        when there was none to drop (the site itself said what is in use: repeating would not help)."""
        if not self.site_from_cache:
            return False
        self.site_cache.forget()
        self._server = self._fields = self._assets_base = None
        self.site_from_cache = False
        self.site_generation += 1
        return True

    def refuses_field(self, error: Exception, sent: t.Iterable[str]) -> bool:
        """Whether a refused write (400) names one of the field ids ``sent`` (Jira keys its ``errors`` by field id,
        and the transport quotes them in the reason): what a stale field list causes."""
        if not isinstance(error, ItsmHttpError) or error.status != 400:
            return False
        return any(re.search(rf"\b{re.escape(name)}\b", error.reason) for name in sent
                   if name.startswith("customfield_"))

    def field_ids(self, names: t.Iterable[str], option: str = "mapping") -> dict[str, str]:
        """Field name (case-insensitive; an id is accepted as itself) -> id. Every name the site lacks is
        refused at once, naming ``option`` and listing the site's custom fields."""
        by_name: dict[str, str] = {}
        for field in self.fields():
            by_name.setdefault(str(field.get("name", "")).lower(), field["id"])
        known_ids = {field["id"] for field in self.fields()}
        found, missing = {}, []
        for name in names:
            field_id = name if name in known_ids else by_name.get(name.lower())
            if field_id is None:
                missing.append(name)
            else:
                found[name] = field_id
        if missing and self.forget_site():
            return self.field_ids(names, option)  # the cached list may predate the field: ask the site
        if missing:
            custom = sorted(str(f.get("name")) for f in self.fields() if f.get("custom"))
            raise ItsmValidationError(option, missing[0] if len(missing) == 1 else missing,
                                      f"{self.http.base} has no field of that name; its custom fields are: "
                                      + ", ".join(custom))
        return found

    # -- issues --------------------------------------------------------------------------------------

    def issue(self, key: str, fields: t.Sequence[str] = ("*all",), properties: t.Sequence[str] = ()) -> dict:
        params = {"fields": ",".join(fields)}
        if properties:
            params["properties"] = ",".join(properties)
        return self.call("GET", f"{API}/issue/{_segment(key)}", f"read {key}", params=params)

    def create_issue(self, fields: t.Mapping[str, t.Any], properties: t.Mapping[str, t.Any] | None = None,
                     recover: t.Callable[[], Response | None] | None = None) -> dict:
        """``{id, key, self}`` of a new issue; its properties (a correlation id) are set in the same request."""
        return self.create_issue_dated(fields, properties, recover)[0]

    def create_issue_dated(self, fields: t.Mapping[str, t.Any], properties: t.Mapping[str, t.Any] | None = None,
                           recover: t.Callable[[], Response | None] | None = None) -> tuple[dict, str | None]:
        """create_issue, with when the site answered (call_dated)."""
        body: dict[str, t.Any] = {"fields": dict(fields)}
        if properties:
            body["properties"] = [{"key": key, "value": value} for key, value in properties.items()]
        return self.call_dated("POST", f"{API}/issue", "create issue", json_body=body, recover=recover)

    def edit_issue(self, key: str, fields: t.Mapping[str, t.Any] | None = None,
                   update: t.Mapping[str, t.Any] | None = None) -> None:
        self.call("PUT", f"{API}/issue/{_segment(key)}", f"update {key}",
                  json_body={"fields": dict(fields or {}), "update": dict(update or {})})

    def get_property(self, key: str, name: str) -> t.Any:
        """The issue property's value, None when the issue has none of that name (a missing issue raises)."""
        return (self.issue(key, fields=("status",), properties=(name,)).get("properties") or {}).get(name)

    def set_property(self, key: str, name: str, value: t.Any) -> None:
        self.call("PUT", f"{API}/issue/{_segment(key)}/properties/{_segment(name)}", f"set property {name} of {key}",
                  json_body=value)

    def delete_property(self, key: str, name: str) -> None:
        """The issue property gone; one the issue does not have is no error (a retried DELETE that had landed)."""
        try:
            self.call("DELETE", f"{API}/issue/{_segment(key)}/properties/{_segment(name)}",
                      f"remove property {name} of {key}")
        except ItsmNotFoundError:
            pass

    def transitions(self, key: str) -> list[dict]:
        """What the workflow offers from the issue's status now: ``{id, name, to: {name, ...}}``."""
        body = self.call("GET", f"{API}/issue/{_segment(key)}/transitions", f"read the transitions of {key}")
        return list((body or {}).get("transitions") or [])

    def transition(self, key: str, transition_id: str, fields: t.Mapping[str, t.Any] | None = None,
                   comment: str | None = None, recover: t.Callable[[], Response | None] | None = None) -> None:
        """Not idempotent (a retried POST could fire an on-transition action twice): resent only when unsent, or
        when ``recover`` (reading the status back) says an attempt whose answer was lost did not take."""
        body: dict[str, t.Any] = {"transition": {"id": str(transition_id)}, "fields": dict(fields or {})}
        if comment:
            body["update"] = {"comment": [{"add": {"body": comment}}]}
        self.call("POST", f"{API}/issue/{_segment(key)}/transitions", f"transition {key}", json_body=body,
                  idempotent=False, recover=recover)

    def status(self, key: str) -> dict:
        """The issue's status now (``{id, name, ...}``), read from the issue itself: strongly consistent."""
        return dict((self.issue(key, fields=("status",)).get("fields") or {}).get("status") or {})

    def add_comment(self, key: str, body: str, internal: bool,
                    recover: t.Callable[[], Response | None] | None = None) -> dict:
        """A comment: internal (a work note, seen by agents only) or public (seen by the customer too)."""
        payload: dict[str, t.Any] = {"body": body,
                                     "properties": [{"key": INTERNAL_COMMENT, "value": {"internal": bool(internal)}}]}
        what = f"add {'an internal' if internal else 'a public'} comment to {key}"
        return self.call("POST", f"{API}/issue/{_segment(key)}/comment", what, json_body=payload, recover=recover)

    def comments(self, key: str, page_size: int = 100) -> t.Iterator[dict]:
        """Every comment of the issue, oldest first, each with its properties (``internal`` is read from them)."""
        start = 0
        while True:
            body = self.call("GET", f"{API}/issue/{_segment(key)}/comment", f"read the comments of {key}",
                             params={"startAt": start, "maxResults": page_size, "expand": "properties"})
            chunk = list(body.get("comments") or [])
            yield from chunk
            start += len(chunk)
            if not chunk or start >= int(body.get("total") or 0):
                return

    # -- search ----------------------------------------------------------------------------------------

    def search(self, jql_text: str, fields: t.Sequence[str] = ("status",), page_size: int = SEARCH_PAGE,
               reconcile: t.Sequence[str] = (), what: str = "search issues",
               properties: t.Sequence[str] = (), remembered: bool = True) -> t.Iterator[dict]:
        """Every issue matching ``jql_text`` (built with jql.py), page by page, with ``fields`` (and the issue
        ``properties`` named).

        ``reconcile``: ids of issues Cloud's lagging index may not show yet, sent in ``reconcileIssues`` after
        those created from this controller lately (``created``: other tasks' too); Cloud takes at most 50, so the
        newest 50 go, the caller's last (``remembered`` False: the caller's alone, so the answer is what the index
        holds). Data Center's search is consistent and sends none.
        """
        extra = {"properties": list(properties)} if properties else {}
        try:
            first = self._search_flavour(jql_text, fields, page_size, reconcile, what, extra, remembered)
            head = next(first, None)
        except (ItsmNotFoundError, ItsmHttpError) as error:
            # Cloud answers the Data Center search 410, Data Center has no /search/jql (404): a cached deployment
            # type the site contradicts is read again, and the search sent to the right place.
            if getattr(error, "status", 404) not in (404, 410) or not self.forget_site():
                raise
            first = self._search_flavour(jql_text, fields, page_size, reconcile, what, extra, remembered)
            head = next(first, None)
        return _chain(head, first)

    def _search_flavour(self, jql_text: str, fields: t.Sequence[str], page_size: int, reconcile: t.Sequence[str],
                        what: str, extra: dict, remembered: bool = True) -> t.Iterator[dict]:
        if self.cloud:
            newest_first = dict.fromkeys(str(i) for i in reversed([*(self.created.ids() if remembered else []),
                                                                   *reconcile]))
            ids = list(reversed(newest_first))  # each once, at its last place
            return self._search_cloud(jql_text, list(fields), page_size, [int(i) for i in ids][-RECONCILE_MAX:],
                                      what, extra)
        return self._search_datacenter(jql_text, list(fields), page_size, what, extra)

    def _search_cloud(self, jql_text: str, fields: list[str], page_size: int, reconcile: list[int],
                      what: str, extra: dict) -> t.Iterator[dict]:
        body: dict[str, t.Any] = {"jql": jql_text, "fields": fields, "maxResults": page_size, **extra}
        if reconcile:
            body["reconcileIssues"] = reconcile
        seen_tokens: set[str] = set()
        while True:
            page = self.call("POST", f"{API}/search/jql", what, json_body=body, idempotent=True)
            yield from page.get("issues") or []
            token = page.get("nextPageToken")
            if page.get("isLast", not token) or not token:
                return
            if token in seen_tokens:
                raise ItsmUnexpectedResponseError(f"{what}: {self.http.base} sent the same page token twice")
            seen_tokens.add(token)
            body["nextPageToken"] = token

    def _search_datacenter(self, jql_text: str, fields: list[str], page_size: int, what: str,
                           extra: dict) -> t.Iterator[dict]:
        start = 0
        while True:
            page = self.call("POST", f"{API}/search", what, idempotent=True, json_body={
                "jql": jql_text, "startAt": start, "maxResults": page_size, "fields": fields, **extra})
            issues = list(page.get("issues") or [])
            yield from issues
            start += len(issues)  # the server may cap maxResults below what was asked
            if not issues or start >= int(page.get("total") or 0):
                return

    def group_exists(self, name: str) -> bool:
        """Whether the site has a group of that name: one GET of its first member, or none when a task on this
        controller saw the group within SITE_CACHE_SECONDS (groups are rarely renamed; a group removed since is
        only an issue property value, which Jira never checks)."""
        known = self.site_cache.load().get("groups") or []
        if name in known:
            return True
        try:
            self.call("GET", f"{API}/group/member", f"look up the group {name!r}",
                      params={"groupname": name, "maxResults": 1})
        except ItsmNotFoundError:
            return False
        self.site_cache.save({"groups": sorted({*known, name})[-200:]})
        return True

    # -- service desk ----------------------------------------------------------------------------------

    def desk_values(self, path: str, what: str, params: t.Mapping[str, t.Any] | None = None) -> t.Iterator[dict]:
        """The ``values`` of a paged service-desk list (``start``/``limit``/``isLastPage``, section 4.3)."""
        start = 0
        while True:
            page = self.call("GET", DESK_API + path, what, headers=DESK_HEADERS,
                             params={**(params or {}), "start": start, "limit": DESK_PAGE})
            values = list(page.get("values") or [])
            yield from values
            start += len(values)
            if page.get("isLastPage", True) or not values:
                return

    def service_desk(self, project_key: str) -> dict:
        """The service desk of a project (``{id, projectId, projectKey, ...}``), refused naming ``project``."""
        desks = list(self.desk_values("/servicedesk", "read the service desks"))
        for desk in desks:
            if str(desk.get("projectKey", "")).lower() == project_key.lower():
                return desk
        raise ItsmValidationError("project", project_key, f"{self.http.base} has no service project of that key; "
                                  "its service projects are: " + ", ".join(str(d.get("projectKey")) for d in desks))

    def request_types(self, desk_id: str) -> list[dict]:
        """The request types of a service desk: ``{id, name, issueTypeId, ...}``."""
        return list(self.desk_values(f"/servicedesk/{_segment(desk_id)}/requesttype",
                                     f"read the request types of service desk {desk_id}"))

    # -- Assets ----------------------------------------------------------------------------------------

    def assets_base(self) -> str:
        """The Assets REST root: Cloud's workspace form (its id read once from the service desk API, under the
        site or api.atlassian.com, never the scoped ``/ex/jira`` prefix) or Data Center's ``/rest/insight/1.0``."""
        if self._assets_base is None:
            if self.cloud:
                values = list(self.desk_values("/assets/workspace", "read the Assets workspace"))
                if not values:
                    raise ItsmUnexpectedResponseError(f"{self.http.base} has no Assets workspace", url=self.http.base)
                match = _SCOPED_PATH.match(self.http.base)
                root = match.group("root") if match else self.http.base
                self._assets_base = f"{root}/jsm/assets/workspace/{_segment(values[0]['workspaceId'])}/v1"
            else:
                self._assets_base = self.http.base + INSIGHT_API
            self.site_cache.save({"assets_base": self._assets_base})
        return self._assets_base

    def aql(self, query: str, page_size: int = 50, attributes: bool = True,
            what: str = "search Assets objects") -> t.Iterator[dict]:
        """Every Assets object matching the AQL ``query``, page by page; each carries ``values``
        ({attribute name: value}) read from its attributes."""
        start = 0
        while True:
            objects, total, last = self.aql_page(query, start, page_size, attributes, what)
            yield from objects
            start += len(objects)
            if not objects or start >= total or last:
                return

    # -- Assets: one AQL page at an offset (cmdb.py reads pages in parallel with it) --------------------

    def aql_page(self, query: str, start: int, page_size: int, attributes: bool = True,
                 what: str = "search Assets objects") -> tuple[list[dict], int, bool]:
        """The objects from ``start`` (a multiple of ``page_size`` on Data Center, which pages by number),
        the total that match, and whether this is the last page. Each object carries ``values``."""
        try:
            return self._aql_page(query, start, page_size, attributes, what)
        except ItsmNotFoundError:
            if self._assets_base is None or not self.forget_site():  # a cached workspace the site no longer has
                raise
            return self._aql_page(query, start, page_size, attributes, what)

    def _aql_page(self, query: str, start: int, page_size: int, attributes: bool,
                  what: str) -> tuple[list[dict], int, bool]:
        base = self.assets_base()
        if self.cloud:
            page = self.call("POST", f"{base}/object/aql", what, idempotent=True, json_body={"qlQuery": query},
                             params={"startAt": start, "maxResults": page_size,
                                     "includeAttributes": str(attributes).lower()})
            objects, total = list(page.get("values") or []), int(page.get("total") or 0)
        else:
            page = self.call("GET", f"{base}/aql/objects", what, params={
                "qlQuery": query, "page": start // page_size + 1, "resultPerPage": page_size,
                "includeAttributes": str(attributes).lower()})
            objects, total = list(page.get("objectEntries") or []), int(page.get("totalFilterCount") or 0)
        names = {str(a.get("id")): a.get("name") for a in page.get("objectTypeAttributes") or []}
        for item in objects:
            item["values"] = _attribute_values(item, names)
        return objects, total, bool(self.cloud and page.get("isLast"))

    # -- attachments, issue links, the caller (approvals.py, links.py, attachments.py) ----------------------

    def myself(self) -> dict:
        """The connection's own user: ``accountId`` on Cloud, ``name`` and ``key`` on Data Center."""
        return self.call("GET", f"{API}/myself", "read the connection's user")

    def upload_attachment(self, key: str, name: str, content: bytes, content_type: str,
                          recover: t.Callable[[], Response | None] | None = None) -> dict:
        """One file attached to the issue (multipart, with the XSRF opt-out Jira requires); its metadata
        ``{id, filename, size, mimeType, created, content, ...}``. A POST: resent only when unsent or when
        ``recover`` cannot find it."""
        body, multipart_type = multipart_file(name, content, content_type)
        answer = self.call("POST", f"{API}/issue/{_segment(key)}/attachments", f"attach {name} to {key}", data=body,
                           headers={"Content-Type": multipart_type, "X-Atlassian-Token": "no-check"},
                           idempotent=False, recover=recover)
        if not isinstance(answer, list) or not answer or not isinstance(answer[0], dict):
            raise ItsmUnexpectedResponseError(f"attach {name} to {key}: {self.http.base} did not answer with the "
                                              "attachment's metadata", url=self.http.base)
        return answer[0]

    def delete_attachment(self, attachment_id: str, what: str) -> None:
        self.call("DELETE", f"{API}/attachment/{_segment(attachment_id)}", what)

    def add_link(self, link_type: str, inward_key: str, outward_key: str, what: str,
                 recover: t.Callable[[], Response | None] | None = None) -> None:
        """An issue link of ``link_type`` (``Causes``): the outward issue then shows the type's inward phrase
        (``is caused by``) towards the inward issue, which shows the outward phrase (``causes``)."""
        self.call("POST", f"{API}/issueLink", what, idempotent=False, recover=recover, json_body={
            "type": {"name": link_type}, "inwardIssue": {"key": inward_key}, "outwardIssue": {"key": outward_key}})

    def delete_link(self, link_id: str, what: str) -> None:
        self.call("DELETE", f"{API}/issueLink/{_segment(link_id)}", what)

    def close(self) -> None:
        self.http.close()


def answered_at(headers: t.Mapping[str, str]) -> str | None:
    """An HTTP ``Date`` header (RFC 9110 5.6.7) as ISO 8601 UTC, None when absent or unreadable."""
    value = headers.get("Date") or headers.get("date")
    try:
        moment = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _chain(head: dict | None, rest: t.Iterator[dict]) -> t.Iterator[dict]:
    if head is None:
        return
    yield head
    yield from rest


def _attribute_values(item: dict, names: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    values = {}
    for attribute in item.get("attributes") or []:
        name = names.get(str(attribute.get("objectTypeAttributeId")))
        given = [v.get("value") for v in attribute.get("objectAttributeValues") or [] if isinstance(v, dict)]
        if name:
            values[name] = given[0] if len(given) == 1 else given or None
    return values


def _segment(value: t.Any) -> str:
    """A value as one path segment: ``/``, ``?`` and ``#`` cannot leave it."""
    return urllib.parse.quote(str(value), safe="")


def multipart_file(name: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart/form-data body holding one part ``file`` (what Jira's attachment endpoint reads) and its
    Content-Type. The file name is sent as UTF-8 with quotes and line breaks percent-encoded, as browsers do,
    so a name can never close the header it sits in."""
    boundary = uuid.uuid4().hex
    quoted = name.replace("\\", "%5C").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{quoted}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode("utf-8")
    return head + content + f"\r\n--{boundary}--\r\n".encode("ascii"), f"multipart/form-data; boundary={boundary}"
