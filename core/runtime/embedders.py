"""Sentence embeddings on OpenVINO: the same sentence-transformers checkpoint, about twice as fast on a CPU.

The checkpoint's transformer is converted once from its PyTorch weights (`openvino.convert_model`,
no download) and cached as IR; tokenising, mean pooling and normalising follow the
checkpoint's own sentence-transformers configuration, so the vectors match the PyTorch path
(cosine >= 0.9999, checked in tests/test_rerank.py) and rows embedded either way stay comparable.
sentence-transformers' own OpenVINO backend would need optimum-intel, which pins an older
transformers than the rest of the stack, hence this small adapter.

Example:
    >>> embeddings = OpenVinoEmbeddings(model_path, cache_dir=Path("/tmp/models"))
    >>> embeddings.embed_query("a man picks up a bottle")[:3]
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import threading
from collections import deque
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)


class UnsupportedCheckpoint(ValueError):
    """The checkpoint is not a plain transformer + mean pooling (+ normalise) sentence-transformers model."""


def _pipeline(model_path: Path) -> tuple[int, bool]:
    """(max_seq_length, normalise) of a Transformer -> mean Pooling [-> Normalize] checkpoint."""
    if not (model_path / "modules.json").is_file():
        raise UnsupportedCheckpoint(f"{model_path} is not a sentence-transformers folder (no modules.json)")
    modules = json.loads((model_path / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise UnsupportedCheckpoint(f"{model_path}: modules {kinds} are not transformer + pooling")
    pooling = json.loads((model_path / modules[1]["path"] / "config.json").read_text())
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise UnsupportedCheckpoint(f"{model_path}: pooling {modes} is not mean pooling")
    config = json.loads((model_path / "sentence_bert_config.json").read_text())
    return int(config.get("max_seq_length", 256)), kinds[-1] == "Normalize"


def fast_tokenizer(model_path: Path, max_length: int):
    """The checkpoint's own `tokenizer.json`, run by `tokenizers` as transformers' fast tokenizer runs it.

    transformers imports torch whenever torch is installed (about 470 MB of a worker's memory); the
    tokenizers library it wraps does not. Truncated at `max_length`, unpadded; returns it and the pad id.
    """
    from tokenizers import Tokenizer

    path = model_path / "tokenizer.json"
    if not path.is_file():
        raise UnsupportedCheckpoint(f"{model_path} has no tokenizer.json (a fast tokenizer)")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    config = model_path / "tokenizer_config.json"
    pad = json.loads(config.read_text()).get("pad_token") if config.is_file() else None
    pad = pad.get("content") if isinstance(pad, dict) else pad
    return tokenizer, int(tokenizer.token_to_id(pad) or 0) if pad else 0


class OpenVinoEmbeddings(Embeddings):
    """LangChain embeddings from a local sentence-transformers folder, run by OpenVINO on the CPU.

    Args:
        model_path: the checkpoint folder (modules.json, tokenizer, weights).
        cache_dir: where the converted IR is kept (a few seconds to convert, once per version).
        precision: "bf16" (AMX / AVX512-BF16 CPUs) or "fp32".
        batch_size: sentences per inference call, sorted by token count to avoid padding.
        normalize: unit-length vectors (default: whatever the checkpoint's pipeline says).
        threads: inference threads (default: OpenVINO's choice, every core).
    """

    def __init__(self, model_path: str | Path, *, cache_dir: Path, precision: str = "fp32",
                 batch_size: int = 64, normalize: bool | None = None, threads: int | None = None) -> None:
        import openvino as ov

        self.model_path = Path(model_path)
        self.max_length, normalise = _pipeline(self.model_path)
        self.normalize = normalise if normalize is None else normalize
        self.batch_size = batch_size
        self.tokenizer, self._pad_id = fast_tokenizer(self.model_path, self.max_length)
        hint = "bf16" if precision == "bf16" else "f32"
        core = ov.Core()
        config = {"INFERENCE_PRECISION_HINT": hint}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        model = core.read_model(str(self._convert(cache_dir)))
        # two compilations of one model: a question runs on every core at once (lowest latency);
        # bulk text runs one stream per core, each batch on one core (most sentences/s)
        self._quick = core.compile_model(model, "CPU", {**config, "PERFORMANCE_HINT": "LATENCY"})
        self._quick_request = self._quick.create_infer_request()
        self._quick_lock = threading.Lock()
        self.compiled = core.compile_model(model, "CPU", {**config, "PERFORMANCE_HINT": "THROUGHPUT"})
        self._inputs = {port.get_any_name() for port in self.compiled.inputs}
        # twice the streams: the next batch is queued while a finished one is pooled in numpy
        requests = 2 * max(1, int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        # idle infer requests, shared by every caller (the importer and the UI may embed at once)
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(requests):
            self._idle.put(self.compiled.create_infer_request())

    def _convert(self, cache_dir: Path) -> Path:
        from core.runtime.openvino_ir import cached_ir

        weights = sorted(self.model_path.glob("*.safetensors")) or sorted(self.model_path.glob("*.bin"))
        stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights)
        digest = hashlib.sha256(f"{self.model_path.resolve()}|{stamp}".encode()).hexdigest()[:12]

        def convert():
            import openvino as ov
            import torch
            from transformers import AutoModel

            from core.runtime.quiet import quiet_model_load

            with quiet_model_load():
                model = AutoModel.from_pretrained(str(self.model_path)).eval()
                ids = [e.ids for e in self.tokenizer.encode_batch(["a person walks", "two people stand near the exit"])]
                feed, _ = self._feed(ids, np.arange(len(ids)), names=("input_ids", "attention_mask", "token_type_ids"))
                with torch.no_grad():
                    return ov.convert_model(model, example_input={k: torch.from_numpy(v) for k, v in feed.items()})

        return cached_ir(cache_dir, f"embedder-{self.model_path.name}-{digest}", convert)

    def _feed(self, ids: list[list[int]], rows: np.ndarray,
              names: tuple[str, ...] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Model inputs (those of `names`, else the compiled model's) for these rows of token ids, right-padded."""
        width = max(len(ids[i]) for i in rows)
        input_ids = np.full((len(rows), width), self._pad_id, np.int64)
        attention = np.zeros((len(rows), width), np.int64)
        for r, i in enumerate(rows):
            input_ids[r, :len(ids[i])] = ids[i]
            attention[r, :len(ids[i])] = 1
        feed = {"input_ids": input_ids, "attention_mask": attention, "token_type_ids": np.zeros_like(input_ids)}
        wanted = names or self._inputs
        return {k: v for k, v in feed.items() if k in wanted}, attention[..., None].astype(np.float32)

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        vectors = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        if self.normalize:
            vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors

    def _encode(self, texts: list[str]) -> np.ndarray:
        ids = [e.ids for e in self.tokenizer.encode_batch(texts)] if texts else []
        if 0 < len(texts) <= self.batch_size:  # a question, a few descriptions: one call, every core
            feed, mask = self._feed(ids, np.arange(len(texts)))
            with self._quick_lock:
                hidden = np.array(self._quick_request.infer(feed)[0], dtype=np.float32)  # (batch, tokens, dim)
            return self._pool(hidden, mask)
        order = np.argsort([len(row) for row in ids], kind="stable")  # equal token counts pad least
        result = np.zeros((len(texts), 0), np.float32)
        running: deque[tuple[object, np.ndarray, np.ndarray]] = deque()  # (request, attention mask, rows)

        def finish() -> None:
            nonlocal result
            request, mask, rows = running.popleft()
            try:
                request.wait()
                hidden = np.array(request.get_output_tensor(0).data, dtype=np.float32)  # (batch, tokens, dim)
            finally:
                self._idle.put(request)
            vectors = self._pool(hidden, mask)
            if result.shape[1] == 0:
                result = np.zeros((len(texts), vectors.shape[1]), np.float32)
            result[rows] = vectors

        try:
            for start in range(0, len(texts), self.batch_size):
                rows = order[start:start + self.batch_size]
                feed, mask = self._feed(ids, rows)
                while True:
                    try:
                        request = self._idle.get_nowait()
                        break
                    except queue.Empty:
                        if not running:  # block only while holding no request, so two callers cannot deadlock
                            request = self._idle.get()
                            break
                        finish()
                running.append((request, mask, rows))
                request.start_async(feed)
            while running:
                finish()
        finally:
            while running:  # after an error: every request goes back, or later callers would wait forever
                request = running.popleft()[0]
                with contextlib.suppress(Exception):
                    request.wait()
                self._idle.put(request)
        return result

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()
