# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by every module and plugin (checked against module_utils/_options.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # For modules and plugins alike. Plugins also extend opsgate.itsm.connection.plugins.
    DOCUMENTATION = r"""
options:
  backend:
    description:
      - >-
        The system of record. C(local) is an embedded SQLite store that needs no server. If not set, the
        value of the C(ITSM_BACKEND) environment variable is used.
    type: str
    choices: [local, servicenow, jsm]
    default: local
  url:
    description:
      - >-
        Base URL of the ServiceNow instance or Jira site (on C(jsm), also the scoped API token form
        C(https://api.atlassian.com/ex/jira/{cloudId})). Not used by C(local). If not set, the value of
        the C(ITSM_URL) environment variable is used.
    type: str
  username:
    description:
      - >-
        User for basic authentication (Jira Cloud: the account e-mail, with its API token in C(token)). On
        C(local), the actor written to the journal; defaults to the operating-system user. If not set, the
        value of the C(ITSM_USERNAME) environment variable is used.
    type: str
  password:
    description:
      - >-
        Password for basic authentication (ServiceNow, Jira Data Center). If not set, the value of the
        C(ITSM_PASSWORD) environment variable is used.
    type: str
  token:
    description:
      - >-
        Bearer token (a pre-issued ServiceNow OAuth token or a Jira Data Center personal access token). On
        C(jsm) with C(username), a Jira Cloud API token, sent as basic authentication. If not set, the value
        of the C(ITSM_TOKEN) environment variable is used.
    type: str
  api_key:
    description:
      - >-
        ServiceNow API key, sent as C(x-sn-apikey). If not set, the value of the C(ITSM_API_KEY)
        environment variable is used.
    type: str
  client_id:
    description:
      - >-
        OAuth client id (ServiceNow). If not set, the value of the C(ITSM_CLIENT_ID) environment
        variable is used.
    type: str
  client_secret:
    description:
      - >-
        OAuth client secret (ServiceNow). If not set, the value of the C(ITSM_CLIENT_SECRET) environment
        variable is used.
    type: str
  validate_certs:
    description:
      - >-
        Verify the server's TLS certificate. If not set, the value of the C(ITSM_VALIDATE_CERTS)
        environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - >-
        CA bundle used to verify the server's certificate. If not set, the value of the C(ITSM_CA_PATH)
        environment variable is used.
    type: path
  proxy:
    description:
      - >-
        HTTP(S) proxy for the C(servicenow) and C(jsm) backends, such as C(http://proxy.example.com:3128) (HTTPS goes
        through it with C(CONNECT)). A password in the URL is never shown. Unset, the standard
        C(https_proxy) and C(no_proxy) variables apply. If not set, the value of the C(ITSM_PROXY)
        environment variable is used.
    type: str
  timeout:
    description:
      - >-
        Seconds to wait for one request (on C(local), for the database lock). If not set, the value of
        the C(ITSM_TIMEOUT) environment variable is used.
    type: float
    default: 30.0
  retries:
    description:
      - >-
        How many times a transient failure (rate limit, 502/503/504, reset) is retried. If not set, the
        value of the C(ITSM_RETRIES) environment variable is used.
    type: int
    default: 3
  local_db:
    description:
      - >-
        Store of the C(local) backend: the path of an SQLite file, or a PostgreSQL URL such as
        C(postgresql://itsm@db.example.com:5432/itsm?sslmode=verify-full) (the password comes from
        C(password), else from the URL; TLS and other libpq options go in the URL; needs the C(psycopg)
        Python package). Any other C(scheme://) is refused. Defaults to the file C(opsgate_itsm/itsm.sqlite)
        under the Ansible home (C(ANSIBLE_HOME), else C(home) in C(ansible.cfg), else C(~/.ansible)). If not
        set, the value of the C(ITSM_LOCAL_DB) environment variable is used.
    type: str
  jsm_mapping:
    description:
      - >-
        YAML file mapping the canonical states, fields and values to a customised Jira Service Management
        project (its key, issue and request types, statuses, field names and option values), for the
        C(jsm) backend. Unset, the mapping of the standard ITSM templates applies. Not used by the other
        backends. If not set, the value of the C(ITSM_JSM_MAPPING) environment variable is used.
    type: path
notes:
  - >-
    Connection options can be set once for a play with
    C(module_defaults: {group/opsgate.itsm.itsm: {...}}).
  - >-
    C(password), C(token), C(api_key) and C(client_secret) are never shown in output, errors or diffs.
  - >-
    ServiceNow authentication, first match wins: C(client_id) and C(client_secret) (OAuth; the password
    grant when C(username) and C(password) are set too, else client credentials), then C(api_key), then
    C(token), then C(username) and C(password) (basic).
  - >-
    Jira Service Management (C(jsm)) authentication: C(username) and C(token) are an API token, sent as basic
    authentication as Jira Cloud expects (C(ITSM_USERNAME), C(ITSM_TOKEN)); C(token) alone is a Data Center
    personal access token, sent as a bearer token; C(username) and C(password) are basic authentication (Data
    Center). C(url) is the site (C(https://example.atlassian.net), C(https://jira.example.com/jira)) or, with a
    scoped API token, C(https://api.atlassian.com/ex/jira/{cloudId}). C(api_key), C(client_id) and
    C(client_secret) are refused, naming the option.
  - >-
    On C(jsm), C(jsm_mapping) names a YAML file mapping the canonical states, fields and values to a customised
    project and workflow (docs/jsm-mapping.md in the collection); it is validated before any request, and a file
    that cannot be read or breaks the schema fails the task naming the option, the path and each problem.
  - >-
    A transient failure (429, 502, 503, 504, a reset, also on the OAuth token request) is retried up to
    C(retries) times with jittered backoff honouring C(Retry-After); all attempts of one call together
    stay within C(timeout) x (C(retries) + 1) + 30 seconds.
requirements:
  - python >= 3.11 on the controller (every task runs there)
  - requests (the C(servicenow) and C(jsm) backends)
  - jsonschema (freeze and blackout policy files, the C(jsm) mapping)
"""

    # Where plugins (inventory, callback) also read the connection options from.
    PLUGINS = r"""
options:
  backend:
    env:
      - name: ITSM_BACKEND
    ini:
      - section: opsgate_itsm
        key: backend
  url:
    env:
      - name: ITSM_URL
    ini:
      - section: opsgate_itsm
        key: url
  username:
    env:
      - name: ITSM_USERNAME
    ini:
      - section: opsgate_itsm
        key: username
  password:
    env:
      - name: ITSM_PASSWORD
    ini:
      - section: opsgate_itsm
        key: password
  token:
    env:
      - name: ITSM_TOKEN
    ini:
      - section: opsgate_itsm
        key: token
  api_key:
    env:
      - name: ITSM_API_KEY
    ini:
      - section: opsgate_itsm
        key: api_key
  client_id:
    env:
      - name: ITSM_CLIENT_ID
    ini:
      - section: opsgate_itsm
        key: client_id
  client_secret:
    env:
      - name: ITSM_CLIENT_SECRET
    ini:
      - section: opsgate_itsm
        key: client_secret
  validate_certs:
    env:
      - name: ITSM_VALIDATE_CERTS
    ini:
      - section: opsgate_itsm
        key: validate_certs
  ca_path:
    env:
      - name: ITSM_CA_PATH
    ini:
      - section: opsgate_itsm
        key: ca_path
  proxy:
    env:
      - name: ITSM_PROXY
    ini:
      - section: opsgate_itsm
        key: proxy
  timeout:
    env:
      - name: ITSM_TIMEOUT
    ini:
      - section: opsgate_itsm
        key: timeout
  retries:
    env:
      - name: ITSM_RETRIES
    ini:
      - section: opsgate_itsm
        key: retries
  local_db:
    env:
      - name: ITSM_LOCAL_DB
    ini:
      - section: opsgate_itsm
        key: local_db
  jsm_mapping:
    env:
      - name: ITSM_JSM_MAPPING
    ini:
      - section: opsgate_itsm
        key: jsm_mapping
"""
