"""Plug-in lookup by name: built-ins plus entry points (``tenantry.extractors`` / ``tenantry.embedders``).

What the engine's settings decide for the built-ins is passed in explicitly: the model cache directory
(``Settings.model_cache``) to the MiniLM embedders, the enabled retrieval components (``Features(Settings.ablate)``)
to the turn extractor and to the ``a+b`` composition. Entry-point plug-ins get only the caller's ``options``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from typing import TypeVar

from ..errors import ConfigurationError
from ..retrieval.features import Features
from .base import Embedder
from .base import Extractor

__all__ = ["create_embedder", "create_extractor"]

P = TypeVar("P")


def _minilm(*, cache_dir: Path | None, quantized: bool = False, **kw: Any) -> Embedder:
    from .embedders.minilm import MiniLMEmbedder

    return MiniLMEmbedder(quantized=quantized, cache_dir=cache_dir, **kw)


def _minilm_int8(*, cache_dir: Path | None, **kw: Any) -> Embedder:
    return _minilm(cache_dir=cache_dir, quantized=True, **kw)


def _hashing(*, cache_dir: Path | None, **kw: Any) -> Embedder:
    from .embedders.hashing import HashingEmbedder

    return HashingEmbedder(**kw)


def _rules(*, features: Features, **kw: Any) -> Extractor:
    from .extractors.rules import RulesExtractor

    return RulesExtractor(**kw)


def _turns(*, features: Features, **kw: Any) -> Extractor:
    from .extractors.turns import TurnExtractor

    return TurnExtractor(features=features, **kw)


_EMBEDDERS: dict[str, Callable[..., Embedder]] = {"minilm": _minilm, "minilm-int8": _minilm_int8, "hashing": _hashing}
_EXTRACTORS: dict[str, Callable[..., Extractor]] = {"rules": _rules, "turns": _turns}


def _from_entry_points(group: str, name: str) -> Callable[..., Any] | None:
    for ep in entry_points(group=group):
        if ep.name == name:
            factory: Callable[..., Any] = ep.load()
            return factory
    return None


def _create(
    kind: str,
    protocol: type,  # a runtime-checkable Protocol: Embedder or Extractor
    builtins: dict[str, Callable[..., P]],
    name: str,
    builtin_options: dict[str, Any],
    options: dict[str, Any],
) -> P:
    """The plug-in ``name`` of ``kind``: a built-in (given ``builtin_options`` too) or an entry point."""
    builtin = builtins.get(name)
    factory = builtin or _from_entry_points(f"tenantry.{kind}s", name)
    if factory is None:
        raise ConfigurationError(f"unknown {kind} {name!r}; built-in: {', '.join(sorted(builtins))}")
    made: P = factory(**builtin_options, **options) if builtin is not None else factory(**options)
    if not isinstance(made, protocol):
        raise ConfigurationError(f"{kind} {name!r} does not implement the {protocol.__name__} protocol")
    return made


def create_embedder(name: str, *, cache_dir: Path | None = None, **options: Any) -> Embedder:
    """The embedder called ``name``; ``cache_dir`` is where ``minilm-int8`` builds its model file."""
    return _create("embedder", Embedder, _EMBEDDERS, name, {"cache_dir": cache_dir}, options)


def create_extractor(name: str, *, features: Features | None = None, **options: Any) -> Extractor:
    """The extractor called ``name``; ``a+b`` runs extractors ``a`` and ``b`` and keeps both's drafts.

    ``features`` (default: every component on) decides the turn extractor's memories and whether ``a+turns``
    drops the typed episodes that restate a single turn (see ``retrieval/features.py``).
    """
    features = features or Features()
    if "+" in name:
        from .extractors.composite import CompositeExtractor

        parts = [p.strip() for p in name.split("+") if p.strip()]
        policy = "drop" if "turns" in parts and features.on("episode-dedup") else "keep"
        return CompositeExtractor(
            [create_extractor(p, features=features, **options) for p in parts], restated_episodes=policy
        )
    return _create("extractor", Extractor, _EXTRACTORS, name, {"features": features}, options)
