"""``tenantry demo``: the hosted service's multi-tenant B2B recipe, run on tenantry.

The block between the RECIPE markers is the recipe's code as published (the import line changed to tenantry, and
its top-level ``sdk = ...; await sdk.initialize()`` moved into :func:`run_demo` because a module cannot ``await``
at top level). ``call_your_llm`` is a trivial stand-in that echoes what the prompt knows. The runner onboards a few
customers, plays scripted turns for a few users each, and prints the context every turn receives, so isolation is
visible: a user sees their own memories and their customer's playbook, never another customer's or user's.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

console = Console()

# ---- RECIPE (verbatim, but for the import line) --------------------------------------------------------------------
from tenantry import MaximemSynapSDK  # noqa: E402

sdk: Any = None


# ---- Per-customer onboarding: load their playbook once ----
async def onboard_customer(customer_id: str, playbook_text: str):  # type: ignore[no-untyped-def]
    await sdk.memories.create(
        document=playbook_text,
        document_type="document",
        customer_id=customer_id,       # CUSTOMER scope — visible to all users in this customer
        # no user_id → not user-scoped
        metadata={"source": "onboarding_playbook"},
    )


# ---- Per-turn agent loop, called for every user message ----
async def handle_turn(customer_id: str, user_id: str, conversation_id: str, user_message: str) -> str:
    # Retrieval automatically merges USER + CUSTOMER + CLIENT scopes
    ctx = await sdk.conversation.context.fetch(
        conversation_id=conversation_id,
        search_query=[user_message],
        max_results=10,
    )

    # Build the system prompt with scoped memories
    user_facts = "\n".join(f"- {f.content}" for f in ctx.facts if f.source.startswith("user"))
    customer_facts = "\n".join(f"- {f.content}" for f in ctx.facts if f.source.startswith("customer"))

    system_prompt = (
        "Customer org context:\n" + (customer_facts or "(none)") + "\n\n"
        "About this user:\n" + (user_facts or "(none)") + "\n\n"
        "Respond using the customer org context as authoritative."
    )

    reply = await call_your_llm(system_prompt, user_message)

    # Ingest at USER scope so personal context stays personal
    await sdk.memories.create(
        document=f"User: {user_message}\nAssistant: {reply}",
        document_type="ai-chat-conversation",
        user_id=user_id,
        customer_id=customer_id,         # both → user-scope, but linked to customer
        metadata={"conversation_id": conversation_id},
    )
    return reply
# ---- END RECIPE ----------------------------------------------------------------------------------------------------


async def call_your_llm(system_prompt: str, user_message: str) -> str:
    """A trivial stand-in for an LLM: shows the prompt it was given and answers with a canned line."""
    console.print(Panel(system_prompt, title="system prompt this turn gets", border_style="cyan"))
    return "Noted, thanks!"


PLAYBOOKS = {
    "acme": "Acme Corp policy: customers can get a full refund within 30 days of purchase. Support hours are 9am to "
    "5pm CET. Customers on the Gold plan get free express shipping.",
    "globex": "Globex never offers refunds on software licences. Globex support is available 24/7 by chat. "
    "Globex invoices are always sent in USD.",
    "initech": "Initech requires a manager's approval for any order above 500 dollars. "
    "Initech prefers all communication by email.",
}
TURNS = [
    ("alice", "I'm vegetarian and I live in Lyon, so please ship to France."),
    ("bob", "I prefer phone calls over email, and I work night shifts as a nurse."),
    ("alice", "Can I still get a refund for my order? Also I love hiking on weekends."),
    ("bob", "What are your support hours? I'm really frustrated with the late delivery."),
]


async def run_demo(*, customers: int = 2, users: int = 2, dsn: str | None = None) -> None:
    """Onboard ``customers`` customers, play scripted turns for ``users`` users of each, print each turn's context."""
    global sdk
    tmp = None
    if dsn is None:
        tmp = tempfile.TemporaryDirectory(prefix="tenantry-demo-")
        dsn = f"sqlite:///{Path(tmp.name) / 'demo.db'}"
    sdk = MaximemSynapSDK(dsn=dsn, instance_id="demo")
    await sdk.initialize()
    try:
        chosen = list(PLAYBOOKS)[: max(1, min(customers, len(PLAYBOOKS)))]
        for cid in chosen:
            await onboard_customer(cid, PLAYBOOKS[cid])
        names = [name for name, _ in TURNS]
        people = list(dict.fromkeys(names))[: max(1, users)]
        if len(chosen) < customers or len(people) < users:
            console.print(
                f"[yellow]the demo has scripts for {len(PLAYBOOKS)} customers and {len(set(names))} users: "
                f"running {len(chosen)} × {len(people)}[/yellow]"
            )
        conversations = {(c, u): str(uuid.uuid4()) for c in chosen for u in people}
        for c in chosen:
            for user, message in TURNS:
                if user not in people:
                    continue
                console.rule(f"[bold]customer {c} · user {user}[/bold]: {message}")
                await handle_turn(c, user, conversations[(c, user)], message)
                await _settle()
        console.rule("[bold]isolation check[/bold]")
        for c in chosen:
            for u in people:
                ctx = await sdk.user.context.fetch(
                    user_id=u, customer_id=c, search_query=["refund shipping support"], max_results=20
                )
                sources = sorted({i.source for i in ctx.items()})
                console.print(f"user {u} of {c}: {len(ctx.items())} items from {sources}")
        leaks = await isolation_leaks(chosen, people)
        if len(chosen) > 1:
            verdict = "[red]LEAK[/red] " + "; ".join(leaks) if leaks else "[green]none[/green]"
            console.print(f"{chosen[1]}'s users searching for {chosen[0]}'s users' words: {verdict}")
    finally:
        await sdk.shutdown()
        if tmp is not None:
            tmp.cleanup()


async def isolation_leaks(chosen: list[str], people: list[str]) -> list[str]:
    """The negative check: each user of the second customer searches for what the same-named user of the first
    customer said (same user id, another customer: another person). Returns what they could see of it."""
    if len(chosen) < 2:
        return []
    leaks = []
    for u in people:
        theirs = [m for user, m in TURNS if user == u]
        ctx = await sdk.user.context.fetch(user_id=u, customer_id=chosen[1], search_query=theirs, max_results=50)
        foreign = await sdk.memories.list(user_id=u, customer_id=chosen[0], page_size=100)
        foreign_ids = {m.memory_id for m in foreign.data if m.source.startswith("user")}
        leaks += [f"{u}@{chosen[1]} sees {i.id}" for i in ctx.items() if i.id in foreign_ids]
    return leaks


async def _settle() -> None:
    """Wait until this process's ingestion queue is empty, so the next turn sees the previous one."""
    svc = sdk.api.service  # the embedded engine (EmbeddedAPI)
    while await svc.store.count_jobs() > 0:
        await asyncio.sleep(0.02)
