"""Pure tenancy rules: where a write lands and which scopes a read may see (SPEC §1).

Nothing here does I/O. The storage layer turns a :class:`ReadChain` into a query filter through exactly one
function (``tenantry.store._sql.scope_filter``); every memory query goes through it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .errors import InvalidInputError
from .errors import InvalidScopeError

__all__ = [
    "ID_PATTERN",
    "WORLD_INSTANCE",
    "ReadChain",
    "Relationship",
    "Scope",
    "ScopeLevel",
    "Target",
    "Tenant",
    "client_chain",
    "customer_chain",
    "resolve_target",
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

    @property
    def path(self) -> str:
        """The scope's unambiguous label in the audit log: ``customer:<c>/user:<u>`` for a b2b user (``user:<id>``
        alone names users of several customers), ``user:<u>`` (b2c), ``customer:<c>``, ``client``, ``world``."""
        if self.level is ScopeLevel.USER and self.customer_id:
            return f"customer:{self.customer_id}/user:{self.user_id}"
        return self.source

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
    if not ID_PATTERN.fullmatch(value):
        raise InvalidInputError(
            f"{name} must be 1-128 characters of letters, digits and . _ : @ - (got {len(value)} characters: "
            f"{value[:40]!r}{'...' if len(value) > 40 else ''})",
            details={"field": name},
        )
    return value


@dataclass(frozen=True, slots=True)
class Tenant:
    """The caller's instance as the tenancy rules need it: its id and its user relationship (fixed at creation)."""

    instance_id: str
    relationship: Relationship


@dataclass(frozen=True, slots=True)
class Target:
    """What one call addresses, resolved once by :func:`resolve_target`: one scope of the caller's instance, or no
    scope when the call names no ids (then writes land at CLIENT, context reads see CLIENT, and by-id lookups may
    reach any memory of the instance)."""

    tenant: Tenant
    scope: Scope | None = None

    @property
    def instance_id(self) -> str:
        return self.tenant.instance_id

    @property
    def customer_id(self) -> str:
        return self.scope.customer_id if self.scope else ""

    @property
    def user_id(self) -> str:
        return self.scope.user_id if self.scope else ""

    @property
    def write_scope(self) -> Scope:
        """Where a write with these ids lands (SPEC §1, first table)."""
        return self.scope or Scope(self.instance_id, ScopeLevel.CLIENT)

    def context(self, *, include_world: bool = False) -> ReadChain:
        """What a context read with these ids sees: the scope and every broader one, narrowest first (SPEC §1,
        second table). A b2b user's chain holds that exact (customer, user) pair, then the customer."""
        iid = self.instance_id
        scopes: tuple[Scope, ...] = ()
        if self.scope is not None and self.scope.level is ScopeLevel.USER:
            scopes = (self.scope,)
            if self.scope.customer_id:
                scopes += (Scope(iid, ScopeLevel.CUSTOMER, self.scope.customer_id),)
        elif self.scope is not None and self.scope.level is ScopeLevel.CUSTOMER:
            scopes = (self.scope,)
        client = Scope(iid, ScopeLevel.CLIENT)
        return ReadChain(iid, scopes + ((client, Scope.world()) if include_world else (client,)))

    @property
    def lookup(self) -> ReadChain:
        """What a by-id read or a listing with these ids may reach: the context chain, or the whole instance when
        no ids are named (the instance's key alone)."""
        return self.context() if self.scope is not None else ReadChain.instance(self.instance_id)

    @property
    def edits(self) -> ReadChain:
        """What a by-id update or delete with these ids may change: exactly the named scope (a user's ids reach that
        user's USER memories only, a customer's ids its CUSTOMER memories only), or, with no ids, any memory of the
        instance (the instance's key alone, as the Synap client's ``memories.update/delete(memory_id)`` send it).
        Reading along the chain is right; writing along it is not: a user's ids never rewrite a shared memory."""
        return ReadChain.single(self.scope) if self.scope is not None else ReadChain.instance(self.instance_id)

    @property
    def erasure(self) -> ReadChain:
        """What erasing these ids removes: the scope and every scope under it, never a broader one."""
        if self.scope is None:
            raise InvalidInputError("name a customer_id or user_id to erase", code="erasure_target_required")
        return ReadChain.subtree(self.scope)


def resolve_target(
    tenant: Tenant,
    *,
    customer_id: object = None,
    user_id: object = None,
    level: ScopeLevel | None = None,
) -> Target:
    """The one function that turns the ids a caller passes into what the call addresses (SPEC §1).

    Args:
        tenant: the caller's instance (from its API key or the embedded settings; never from a request body).
        customer_id, user_id: the ids as passed; checked with :func:`validate_id`.
        level: what the operation addresses whatever else is passed: ``USER`` (a user's context or profile:
            ``user_id`` required), ``CUSTOMER`` (a customer's context: ``customer_id`` required, ``user_id``
            ignored; b2c instances have no customer tier, so it resolves to the client), ``CLIENT`` (ids ignored).
            ``None``: the ids decide (writes, by-id access, listings, erasure).

    Raises:
        InvalidInputError: a malformed id, a missing required id, or a b2b ``user_id`` without its ``customer_id``
            (code ``customer_id_required``).
    """
    if level is ScopeLevel.CLIENT:
        return Target(tenant)
    customer = validate_id(customer_id, "customer_id", required=level is ScopeLevel.CUSTOMER)
    user = validate_id(user_id, "user_id", required=level is ScopeLevel.USER)
    iid = tenant.instance_id
    if level is ScopeLevel.CUSTOMER:
        b2b = tenant.relationship is Relationship.B2B
        return Target(tenant, Scope(iid, ScopeLevel.CUSTOMER, customer or "") if b2b else None)
    if tenant.relationship is Relationship.B2B:
        if user and not customer:
            raise InvalidInputError(
                "this instance is b2b: a user_id must come with its customer_id (a user lives under a customer)",
                code="customer_id_required",
                details={"field": "customer_id"},
            )
        if user:
            return Target(tenant, Scope(iid, ScopeLevel.USER, customer or "", user))
        return Target(tenant, Scope(iid, ScopeLevel.CUSTOMER, customer) if customer else None)
    # b2c: the user is the tenant. A customer_id is ignored next to a user_id (Synap tells b2c callers to pass the
    # same value, some pass an org id: the user wins); alone, it names the user of that id.
    who = user or customer
    return Target(tenant, Scope(iid, ScopeLevel.USER, "", who) if who else None)


def resolve_write_scope(
    instance_id: str, relationship: Relationship, *, customer_id: str | None, user_id: str | None
) -> Scope:
    """Where a write lands (SPEC §1, first table): :func:`resolve_target`'s ``write_scope``."""
    return resolve_target(Tenant(instance_id, relationship), customer_id=customer_id, user_id=user_id).write_scope


def user_chain(
    instance_id: str,
    relationship: Relationship,
    *,
    user_id: str | None,
    customer_id: str | None,
    include_world: bool = False,
) -> ReadChain:
    """USER → CUSTOMER → CLIENT (→ WORLD) for one exact user (in b2b: the (customer, user) pair)."""
    target = resolve_target(
        Tenant(instance_id, relationship), customer_id=customer_id, user_id=user_id, level=ScopeLevel.USER
    )
    return target.context(include_world=include_world)


def customer_chain(
    instance_id: str, relationship: Relationship, *, customer_id: str | None, include_world: bool = False
) -> ReadChain:
    """CUSTOMER → CLIENT (→ WORLD); never any USER scope (b2c: the client chain)."""
    target = resolve_target(Tenant(instance_id, relationship), customer_id=customer_id, level=ScopeLevel.CUSTOMER)
    return target.context(include_world=include_world)


def client_chain(instance_id: str, *, include_world: bool = False) -> ReadChain:
    """CLIENT (→ WORLD)."""
    return Target(Tenant(instance_id, Relationship.B2B)).context(include_world=include_world)
