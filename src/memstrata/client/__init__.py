"""Remote mode of the SDK: ``Memstrata(url=..., api_key=...)`` (or ``MEMSTRATA_URL`` / ``MEMSTRATA_API_KEY``)
talks to a memstrata server through :class:`RemoteTransport`."""

from __future__ import annotations

from ._errors import error_from_response
from ._transport import RemoteTransport

__all__ = ["RemoteTransport", "error_from_response"]
