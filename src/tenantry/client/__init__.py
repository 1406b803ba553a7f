"""Remote mode of the SDK: ``Tenantry(url=..., api_key=...)`` (or ``TENANTRY_URL`` / ``TENANTRY_API_KEY``)
talks to a tenantry server through :class:`RemoteTransport`."""

from __future__ import annotations

from ._errors import error_from_response
from ._transport import RemoteTransport

__all__ = ["RemoteTransport", "error_from_response"]
