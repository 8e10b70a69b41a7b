"""Load the models only the ask path needs, once per process: the reranker and the chat model.

The embedder lives in `core.runtime.embeddings`, shared with the analysis pipeline. Provider
SDKs are imported inside the loaders, so importing `rag` stays fast.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING

from core.runtime.embeddings import embedding_key, load_embeddings, offline
from settings import Settings, get_settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from rag.rerank import Reranker

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _load_chat_model(model: str, base_url: str | None) -> BaseChatModel:
    from langchain.chat_models import init_chat_model

    log.info("using chat model %s", model)
    kwargs = {"base_url": base_url} if base_url else {}
    return init_chat_model(model, **kwargs)


def get_chat_model(settings: Settings | None = None) -> BaseChatModel | None:
    """The chat model named by SENTINEL_LLM (e.g. 'anthropic:claude-haiku-4-5'), or None.

    SENTINEL_LLM_BASE_URL points it at an OpenAI-compatible server such as vLLM.
    None means the offline, deterministic path (rule parser and grounded composer).
    """
    settings = settings or get_settings()
    if not settings.llm:
        return None
    return _load_chat_model(settings.llm, settings.llm_base_url)


@lru_cache(maxsize=4)
def _load_reranker(reranker_model: str | None, embedding_key: tuple[str, str, str, str]) -> Reranker:
    from rag.rerank import CrossEncoderReranker, OfflineReranker

    if reranker_model:
        offline()
        return CrossEncoderReranker(reranker_model)
    return OfflineReranker(embeddings=load_embeddings(*embedding_key))


def get_reranker(settings: Settings | None = None) -> Reranker:
    """A cross-encoder when SENTINEL_RERANKER_MODEL is set, else the offline reranker."""
    settings = settings or get_settings()
    return _load_reranker(settings.reranker_model, embedding_key(settings))
