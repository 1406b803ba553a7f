"""Remote mode of the SDK: ``Tenantry(url=..., api_key=...)`` (or ``TENANTRY_URL`` / ``TENANTRY_API_KEY``) talks to a
tenantry server through :class:`RemoteAPI`, the HTTP implementation of :class:`~tenantry.contract.TenantryAPI`."""

from __future__ import annotations

from ._errors import error_from_response
from .remote import RemoteAPI

__all__ = ["RemoteAPI", "error_from_response"]
