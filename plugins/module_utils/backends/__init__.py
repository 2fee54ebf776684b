# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend registry: the ``backend`` option's value -> the class. FOR INTERNAL COLLECTION USE ONLY.

Every backend module is imported statically (packaging finds them); only the selected one is built.
"""

from __future__ import annotations

from .._errors import ItsmUnavailableError
from .._options import ConnectionSettings
from ._base import ItsmBackend, Warn
from .local import LocalBackend
from .servicenow import ServiceNowBackend

_BACKENDS: dict[str, type[ItsmBackend]] = {
    LocalBackend.name: LocalBackend,
    ServiceNowBackend.name: ServiceNowBackend,
}

_COMING = {
    "jsm": "the jsm backend is not available yet in this release of opsgate.itsm",
}


def build_backend(settings: ConnectionSettings, warn: Warn | None = None) -> ItsmBackend:
    backend_class = _BACKENDS.get(settings.backend)
    if backend_class is None:
        reason = _COMING.get(settings.backend, "expected one of: " + ", ".join(sorted(_BACKENDS)))
        raise ItsmUnavailableError(f"backend: {settings.backend!r} cannot be used; {reason}",
                                   option="backend", value=settings.backend)
    return backend_class(settings, warn=warn)
