"""Pure tenancy rules: where a write lands and which scopes a read may see (SPEC §1).

Nothing here does I/O. The storage layer turns a :class:`ReadChain` into a query filter through exactly one
function (``tenantry.store._sql.scope_filter``); every memory query goes through it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .errors import InvalidInputError, InvalidScopeError

__all__ = [
    "ID_PATTERN",
    "WORLD_INSTANCE",
    "ReadChain",
    "Relationship",
    "Scope",
    "ScopeLevel",
    "client_chain",
    "customer_chain",
    "resolve_write_scope",
    "user_chain",
    "validate_id",
]

# Opaque caller ids: 1-128 chars of letters, digits and ._:@-  (never interpreted, never PII by contract).
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@\-]{0,127}$")
WORLD_INSTANCE = "__world__"


class Relationship(enum.StrEnum):
    B2B = "b2b"
    B2C = "b2c"


class ScopeLevel(enum.StrEnum):
    """Scope levels, narrowest first; ``rank`` 0 is the narrowest."""

    USER = "user"
    CUSTOMER = "customer"
    CLIENT = "client"
    WORLD = "world"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {ScopeLevel.USER: 0, ScopeLevel.CUSTOMER: 1, ScopeLevel.CLIENT: 2, ScopeLevel.WORLD: 3}


@dataclass(frozen=True, slots=True)
class Scope:
    """One concrete storage scope: a (level, customer, user) cell of one instance.

    ``customer_id``/``user_id`` are ``""`` where the level does not use them, so a scope is a plain key.
    """

    instance_id: str
    level: ScopeLevel
    customer_id: str = ""
    user_id: str = ""

    def __post_init__(self) -> None:
        if self.level is ScopeLevel.USER and not self.user_id:
            raise InvalidScopeError("a USER scope needs a user_id")
        if self.level is ScopeLevel.CUSTOMER and (not self.customer_id or self.user_id):
            raise InvalidScopeError("a CUSTOMER scope needs a customer_id and no user_id")
        if self.level in (ScopeLevel.CLIENT, ScopeLevel.WORLD) and (self.customer_id or self.user_id):
            raise InvalidScopeError(f"a {self.level.name} scope carries no customer_id or user_id")
        if self.level is ScopeLevel.WORLD and self.instance_id != WORLD_INSTANCE:
            raise InvalidScopeError("WORLD memories live outside every instance")

    @property
    def source(self) -> str:
        """The label a returned item carries: ``user:<id>``, ``customer:<id>``, ``client`` or ``world``."""
        if self.level is ScopeLevel.USER:
            return f"user:{self.user_id}"
        if self.level is ScopeLevel.CUSTOMER:
            return f"customer:{self.customer_id}"
        return self.level.value

    @classmethod
    def world(cls) -> Scope:
        return cls(WORLD_INSTANCE, ScopeLevel.WORLD)


@dataclass(frozen=True, slots=True)
class ReadChain:
    """The scopes one read may see, narrowest first. Built only by the ``*_chain`` functions below."""

    instance_id: str
    scopes: tuple[Scope, ...]
    whole_instance: bool = False  # every scope of the instance: by-id access with a key and no ids, admin
    descendants: bool = False  # each CUSTOMER scope also covers the USER scopes under it (erasure of a customer)

    def __post_init__(self) -> None:
        for s in self.scopes:
            if s.level is not ScopeLevel.WORLD and s.instance_id != self.instance_id:
                raise InvalidScopeError("a read chain never spans two instances")

    def contains(self, scope: Scope) -> bool:
        return scope in self.scopes

    @property
    def narrowest(self) -> Scope:
        return self.scopes[0]

    @classmethod
    def instance(cls, instance_id: str) -> ReadChain:
        """Every scope of one instance (never WORLD, never another instance)."""
        return cls(instance_id, (), whole_instance=True)

    @classmethod
    def single(cls, scope: Scope) -> ReadChain:
        """Exactly one scope (writes, reconciliation)."""
        return cls(scope.instance_id, (scope,))

    @classmethod
    def subtree(cls, scope: Scope) -> ReadChain:
        """``scope`` and every scope under it: a USER scope alone, a CUSTOMER scope with its users, a CLIENT scope
        with the whole instance. What an erasure of that scope removes; never a broader scope."""
        if scope.level is ScopeLevel.CLIENT:
            return cls.instance(scope.instance_id)
        if scope.level is ScopeLevel.WORLD:
            raise InvalidScopeError("WORLD knowledge is erased by the operator, not through a scope")
        return cls(scope.instance_id, (scope,), descendants=scope.level is ScopeLevel.CUSTOMER)


def validate_id(value: object, name: str, *, required: bool = False) -> str | None:
    """Check an opaque caller id (type, length, charset). Returns it unchanged, or ``None`` when absent."""
    if value is None or value == "":
        if required:
            raise InvalidInputError(f"{name} is required", details={"field": name})
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}", details={"field": name})
    if not ID_PATTERN.match(value):
        raise InvalidInputError(
            f"{name} must be 1-128 characters of letters, digits and . _ : @ - (got {value[:40]!r})",
            details={"field": name},
        )
    return value


def resolve_write_scope(
    instance_id: str, relationship: Relationship, *, customer_id: str | None, user_id: str | None
) -> Scope:
    """Where a write lands (SPEC §1, first table). Raises ``InvalidInputError`` for a B2B user without customer."""
    customer_id = validate_id(customer_id, "customer_id")
    user_id = validate_id(user_id, "user_id")
    if relationship is Relationship.B2B:
        if user_id and customer_id:
            return Scope(instance_id, ScopeLevel.USER, customer_id, user_id)
        if user_id:
            raise InvalidInputError(
                "this instance is b2b: a write with user_id must also name its customer_id",
                code="customer_id_required",
                details={"field": "customer_id"},
            )
        if customer_id:
            return Scope(instance_id, ScopeLevel.CUSTOMER, customer_id)
        return Scope(instance_id, ScopeLevel.CLIENT)
    # b2c: the user is the tenant; customer_id is ignored (or must equal user_id when both are given).
    if customer_id and user_id and customer_id != user_id:
        # Tolerated: Synap tells b2c callers to pass the same value, but some pass an org id; the user wins.
        pass
    if user_id:
        return Scope(instance_id, ScopeLevel.USER, "", user_id)
    if customer_id:
        # A b2c caller that only names a customer means the user of that id (customer collapses into user).
        return Scope(instance_id, ScopeLevel.USER, "", customer_id)
    return Scope(instance_id, ScopeLevel.CLIENT)


def _tail(instance_id: str, include_world: bool) -> tuple[Scope, ...]:
    client = Scope(instance_id, ScopeLevel.CLIENT)
    return (client, Scope.world()) if include_world else (client,)


def user_chain(
    instance_id: str,
    relationship: Relationship,
    *,
    user_id: str | None,
    customer_id: str | None,
    include_world: bool = False,
) -> ReadChain:
    """USER → CUSTOMER → CLIENT (→ WORLD) for one exact user (in b2b: the (customer, user) pair)."""
    user_id = validate_id(user_id, "user_id", required=True)
    customer_id = validate_id(customer_id, "customer_id")
    assert user_id is not None
    if relationship is Relationship.B2B:
        if not customer_id:
            raise InvalidInputError(
                "this instance is b2b: a user context fetch must name the user's customer_id",
                code="customer_id_required",
                details={"field": "customer_id"},
            )
        scopes: tuple[Scope, ...] = (
            Scope(instance_id, ScopeLevel.USER, customer_id, user_id),
            Scope(instance_id, ScopeLevel.CUSTOMER, customer_id),
        )
    else:
        scopes = (Scope(instance_id, ScopeLevel.USER, "", user_id),)
    return ReadChain(instance_id, scopes + _tail(instance_id, include_world))


def customer_chain(
    instance_id: str, relationship: Relationship, *, customer_id: str | None, include_world: bool = False
) -> ReadChain:
    """CUSTOMER → CLIENT (→ WORLD); never any USER scope."""
    customer_id = validate_id(customer_id, "customer_id", required=True)
    assert customer_id is not None
    if relationship is Relationship.B2C:
        # b2c instances have no customer tier: the customer context is the client context.
        return ReadChain(instance_id, _tail(instance_id, include_world))
    return ReadChain(
        instance_id, (Scope(instance_id, ScopeLevel.CUSTOMER, customer_id),) + _tail(instance_id, include_world)
    )


def client_chain(instance_id: str, *, include_world: bool = False) -> ReadChain:
    """CLIENT (→ WORLD)."""
    return ReadChain(instance_id, _tail(instance_id, include_world))
