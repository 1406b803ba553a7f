"""The pure tenancy rules of SPEC §1: every row of the write table and of the read table."""

from __future__ import annotations

import pytest

from tenantry.errors import InvalidInputError
from tenantry.scope import ReadChain
from tenantry.scope import Relationship
from tenantry.scope import Scope
from tenantry.scope import ScopeLevel
from tenantry.scope import client_chain
from tenantry.scope import customer_chain
from tenantry.scope import resolve_write_scope
from tenantry.scope import user_chain
from tenantry.scope import validate_id
from tenantry.store._sql import scope_filter

INST = "inst_0123456789abcdef"
B2B, B2C = Relationship.B2B, Relationship.B2C


@pytest.mark.parametrize(
    ("rel", "customer", "user", "expected"),
    [
        pytest.param(B2B, "acme", "alice", Scope(INST, ScopeLevel.USER, "acme", "alice"), id="b2b-customer+user->USER"),
        pytest.param(B2B, "acme", None, Scope(INST, ScopeLevel.CUSTOMER, "acme"), id="b2b-customer-only->CUSTOMER"),
        pytest.param(B2B, None, None, Scope(INST, ScopeLevel.CLIENT), id="b2b-neither->CLIENT"),
        pytest.param(B2C, None, "alice", Scope(INST, ScopeLevel.USER, "", "alice"), id="b2c-user->USER"),
        pytest.param(
            B2C, "alice", "alice", Scope(INST, ScopeLevel.USER, "", "alice"), id="b2c-user+equal-customer->USER"
        ),
        pytest.param(B2C, "org9", "alice", Scope(INST, ScopeLevel.USER, "", "alice"), id="b2c-customer-ignored->USER"),
        pytest.param(B2C, None, None, Scope(INST, ScopeLevel.CLIENT), id="b2c-neither->CLIENT"),
    ],
)
def test_write_scope_table(rel: Relationship, customer: str | None, user: str | None, expected: Scope) -> None:
    assert resolve_write_scope(INST, rel, customer_id=customer, user_id=user) == expected


def test_b2b_user_without_customer_is_rejected() -> None:
    with pytest.raises(InvalidInputError) as exc:
        resolve_write_scope(INST, B2B, customer_id=None, user_id="alice")
    assert exc.value.status_code == 400
    assert exc.value.code == "customer_id_required"


def test_user_chain_b2b_is_exact_pair_then_customer_then_client() -> None:
    chain = user_chain(INST, B2B, user_id="alice", customer_id="acme")
    assert [s.source for s in chain.scopes] == ["user:alice", "customer:acme", "client"]
    assert chain.scopes[0] == Scope(INST, ScopeLevel.USER, "acme", "alice")
    assert not chain.contains(Scope(INST, ScopeLevel.USER, "globex", "alice"))  # same user_id, other customer


def test_user_chain_with_world() -> None:
    chain = user_chain(INST, B2B, user_id="alice", customer_id="acme", include_world=True)
    assert [s.source for s in chain.scopes] == ["user:alice", "customer:acme", "client", "world"]


def test_user_chain_b2b_needs_customer() -> None:
    with pytest.raises(InvalidInputError):
        user_chain(INST, B2B, user_id="alice", customer_id=None)


def test_customer_chain_never_contains_a_user_scope() -> None:
    chain = customer_chain(INST, B2B, customer_id="acme")
    assert [s.level for s in chain.scopes] == [ScopeLevel.CUSTOMER, ScopeLevel.CLIENT]


def test_client_chain() -> None:
    assert [s.level for s in client_chain(INST).scopes] == [ScopeLevel.CLIENT]
    assert [s.level for s in client_chain(INST, include_world=True).scopes] == [ScopeLevel.CLIENT, ScopeLevel.WORLD]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("", id="empty"),
        pytest.param("a" * 129, id="too-long"),
        pytest.param("has space", id="space"),
        pytest.param("semi;colon", id="semicolon"),
        pytest.param("quote'", id="quote"),
        pytest.param("-leading-dash", id="leading-dash"),
        pytest.param(42, id="int"),
        pytest.param(["x"], id="list"),
    ],
)
def test_malformed_ids_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        validate_id(bad, "user_id", required=True)


def test_scope_objects_refuse_inconsistent_levels() -> None:
    with pytest.raises(InvalidInputError):
        Scope(INST, ScopeLevel.USER)
    with pytest.raises(InvalidInputError):
        Scope(INST, ScopeLevel.CUSTOMER, "acme", "alice")
    with pytest.raises(InvalidInputError):
        Scope(INST, ScopeLevel.CLIENT, "acme")
    with pytest.raises(InvalidInputError):
        ReadChain(INST, (Scope("inst_ffffffffffffffff", ScopeLevel.CLIENT),))


def test_empty_chain_filter_matches_nothing() -> None:
    where, params = scope_filter(ReadChain(INST, ()))
    assert where == "(1 = 0)" and params == []


def test_scope_filter_binds_every_id_as_a_parameter() -> None:
    where, params = scope_filter(user_chain(INST, B2B, user_id="alice", customer_id="acme"))
    assert "alice" not in where and "acme" not in where
    assert params == [INST, "acme", "alice", INST, "acme", INST, "client"]
