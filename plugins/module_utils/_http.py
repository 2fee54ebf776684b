# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP transport of the remote backends: one requests.Session per backend. FOR INTERNAL COLLECTION USE ONLY.

Authentication (OAuth with token reuse and one refresh on 401, basic, bearer, API key, and an
Atlassian API token as Basic username:token when a backend asks for it), TLS settings
and timeouts on every request call (style.md F4), retries of 429/502/503/504, connection errors and
ServiceNow's "Transaction cancelled" bodies with jittered exponential backoff honouring Retry-After,
bounded by ``retries`` and a total time budget (F1-F3), secret redaction in every message, and
request counting for tests and benchmarks.

Every failure, including a request that cannot even be built from the settings (a ca_path that is no CA
bundle, a timeout of 0, a proxy or credential requests refuses), leaves this module as the collection's own
error naming the option (issue 12): ItsmSettingsError for a setting, ItsmTransientError once retries are
spent, ItsmAuthError / ItsmNotFoundError / ItsmHttpError for an answer. Nothing from requests, urllib3, ssl
or the OS escapes.

A write that is not idempotent (POST, or a PATCH that appends a journal entry) is resent only when
the failure proves it never reached the server (429, a connection that was never made), or when the
caller's ``recover`` look-up says it did not land; so a retry never writes a record twice. A write the
server did not answer within the timeout may still be in progress (issue 14): it is looked for only after
the server has had as long again as the timeout, then again with the backoff until the call's budget is
spent, and it is never sent again (found: its answer; never found: an error saying it may still land).
"""

from __future__ import annotations

import base64
import collections
import email.utils
import hashlib
import http.client
import json
import os
import re
import ssl
import threading
import time
import typing as t
import urllib.parse

from ._backoff import Backoff
from ._errors import (ItsmAuthError, ItsmNotFoundError, ItsmSettingsError, ItsmTransientError, ItsmUnavailableError,
                      ItsmUnexpectedResponseError)
from ._options import ConnectionSettings

try:
    import requests
    import urllib3
    from requests.adapters import HTTPAdapter
    # Requests that cannot be built from the settings (a URL, proxy or header requests refuses); the ValueError
    # covers what requests lets through from below (urllib3's timeout check, a header that is not latin-1).
    _SETUP_ERRORS: tuple[type[Exception], ...] = (
        requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema,
        requests.exceptions.InvalidHeader, requests.exceptions.URLRequired, ValueError)
except ImportError:  # pragma: no cover - exercised by the unavailable-library test through _missing()
    requests = urllib3 = None
    HTTPAdapter = object
    _SETUP_ERRORS = (ValueError,)

# Why each status is retried: 429 is a rate limit (nothing ran; Retry-After says when to come back);
# 502/504 are gateway failures in front of the node; 503 is a node restarting or the semaphore full.
# A 500 is retried only when its body is ServiceNow's transaction-quota cancellation.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
CA_PATH_ALLOWED = ("expected a PEM file of the CA certificates that signed the instance's certificate (or a directory "
                   "of them prepared with openssl rehash), or no ca_path to use the system's CA store")
# How OpenSSL says a CA file holds no usable certificate, and how it says a certificate did not verify.
_NOT_PEM_MARKERS = ("PEM lib", "NO_CERTIFICATE_OR_CRL_FOUND", "no certificate or crl found", "X509_LOOKUP")
_UNVERIFIED_MARKERS = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed")
TRANSACTION_CANCELLED = "Transaction cancelled"
REDACTED = "********"
# A secret this long is masked wherever it appears; a shorter one ("admin") only where it stands alone,
# so it does not blank out every word that happens to contain it.
_MASK_ANYWHERE = 8
_MAX_DELAY = 30.0
_TOKEN_MARGIN = 60.0
_TOKENS: dict[str, tuple[str, float]] = {}  # process-wide OAuth token reuse, keyed by a hash of the credentials
_TOKENS_LOCK = threading.Lock()


class Response(t.NamedTuple):
    status: int
    headers: t.Mapping[str, str]
    body: t.Any
    text: str


class ItsmHttpError(ItsmUnexpectedResponseError):
    """An HTTP error answer; ``status`` and ``reason`` (the server's own message) let backends explain it."""

    def __init__(self, message: str, status: int, reason: str, **details):
        super().__init__(message, status=status, **details)
        self.status = status
        self.reason = reason


def missing_library() -> ItsmUnavailableError:
    from ansible.module_utils.basic import missing_required_lib

    return ItsmUnavailableError(f"backend: {missing_required_lib('requests')}", option="backend")


class _Transient(Exception):
    """Internal: one attempt failed in a way worth retrying. ``sent``: the server may have acted on it;
    ``pending``: it may still be acting on it (no answer came within the timeout)."""

    def __init__(self, reason: str, sent: bool, retry_after: float | None = None, pending: bool = False):
        super().__init__(reason)
        self.reason, self.sent, self.retry_after, self.pending = reason, sent, retry_after, pending


#: what a valid ``url`` looks like, per backend, for the messages that refuse one
URL_EXAMPLES = {"jsm": "https://your-site.atlassian.net"}


def url_example(settings: ConnectionSettings) -> str:
    return URL_EXAMPLES.get(settings.backend or "", "https://dev123.service-now.com")


class HttpClient:
    """A Session bound to one base URL and one set of credentials."""

    def __init__(self, settings: ConnectionSettings, warn: t.Callable[[str], None], token_url: str | None = None,
                 sleep: t.Callable[[float], None] = time.sleep, rng: t.Callable[[], float] | None = None,
                 auth_method: str | None = None):
        if requests is None:
            raise missing_library()
        if not settings.url:
            raise ItsmSettingsError("url", settings.url, "set url (or ITSM_URL) to the instance's https:// address")
        if not settings.url.startswith(("https://", "http://")):
            raise ItsmSettingsError("url", settings.url, f"expected an https:// address like {url_example(settings)}")
        _check_timeout(settings.timeout)
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self.warn = warn
        self.sleep = sleep
        self.rng = rng
        self.verify = _verify(settings)
        if self.verify is False:
            # Said once per backend (one per task), in the collection's words: urllib3's own warning is hidden by
            # PYTHONWARNINGS=ignore and does not say which setting turned verification off.
            warn(f"validate_certs: false: the certificate of {self.base} is not verified, so anyone on the network "
                 "path can read and change what is sent (credentials included); use ca_path instead outside "
                 "throw-away tests")
        self.proxies = {"http": settings.proxy, "https": settings.proxy} if settings.proxy else None
        self.token_url = token_url or f"{self.base}/oauth_token.do"
        # A backend with its own precedence (jsm: username + token is Basic) names the method it chose.
        self.auth_method = auth_method or _auth_method(settings)
        self.secrets = _secret_forms(settings)
        self.session = requests.Session()
        # No urllib3 retries underneath: the loop below owns retries, so it can count and budget them.
        # A pool as large as the most parallel page reads (the inventory's workers), so none is dropped.
        self.session.mount("https://", HTTPAdapter(max_retries=0, pool_maxsize=32))
        self.session.mount("http://", HTTPAdapter(max_retries=0, pool_maxsize=32))
        self.session.headers.update({"Accept": "application/json", "User-Agent": "opsgate.itsm"})
        self.count = 0
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.retried = 0
        self._token: str | None = None

    # -- public ----------------------------------------------------------------------------------

    def request(self, method: str, path: str, params: t.Mapping[str, t.Any] | None = None, json_body: t.Any = None,
                data: bytes | None = None, headers: t.Mapping[str, str] | None = None, idempotent: bool | None = None,
                recover: t.Callable[[], Response | None] | None = None, what: str = "") -> Response:
        """One call with retries; ``what`` ("create change") names the operation in every message.

        Answers with status >= 400 raise (401 ItsmAuthError, 404 ItsmNotFoundError, other ItsmHttpError);
        exhausted retries raise ItsmTransientError.
        """
        idempotent = method.upper() in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS") if idempotent is None else idempotent
        what = what or f"{method} {path}"
        policy = Backoff(0.5, factor=2.0, max_delay=_MAX_DELAY, jitter=0.3, rng=self.rng)
        delays = iter(policy)
        deadline = time.monotonic() + self.budget()
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, path, params, json_body, data, headers)
                if response.status == 401 and self.auth_method == "oauth" and not refreshed:
                    # The token may have expired or been revoked: fetch a new one once, then resend.
                    refreshed = True
                    self._forget_token()
                    continue
                return self.check_response(response, what)
            except _Transient as failure:
                if failure.sent and not idempotent:
                    if recover is None:
                        raise ItsmTransientError(
                            f"{what} failed: {self.redact(failure.reason)}; not retried because the request may "
                            "have been carried out and nothing can tell whether it was; check the instance before "
                            "running again", url=self.base) from None
                    found = (self._await_landing(recover, what, failure, deadline) if failure.pending
                             else self._recover(recover, what, failure))
                    if found is not None:
                        return found
                delay = failure.retry_after if failure.retry_after is not None else next(delays)
                left = max(0.0, deadline - time.monotonic())
                if failure.retry_after is not None and delay > left:
                    raise ItsmTransientError(
                        f"{what} failed: {self.redact(failure.reason)}; the server asked to wait {delay:g} seconds "
                        f"(Retry-After), longer than the {left:.0f} seconds left of the budget of "
                        f"{self.budget():g} seconds (timeout x (retries + 1) + {_MAX_DELAY:g}); try again later, or "
                        "raise timeout or retries", url=self.base, attempts=attempt, retry_after=delay) from None
                if attempt > self.settings.retries or delay > left:
                    raise ItsmTransientError(
                        f"{what} failed after {attempt} attempt(s) within the budget of {self.budget():g} "
                        f"seconds: {self.redact(failure.reason)}; raise retries or timeout, or try again later",
                        url=self.base, attempts=attempt) from None
                self.retried += 1
                self.warn(f"{what}: {self.redact(failure.reason)}; retrying in {delay:.1f} s "
                          f"({self.settings.retries - attempt + 1} retries left)")
                self.sleep(delay)

    def _await_landing(self, recover: t.Callable[[], Response | None], what: str, failure: _Transient,
                       deadline: float) -> Response | None:
        """The answer ``recover`` finds for a write the server did not answer in time, looked for only after the
        server has had as long again as the timeout (it may still be carrying the write out), then with the
        backoff until the budget is spent. Never None: not found by then, the write is not sent again (it may
        still land) and the error says so."""
        reason = self.redact(failure.reason)
        left = max(0.0, deadline - time.monotonic())
        delays = iter(Backoff(0.5, factor=2.0, max_delay=_MAX_DELAY, jitter=0.3, rng=self.rng))
        wait, waited = float(self.settings.timeout), 0.0
        self.warn(f"{what}: {reason}; the server may still be carrying it out: looking for it in {wait:g} s, "
                  "not sending it again")
        while True:
            # Counted as well as timed: the time a (test's) sleep does not pass still uses up the budget.
            wait = min(wait, left - waited, max(0.0, deadline - time.monotonic()))
            self.sleep(max(0.0, wait))
            waited += max(0.0, wait)
            found = self._recover(recover, what, failure)
            if found is not None:
                return found
            if waited >= left or time.monotonic() >= deadline:
                raise ItsmTransientError(
                    f"{what} failed: {reason}; not sent again because the server may still carry it out: it had "
                    f"not appeared {waited:.0f} seconds later, at the end of the budget of {self.budget():g} "
                    f"seconds; check {self.base} before running again", url=self.base) from None
            wait = next(delays)

    def _recover(self, recover: t.Callable[[], Response | None], what: str, failure: _Transient) -> Response | None:
        try:
            return recover()
        except ItsmTransientError as error:
            raise ItsmTransientError(
                f"{what} failed: {self.redact(failure.reason)}; whether it was carried out is unknown because "
                f"looking for it failed too ({self.redact(error.message)}); check the instance before running "
                "again", url=self.base) from None

    def budget(self) -> float:
        """Total seconds one call may take over all its attempts: timeout x (retries + 1) + 30."""
        return float(self.settings.timeout) * (max(0, self.settings.retries) + 1) + _MAX_DELAY

    def redact(self, text: str) -> str:
        """Mask every secret, and the forms it travels in, in text that came from outside (bodies, errors).

        Messages quote the user name and client id themselves, after redaction: they are not secrets,
        even when a password happens to equal the user name.
        """
        for secret in sorted(self.secrets + ([self._token] if self._token else []), key=len, reverse=True):
            if len(secret) >= _MASK_ANYWHERE:
                text = text.replace(secret, REDACTED)
            else:
                text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", REDACTED, text)
        return text

    def close(self) -> None:
        self.session.close()

    # -- one attempt -----------------------------------------------------------------------------

    def _send(self, method: str, path: str, params, json_body, data, headers) -> Response:
        url = path if path.startswith(("https://", "http://")) else self.base + path
        all_headers = dict(headers or {})
        auth = self._auth(all_headers)
        self.count += 1
        self.counts[(method.upper(), path.split("?")[0])] += 1
        raw, text = self._call(method, url, params=params, json=json_body, data=data, headers=all_headers, auth=auth)
        body = decode_json(text)
        _raise_if_transient(raw.status_code, raw.headers, body, text)
        if TRANSACTION_CANCELLED in text[-2000:] and _error_in(body, text):
            raise _Transient(f"HTTP {raw.status_code} {TRANSACTION_CANCELLED} (transaction quota)", sent=True)
        return Response(raw.status_code, raw.headers, body, text)

    def _call(self, method: str, url: str, **kwargs) -> tuple[t.Any, str]:
        """One HTTP exchange with the TLS, proxy and timeout settings; every library or OS error becomes ours."""
        try:
            raw = self.session.request(method, url, timeout=self.settings.timeout, verify=self.verify,
                                       proxies=self.proxies, **kwargs)
            return raw, raw.text
        except requests.exceptions.SSLError as exc:
            raise self._tls_error(exc) from None
        except requests.exceptions.ConnectTimeout as exc:
            raise _Transient(f"connecting to {self.base} timed out ({_short(exc)})", sent=False) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ReadTimeout) as exc:
            if isinstance(exc, requests.exceptions.ReadTimeout) or "Read timed out" in str(exc):
                raise _Transient(f"{self.base} did not answer within the timeout of {self.settings.timeout:g} "
                                 f"seconds ({_short(exc)})", sent=True, pending=True) from None
            raise _Transient(f"the connection to {self.base} failed ({_short(exc)})", sent=_maybe_sent(exc)) from None
        except _SETUP_ERRORS as exc:
            raise self._setup_error(exc) from None
        except requests.exceptions.RequestException as exc:  # redirects, undecodable bodies: the answer is wrong
            raise ItsmUnexpectedResponseError(self.redact(f"url: the exchange with {self.base} failed: {_short(exc)}"),
                                              url=self.base) from None
        except (OSError, urllib3.exceptions.HTTPError, http.client.HTTPException) as exc:
            # Outside requests' own tree: the CA bundle was removed, the OS refused a socket, urllib3 let one through.
            if "CA certificate bundle" in str(exc):
                raise self._ca_bundle_error(exc) from None
            raise _Transient(f"the connection to {self.base} failed ({_short(exc)})", sent=True) from None

    def _tls_error(self, exc: Exception) -> Exception:
        """A certificate that did not verify, or a CA file OpenSSL could not load, names ca_path and says which
        of the two it is; any other TLS failure (a handshake cut short) is worth another attempt."""
        whole = str(exc)  # the markers may sit past what _short keeps, behind a long URL
        text = _short(_innermost(exc))
        ca_path = self.verify if isinstance(self.verify, str) else None
        if ca_path and any(marker in whole for marker in _NOT_PEM_MARKERS):
            return _ca_path_error(ca_path, f"is not a PEM certificate bundle ({text})")
        if any(marker in whole for marker in _UNVERIFIED_MARKERS):
            if ca_path:
                message = (f"ca_path: the certificate of {self.base} does not verify against the CA bundle {ca_path} "
                           f"({text}); point ca_path at the CA certificate that signed it (validate_certs: false "
                           "only for throw-away tests)")
            else:
                message = (f"ca_path: the certificate of {self.base} does not verify against the system's CA store "
                           f"({text}); set ca_path to the CA bundle that signed the instance's certificate "
                           "(validate_certs: false only for throw-away tests)")
            return ItsmSettingsError("ca_path", ca_path, CA_PATH_ALLOWED, message=self.redact(message))
        # It may have broken after the request went out: a create is then looked for before it is sent again.
        return _Transient(f"the TLS exchange with {self.base} failed ({text})", sent=True)

    def _ca_bundle_error(self, exc: Exception) -> ItsmSettingsError:
        if isinstance(self.verify, str):
            return _ca_path_error(self.verify, f"cannot be loaded ({_short(exc)})")
        # No ca_path: requests took REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE from the environment.
        return ItsmSettingsError("ca_path", None, CA_PATH_ALLOWED, message=(
            f"ca_path: ca_path is not set and the CA bundle named by REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE cannot be "
            f"loaded ({_short(exc)}); fix or unset that variable, or set ca_path"))

    def _setup_error(self, exc: Exception) -> ItsmSettingsError:
        """A request that could not be built from the settings, naming the setting requests refused."""
        text = self.redact(_short(exc))
        kind = type(exc).__name__
        if self.settings.proxy and ("proxy" in text.lower() or "socks" in text.lower()):
            return ItsmSettingsError("proxy", self.redact(self.settings.proxy), "", message=(
                f"proxy: {self.redact(self.settings.proxy)} cannot be used ({kind}: {text}); expected a URL like "
                "http://proxy.example:3128 (socks5:// needs the PySocks library)"))
        if "timeout" in text.lower():
            return ItsmSettingsError("timeout", self.settings.timeout, "expected a number of seconds greater than 0")
        if isinstance(exc, (UnicodeError, requests.exceptions.InvalidHeader)):
            option = _CREDENTIAL_OPTION.get(self.auth_method, "username")
            # The library's text quotes the header, escaped past redaction: only its kind is said.
            return ItsmSettingsError(option, None, "", message=(
                f"{option}: the value cannot be sent in an HTTP header ({kind}); it holds a character a header "
                "cannot carry (a line break, a control character, or a letter outside latin-1)"))
        return ItsmSettingsError("url", self.base, "", message=(
            f"url: a request to {self.base} cannot be built from the settings ({kind}: {text}); expected an "
            f"https:// address like {url_example(self.settings)}"))

    def check_response(self, response: Response, what: str) -> Response:
        """``response`` when it succeeded, else the collection's error for its status (credentials refused,
        not found, any other failure), its reason redacted. Also checks the answers inside a Batch API call."""
        if response.status < 400:
            return response
        reason = self.redact(_reason(response.body, response.text))
        if response.status == 401:
            raise ItsmAuthError(f"{what}: {self.base} refused the credentials ({self.auth_method} "
                                f"authentication{self._as()}): {reason}", status=401, url=self.base)
        if response.status == 404:
            raise ItsmNotFoundError(f"{what}: not found: {reason}", status=404)
        raise ItsmHttpError(f"{what} failed: HTTP {response.status}: {reason}", response.status, reason)

    def _as(self) -> str:
        return f" as {self.settings.username}" if self.settings.username else ""

    # -- authentication --------------------------------------------------------------------------

    def _auth(self, headers: dict[str, str]) -> t.Any:
        settings = self.settings
        if self.auth_method == "oauth":
            headers["Authorization"] = f"Bearer {self._oauth_token()}"
        elif self.auth_method == "api_key":
            headers["x-sn-apikey"] = settings.api_key or ""
        elif self.auth_method == "token":
            headers["Authorization"] = f"Bearer {settings.token}"
        elif self.auth_method == "basic":
            return _basic_credentials(settings.username or "", settings.password or "")
        elif self.auth_method == "api_token":  # Atlassian Cloud: Basic with the account and its API token
            return _basic_credentials(settings.username or "", settings.token or "")
        return None

    def _token_key(self) -> str:
        s = self.settings
        parts = (self.token_url, s.client_id, s.client_secret, s.username, s.password)
        material = "\0".join(str(part) for part in parts)
        return hashlib.sha256(material.encode()).hexdigest()

    def _oauth_token(self) -> str:
        if self._token:
            return self._token
        key = self._token_key()
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
        if cached and cached[1] > time.monotonic():
            self._token = cached[0]
            return self._token
        body = self._fetch_token()
        token = body["access_token"]
        lifetime = float(body.get("expires_in") or 1800)
        with _TOKENS_LOCK:
            _TOKENS[key] = (token, time.monotonic() + max(0.0, lifetime - _TOKEN_MARGIN))
        self._token = token
        return token

    def _fetch_token(self) -> dict:
        """POST the grant; 429, 5xx and broken connections are transient, a 400 or 401 means bad credentials.

        Whatever happens here, the caller's own request has not been sent yet (``sent=False``), so even a
        create is safe to retry after a failed token request.
        """
        s = self.settings
        form = {"client_id": s.client_id, "client_secret": s.client_secret}
        if s.username and s.password:
            form.update(grant_type="password", username=s.username, password=s.password)
        else:
            form.update(grant_type="client_credentials")
        self.count += 1
        self.counts[("POST", "/oauth_token.do")] += 1
        try:
            raw, text = self._call("POST", self.token_url, data=form, headers={"Accept": "application/json"})
            body = decode_json(text)
            _raise_if_transient(raw.status_code, raw.headers, body, text, token_request=True)
        except _Transient as failure:
            raise _Transient(f"the OAuth token request to {self.token_url} failed: {failure.reason}", sent=False,
                             retry_after=failure.retry_after) from None
        if isinstance(body, dict) and body.get("access_token") and raw.status_code == 200:
            return body
        refused = (f"{self.token_url} refused the OAuth {form['grant_type']} grant for client {s.client_id}"
                   f"{self._as()} (HTTP {raw.status_code}: {self.redact(_reason(body, text))})")
        if raw.status_code in (400, 401):
            raise ItsmAuthError(f"client_id: {refused}; check client_id, client_secret, username and password",
                                status=raw.status_code, url=self.base)
        raise ItsmHttpError(f"url: {refused}; is {self.base} a ServiceNow instance with OAuth enabled?",
                            raw.status_code, self.redact(_reason(body, text)), url=self.base)

    def _forget_token(self) -> None:
        with _TOKENS_LOCK:
            _TOKENS.pop(self._token_key(), None)
        if self._token:
            self.secrets.append(self._token)  # still redacted if an old message quotes it
        self._token = None


def _auth_method(settings: ConnectionSettings) -> str:
    """servicenow.itsm's precedence: OAuth client -> API key -> bearer token -> basic."""
    if settings.client_id and settings.client_secret:
        return "oauth"
    if settings.client_id or settings.client_secret:
        missing = "client_secret" if settings.client_id else "client_id"
        raise ItsmSettingsError(missing, None, "OAuth needs both client_id and client_secret")
    if settings.api_key:
        return "api_key"
    if settings.token:
        return "token"
    if settings.username and settings.password:
        return "basic"
    raise ItsmSettingsError("username", settings.username, "give username and password, token, api_key, or "
                            "client_id and client_secret to authenticate to the instance")


# The option whose value travels in the header of each authentication method (named when requests refuses it).
_CREDENTIAL_OPTION = {"oauth": "client_secret", "api_key": "api_key", "token": "token", "basic": "password",
                      "api_token": "token"}


def _basic_credentials(username: str, password: str) -> tuple[str | bytes, str | bytes]:
    """requests encodes Basic credentials as latin-1 and fails on any other character; such credentials go
    as UTF-8 (the charset RFC 7617 names), the rest exactly as before."""
    try:
        username.encode("latin-1")
        password.encode("latin-1")
        return username, password
    except UnicodeEncodeError:
        return username.encode("utf-8"), password.encode("utf-8")


def _check_timeout(timeout: t.Any) -> None:
    """requests refuses a timeout of 0 or less only when the first request is sent: refuse it before."""
    try:
        usable = float(timeout) > 0
    except (TypeError, ValueError):
        usable = False
    if not usable:
        raise ItsmSettingsError("timeout", timeout, "expected a number of seconds greater than 0")


def _verify(settings: ConnectionSettings) -> bool | str:
    """requests' ``verify``: False, the CA bundle ca_path names (a file or a hashed directory), or True.

    validate_certs: false wins over ca_path; passing False (not None) also keeps REQUESTS_CA_BUNDLE out. A ca_path
    that cannot serve is refused here, before any request: requests would only say "Could not find a suitable TLS
    CA certificate bundle", or fail the handshake later as if the instance's certificate were wrong (issue 12).
    """
    if not settings.validate_certs:
        return False
    if not settings.ca_path:
        return True
    path = os.path.expanduser(settings.ca_path)
    if not os.path.exists(path):
        raise _ca_path_error(path, "does not exist")
    if os.path.isdir(path):
        if not os.access(path, os.R_OK | os.X_OK):
            raise _ca_path_error(path, "is a directory that cannot be read")
        return path
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        raise _ca_path_error(path, f"is not a PEM certificate bundle ({_short(exc)})") from None
    except OSError as exc:
        raise _ca_path_error(path, f"cannot be read ({exc.strerror or _short(exc)})") from None
    return path


def _ca_path_error(path: str, problem: str) -> ItsmSettingsError:
    return ItsmSettingsError("ca_path", path, CA_PATH_ALLOWED, message=f"ca_path: {path} {problem}; {CA_PATH_ALLOWED}")


def _secret_forms(settings: ConnectionSettings) -> list[str]:
    """Each secret as given and as it travels: form-encoded, inside a Basic header, in a proxy URL."""
    secrets = list(settings.secrets())
    secrets += [urllib.parse.quote_plus(secret) for secret in secrets]
    for secret in (settings.password, settings.token):
        if settings.username and secret:
            pair = f"{settings.username}:{secret}"
            secrets += [base64.b64encode(pair.encode(encoding, "ignore")).decode() for encoding in ("utf-8", "latin-1")]
    if settings.proxy:
        proxy_password = urllib.parse.urlsplit(settings.proxy).password
        secrets += [proxy_password, urllib.parse.unquote(proxy_password or "")]
    return sorted({secret for secret in secrets if secret})


def _raise_if_transient(status: int, headers: t.Mapping[str, str], body: t.Any, text: str,
                        token_request: bool = False) -> None:
    """A status worth retrying; on the token endpoint any 5xx is, since no grant was issued."""
    if status in RETRY_STATUSES or (token_request and status >= 500):
        retry_after = _retry_after(headers.get("Retry-After")) if status in (429, 503) else None
        # Jira names which of its limits answered (burst, writes to one issue, hourly quota): say so.
        limit = f" (rate limit: {headers.get('RateLimit-Reason')})" if headers.get("RateLimit-Reason") else ""
        raise _Transient(f"HTTP {status} {_reason(body, text)}{limit}", sent=status != 429, retry_after=retry_after)


def decode_json(text: str) -> t.Any:
    """The JSON value a response body holds; None when the body is empty or not JSON."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _error_in(body: t.Any, text: str) -> bool:
    """A ServiceNow error envelope, whole or appended after a truncated result (quota hit mid-stream)."""
    if isinstance(body, dict):
        return "error" in body
    return '"error"' in text[-2000:]


def _reason(body: t.Any, text: str) -> str:
    """The server's own message: ``error.message: error.detail``, or the start of the text."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message, detail = error.get("message") or "", error.get("detail") or ""
            return f"{message}: {detail}" if detail and detail != message else str(message or detail)
        if isinstance(error, str):
            return f"{error}: {body.get('error_description', '')}".rstrip(": ")
        jira = _jira_reason(body)
        if jira:
            return jira
    snippet = " ".join(re.sub(r"<[^>]*>", " ", text or "").split())
    return snippet[:200] or "(no body)"


def _jira_reason(body: dict) -> str:
    """Jira's error bodies: ``errorMessages`` + ``errors`` {field: message} (platform), ``errorMessage``
    (service desk)."""
    listed = body.get("errorMessages")
    messages = [str(m) for m in listed if m] if isinstance(listed, list) else []
    errors = body.get("errors")
    if isinstance(errors, dict):
        messages += [f"{field}: {message}" for field, message in errors.items()]
    if isinstance(body.get("errorMessage"), str) and body["errorMessage"]:
        messages.append(body["errorMessage"])
    return "; ".join(messages)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: an integer, or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _maybe_sent(exc: Exception) -> bool:
    """False only when the failure shows no connection was ever made (refused, DNS)."""
    text = str(exc)
    return not any(marker in text for marker in ("NewConnectionError", "Name or service not known",
                                                 "Connection refused", "nodename nor servname"))


def _innermost(exc: BaseException) -> BaseException:
    """The error under requests' and urllib3's wrappers (whose text repeats the whole URL): the ssl one."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException) and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300]
