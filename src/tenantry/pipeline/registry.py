"""Plug-in lookup by name: built-ins plus entry points (``tenantry.extractors`` / ``tenantry.embedders``)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from ..errors import ConfigurationError
from .base import Embedder, Extractor

__all__ = ["create_embedder", "create_extractor"]


def _minilm(**kw: Any) -> Embedder:
    from .embedders.minilm import MiniLMEmbedder

    return MiniLMEmbedder(**kw)


def _minilm_int8(**kw: Any) -> Embedder:
    from .embedders.minilm import MiniLMEmbedder

    return MiniLMEmbedder(quantized=True, **kw)


def _hashing(**kw: Any) -> Embedder:
    from .embedders.hashing import HashingEmbedder

    return HashingEmbedder(**kw)


def _rules(**kw: Any) -> Extractor:
    from .extractors.rules import RulesExtractor

    return RulesExtractor(**kw)


def _turns(**kw: Any) -> Extractor:
    from .extractors.turns import TurnExtractor

    return TurnExtractor(**kw)


_EMBEDDERS: dict[str, Callable[..., Embedder]] = {"minilm": _minilm, "minilm-int8": _minilm_int8, "hashing": _hashing}
_EXTRACTORS: dict[str, Callable[..., Extractor]] = {"rules": _rules, "turns": _turns}


def _from_entry_points(group: str, name: str) -> Callable[..., Any] | None:
    for ep in entry_points(group=group):
        if ep.name == name:
            factory: Callable[..., Any] = ep.load()
            return factory
    return None


def create_embedder(name: str, **options: Any) -> Embedder:
    factory = _EMBEDDERS.get(name) or _from_entry_points("tenantry.embedders", name)
    if factory is None:
        raise ConfigurationError(f"unknown embedder {name!r}; built-in: {', '.join(sorted(_EMBEDDERS))}")
    emb = factory(**options)
    if not isinstance(emb, Embedder):
        raise ConfigurationError(f"embedder {name!r} does not implement the Embedder protocol")
    return emb


def create_extractor(name: str, **options: Any) -> Extractor:
    """The extractor called ``name``; ``a+b`` runs extractors ``a`` and ``b`` and keeps both's drafts."""
    if "+" in name:
        from .extractors.composite import CompositeExtractor

        parts = [p.strip() for p in name.split("+") if p.strip()]
        from ..retrieval.features import Features

        # Turn memories replace the typed episodes that restate a single turn (see retrieval/features.py).
        policy = "drop" if "turns" in parts and Features.from_env().on("episode-dedup") else "keep"
        return CompositeExtractor([create_extractor(p, **options) for p in parts], restated_episodes=policy)
    factory = _EXTRACTORS.get(name) or _from_entry_points("tenantry.extractors", name)
    if factory is None:
        raise ConfigurationError(f"unknown extractor {name!r}; built-in: {', '.join(sorted(_EXTRACTORS))}")
    ext = factory(**options)
    if not isinstance(ext, Extractor):
        raise ConfigurationError(f"extractor {name!r} does not implement the Extractor protocol")
    return ext
