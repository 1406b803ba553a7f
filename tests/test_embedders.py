"""The packaged embedders: ``minilm`` (fp32 compute) and ``minilm-int8`` (built from it on first use, cached)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from tenantry import ConfigurationError
from tenantry import EmbedderUnavailableError
from tenantry import Tenantry
from tenantry.pipeline.embedders.minilm import MiniLMEmbedder
from tenantry.pipeline.registry import create_embedder
from tenantry.settings import Settings

pytestmark = pytest.mark.model

SENTENCES = [
    "I love drinking coffee in the morning.",
    "Coffee is my favourite drink.",
    "The train to Lyon leaves at noon.",
    "Melanie painted a sunrise over the lake last week.",
    "When did Caroline go to the LGBTQ support group?",
]


def test_int8_builds_once_and_stays_close_to_fp32(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fp32 = MiniLMEmbedder().embed(SENTENCES)
    first = MiniLMEmbedder(quantized=True, cache_dir=cache)
    v1 = first.embed(SENTENCES)
    built = sorted(cache.glob("*.onnx"))
    assert len(built) == 1 and built[0].name.startswith("minilm-int8-")
    assert not list(cache.glob(".build-*")), "the temporary build directory is removed"
    mtime = built[0].stat().st_mtime_ns
    second = MiniLMEmbedder(quantized=True, cache_dir=cache)
    v2 = second.embed(SENTENCES)
    assert built[0].stat().st_mtime_ns == mtime, "a second embedder reuses the cached model"
    assert first.name == second.name == "minilm-int8" and first.dimensions == 384
    np.testing.assert_allclose(v1, v2, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(v1, axis=1), 1.0, atol=1e-5)
    cos = (v1 * fp32).sum(axis=1)
    assert cos.min() > 0.97, cos
    sims = v1 @ v1.T
    assert sims[0, 1] > sims[0, 2] + 0.2  # coffee is nearer coffee than trains


def test_int8_build_removes_stale_build_directories(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stale, fresh = cache / ".build-stale", cache / ".build-fresh"
    stale.mkdir(parents=True)
    fresh.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    MiniLMEmbedder(quantized=True, cache_dir=cache).embed(["hello"])
    assert not stale.exists() and fresh.exists()  # a builder killed long ago vs one that may still be running


def test_int8_cache_that_cannot_be_created_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    emb = MiniLMEmbedder(quantized=True, cache_dir=blocker / "cache")
    with pytest.raises(EmbedderUnavailableError, match="TENANTRY_MODEL_CACHE"):
        emb.embed(["hello"])


def test_cache_dir_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANTRY_MODEL_CACHE", str(tmp_path / "models"))
    emb = create_embedder("minilm-int8", cache_dir=Settings().model_cache)
    assert isinstance(emb, MiniLMEmbedder) and emb.cache_dir == tmp_path / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert MiniLMEmbedder(quantized=True).cache_dir == tmp_path / "xdg" / "tenantry"  # no settings: the default


async def test_instance_keeps_the_embedder_it_was_built_with(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'm.db'}"
    async with Tenantry(dsn=dsn, instance_id="emb", embedder="minilm", workers=0) as sdk:
        assert sdk.instance_id
    with pytest.raises(ConfigurationError, match="TENANTRY_EMBEDDER=minilm"):
        async with Tenantry(dsn=dsn, instance_id="emb", embedder="minilm-int8", workers=0):
            pass


async def test_server_loads_the_model_before_it_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tenantry.server.app import create_app

    monkeypatch.setenv("TENANTRY_MODEL_CACHE", str(tmp_path / "models"))
    app = create_app(Settings(dsn=f"sqlite:///{tmp_path / 's.db'}", embedder="minilm-int8", workers=0))
    async with app.router.lifespan_context(app):
        assert list((tmp_path / "models").glob("minilm-int8-*.onnx")), "built at startup, not by the first request"


def test_serial_embedding_gives_the_same_vectors(tmp_path: Path) -> None:
    emb = MiniLMEmbedder(quantized=True, cache_dir=tmp_path / "models")
    texts = [f"{s} (variant {i})" for i in range(5) for s in SENTENCES]  # 25 texts: above the query batch size
    assert len(texts) > emb.query_max_batch
    parallel, serial = emb.embed(texts), emb.embed_serial(texts)
    np.testing.assert_array_equal(parallel, serial)
    np.testing.assert_array_equal(emb.embed_serial(texts[::-1]), serial[::-1])  # input order kept
