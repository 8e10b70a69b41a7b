"""Reranking: the offline reranker on real MiniLM embeddings, the cross-encoder adapter
on a tiny cross-encoder built here (no downloads), and the model loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document

from core.runtime.precision import resolve
from core.runtime.embeddings import CpuAutocastEmbeddings, embed_texts, get_embeddings
from rag.models import get_reranker
from rag.query import QueryFilters, parse_question
from rag.rerank import CrossEncoderReranker, OfflineReranker, Reranker, filter_score
from settings import Settings


def _event(event_id: int, kind: str, t_start: float, description: str, **meta) -> Document:
    metadata = {
        "event_id": event_id, "video_id": "v1", "t_start": t_start, "t_end": t_start + 6.0,
        "type": kind, "zone": meta.pop("zone", "shelf"), "confidence": meta.pop("confidence", 0.8),
        "attributes": meta.pop("attributes", {}), "highlight_key": f"highlights/{event_id}.jpg", **meta,
    }
    return Document(page_content=description, metadata=metadata)


@pytest.fixture(scope="module")
def embeddings():
    return get_embeddings(Settings(embedding_model=None))


@pytest.fixture(scope="module")
def store_events(embeddings) -> list[Document]:
    docs = [
        _event(1, "walking", 200.0, "A woman walked past the checkout towards the exit.", zone="checkout"),
        _event(2, "theft", 190.0, "A young man concealed a bottle inside his jacket at the shelf and did not pay.",
               attributes={"age_group": "young", "gender": "male", "clothing_colour": "black"}),
        _event(3, "sitting", 230.0, "A person sat down on a bench near the exit.", zone="exit"),
        _event(4, "standing", 250.0, "Two people stood talking near the entrance.", zone="exit"),
        _event(5, "theft", 20.0, "A man hid a chocolate bar in his pocket at the shelf.", confidence=0.9),
    ]
    # stored embeddings for some events, none for others: both paths are exercised
    vectors = embeddings.embed_documents([d.page_content for d in docs[:3]])
    for doc, vector in zip(docs[:3], vectors):
        doc.metadata["embedding"] = vector
    return docs


def test_offline_reranker_puts_the_theft_in_the_window_first(embeddings, store_events) -> None:
    question = "did anyone steal something between minute 3 and 5?"
    filters = parse_question(question)
    reranker = OfflineReranker(embeddings=embeddings)
    top = reranker.rerank(question, store_events, filters, k=5)

    ids = [d.metadata["event_id"] for d in top]
    assert ids[0] == 2
    # the other theft misses the asked window, so it ranks below the one inside it
    assert ids.index(5) > ids.index(2)
    scores = [d.metadata["rerank_score"] for d in top]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert "rerank_score" not in store_events[0].metadata  # inputs untouched


def test_a_question_with_nothing_to_match_shows_incidents_before_routine(embeddings) -> None:
    # "what happened between minute 1 and 2?": many people standing about, one theft, k=3
    docs = [_event(10 + n, "standing", 60.0 + 5 * n, f"A person stands still at the counter ({n}).",
                   confidence=0.95) for n in range(6)]
    docs += [_event(30, "theft", 63.0, "A person takes an item and hides it at the waist.", confidence=0.6),
             _event(31, "walking", 61.0, "A person walks to the left.", confidence=0.9),
             _event(32, "picking", 90.0, "A person reaches out to take something.", confidence=0.5)]
    question = "what happened between minute 1 and 2?"
    filters = parse_question(question)
    top = OfflineReranker(embeddings=embeddings).rerank(question, docs, filters, k=3)
    assert [d.metadata["type"] for d in top] == ["theft", "picking", "standing"]
    assert top[0].metadata["rerank_parts"]["salience"] == 1.0 and top[0].metadata["rerank_parts"]["semantic"] == 0.0
    # a question with words to match keeps ranking on them: the walker is found, salience plays no part
    walked = parse_question("who walked to the left between minute 1 and 2?")
    best = OfflineReranker(embeddings=embeddings).rerank(walked.text, docs, walked, k=1)[0]
    assert best.metadata["event_id"] == 31 and best.metadata["rerank_parts"]["salience"] == 0.0


def test_anything_suspicious_puts_the_theft_before_the_loiterers(embeddings) -> None:
    docs = [_event(50 + n, "loitering", 10.0 * n, f"A person loiters by the door for 40 s ({n}).", confidence=0.9)
            for n in range(4)]
    docs += [_event(60, "theft", 63.0, "A person takes an item and hides it at the waist.", confidence=0.6),
             _event(61, "concealment", 68.0, "A person hides an item at the waist.", confidence=0.5)]
    question = "anything suspicious today?"
    top = OfflineReranker(embeddings=embeddings).rerank(question, docs, parse_question(question), k=2)
    assert [d.metadata["type"] for d in top] == ["theft", "concealment"]


def test_words_a_filter_took_leave_nothing_to_look_for() -> None:
    from rag.terms import looked_for

    assert looked_for(parse_question("what did the person in grey do around 1:05?")) == set()
    assert looked_for(parse_question("what happened on the left side?")) == set()
    assert looked_for(parse_question("what did the woman in red do?")) == set()
    assert looked_for(parse_question("what was the man in the black jacket doing?")) == {"jacket"}
    assert looked_for(parse_question("did a woman take a bottle?")) == {"take", "bottle"}


def test_who_and_when_alone_rank_the_persons_incidents_first(embeddings) -> None:
    grey = {"attributes": {"clothing_colour": "grey"}}
    docs = [_event(40, "standing", 66.0, "A person in grey stands still in the centre.", confidence=0.95, **grey),
            _event(41, "theft", 63.0, "A person in grey takes an item and hides it at the waist.", **grey),
            _event(42, "theft", 64.0, "A person in red takes an item and hides it.",
                   attributes={"clothing_colour": "red"})]
    question = "what did the person in grey do around 1:05?"
    top = OfflineReranker(embeddings=embeddings).rerank(question, docs, parse_question(question), k=3)
    # grey's theft first; the filters still outweigh salience, so grey's standing comes before red's theft
    assert [d.metadata["event_id"] for d in top] == [41, 40, 42]


def test_filter_mismatch_is_penalised(embeddings) -> None:
    doc = _event(7, "theft", 190.0, "A man put a bottle in his bag at the shelf.")
    reranker = OfflineReranker(embeddings=embeddings)
    question = "theft between minute 3 and 5"
    in_window = reranker.rerank(question, [doc], parse_question(question), k=1)[0]
    moved = Document(page_content=doc.page_content, metadata={**doc.metadata, "t_start": 20.0, "t_end": 26.0})
    out_of_window = reranker.rerank(question, [moved], parse_question(question), k=1)[0]
    assert out_of_window.metadata["rerank_score"] < in_window.metadata["rerank_score"]
    assert out_of_window.metadata["rerank_parts"]["filters"] < in_window.metadata["rerank_parts"]["filters"]

    # unknown attributes cost less than contradicting ones
    filters = QueryFilters(genders=["female"])
    assert filter_score(filters, {"attributes": {"gender": "female"}}) == 1.0
    assert filter_score(filters, {"attributes": {"gender": "unknown"}}) == 0.5
    assert filter_score(filters, {"attributes": {"gender": "male"}}) == 0.0
    assert filter_score(QueryFilters(), {"type": "walking"}) == 1.0


def test_semantic_signal_finds_the_meaning_without_filters(embeddings, store_events) -> None:
    # "putting it under a coat" names concealment now; this phrasing names no type, zone or person
    question = "goods disappearing under a coat"
    filters = parse_question(question)
    assert not filters.has_filters  # only the embedding and word overlap can decide
    top = OfflineReranker(embeddings=embeddings).rerank(question, store_events, filters, k=2)
    assert {d.metadata["event_id"] for d in top} <= {2, 5}


def test_offline_reranker_without_embeddings_still_ranks(store_events) -> None:
    question = "any theft between minute 3 and 5?"
    top = OfflineReranker(embeddings=None).rerank(question, store_events, parse_question(question), k=3)
    assert len(top) == 3 and top[0].metadata["event_id"] == 2
    assert OfflineReranker().rerank(question, [], parse_question(question)) == []


def test_embed_texts_are_normalised_minilm_vectors() -> None:
    vectors = embed_texts(["a man picks up a bottle", "a woman falls near the exit"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embed_texts([]).shape == (0, 384)


def test_many_texts_are_embedded_in_slices_in_their_order() -> None:
    from core.runtime.embeddings import EMBED_SLICE

    texts = [f"a person walks past shelf {i}" for i in range(2 * EMBED_SLICE + 5)]
    whole = embed_texts(texts)
    assert whole.shape == (len(texts), 384)
    # each row is its own text's vector, across the slices' seams
    for i in (0, EMBED_SLICE - 1, EMBED_SLICE, len(texts) - 1):
        assert np.allclose(whole[i], embed_texts([texts[i]])[0], atol=1e-4)


def test_bf16_embeddings_stay_comparable_with_float32_rows() -> None:
    texts = ["a man picks up a bottle", "a woman falls near the exit", "Two cars collided at the crossroads."]
    fp32 = np.asarray(get_embeddings(Settings(precision="fp32", embedding_backend="torch")).embed_documents(texts))
    bf16_embeddings = get_embeddings(Settings(precision="bf16", embedding_backend="torch"))
    assert isinstance(bf16_embeddings.inner, CpuAutocastEmbeddings)
    bf16 = np.asarray(bf16_embeddings.embed_documents(texts))
    assert np.all((fp32 * bf16).sum(axis=1) > 0.999)
    query = np.asarray(bf16_embeddings.embed_query(texts[1]))
    assert int(np.argmax(fp32 @ query)) == 1  # a bf16 question still finds its float32 row


def test_auto_backend_is_openvino_without_a_gpu_and_torch_with_one() -> None:
    import torch

    from core.runtime.embedders import OpenVinoEmbeddings

    chosen = get_embeddings(Settings(precision="fp32")).inner
    assert isinstance(chosen, OpenVinoEmbeddings) is (not torch.cuda.is_available())


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_openvino_embeddings_match_the_pytorch_ones(precision) -> None:
    from core.runtime.embedders import OpenVinoEmbeddings

    texts = ["a man picks up a bottle", "A woman in a red coat fell down near the exit and lay there.",
             "Two cars collided at the crossroads.", "ok"]  # mixed lengths: padding and pooling
    torch_vectors = np.asarray(get_embeddings(Settings(precision="fp32", embedding_backend="torch"))
                               .embed_documents(texts))
    default = get_embeddings(Settings(precision=precision, embedding_backend="openvino"))
    assert isinstance(default.inner, OpenVinoEmbeddings)
    ov_vectors = np.asarray(default.embed_documents(texts))
    assert ov_vectors.shape == (4, 384) and np.allclose(np.linalg.norm(ov_vectors, axis=1), 1.0, atol=1e-4)
    assert np.all((torch_vectors * ov_vectors).sum(axis=1) > 0.999)
    assert np.allclose(default.embed_query(texts[2]), ov_vectors[2], atol=1e-3)
    assert default.embed_documents([]) == []


def test_openvino_embeddings_keep_order_across_many_batches_and_callers(tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from core.runtime.embedders import OpenVinoEmbeddings
    from core.runtime.embeddings import embedding_model_path

    texts = [f"person {i} {'walks slowly past the shelf ' * (i % 4)}near the exit" for i in range(37)]
    reference = np.asarray(get_embeddings(Settings(precision="fp32", embedding_backend="torch")).embed_documents(texts))
    # batches of 3: more batches than infer requests, so requests are reused and callers wait for them
    small = OpenVinoEmbeddings(embedding_model_path(), cache_dir=Settings().model_cache_dir, batch_size=3)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda part: np.asarray(small.embed_documents(part)), [texts, texts[::-1], texts]))
    for got, want in zip(results, [reference, reference[::-1], reference]):
        assert got.shape == (37, 384)
        assert np.all((got * want).sum(axis=1) > 0.999)  # row i is sentence i's vector, whatever the batching


def test_openvino_embeddings_survive_a_failed_inference() -> None:
    from core.runtime.embedders import OpenVinoEmbeddings
    from core.runtime.embeddings import embedding_model_path

    small = OpenVinoEmbeddings(embedding_model_path(), cache_dir=Settings().model_cache_dir, batch_size=2)
    pool, inputs = small._idle.qsize(), small._inputs
    small._inputs = {"no such input"}  # every request is started without its inputs and fails
    with pytest.raises(ValueError):  # the empty output does not broadcast against the attention mask
        small.embed_documents(["a man walks", "a woman sits", "a car stops", "a dog runs", "rain"])
    small._inputs = inputs
    assert small._idle.qsize() == pool  # no request leaked: the next caller does not wait forever
    assert np.asarray(small.embed_documents(["a man walks"])).shape == (1, 384)


def test_openvino_refuses_a_checkpoint_it_cannot_pool(tmp_path) -> None:
    from core.runtime.embedders import OpenVinoEmbeddings, UnsupportedCheckpoint

    with pytest.raises(UnsupportedCheckpoint):
        OpenVinoEmbeddings(tmp_path, cache_dir=tmp_path)  # not a sentence-transformers folder at all


def test_auto_precision_follows_the_cpu(monkeypatch, tmp_path) -> None:
    import torch

    from core.runtime import precision
    from core.runtime.precision import cpu_has_native_bf16

    assert resolve("fp32") == "fp32" and resolve("bf16") == "bf16"
    with pytest.raises(ValueError, match="unknown precision"):
        resolve("fp8")
    probes = {name: getattr(torch.cpu, name)() for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")}
    flags = precision._cpuinfo_flags()
    assert flags is not None and bool(flags & {"amx_tile", "avx512_bf16"}) == any(probes.values())  # Linux agrees
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n\nprocessor\t: 1\nflags\t\t: other\n")
    assert precision._cpuinfo_flags(str(cpuinfo)) == {"fpu", "sse2", "avx2", "avx512f"}
    assert precision._cpuinfo_flags(str(tmp_path / "absent")) is None
    for seen, expected in (({"avx2", "avx512f"}, "fp32"), ({"avx2", "amx_tile"}, "bf16"), ({"avx512_bf16"}, "bf16")):
        monkeypatch.setattr(precision, "_cpuinfo_flags", lambda seen=seen: seen)
        cpu_has_native_bf16.cache_clear()
        assert resolve("auto") == expected
    # without /proc/cpuinfo, torch's probes answer
    monkeypatch.setattr(precision, "_cpuinfo_flags", lambda: None)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    cpu_has_native_bf16.cache_clear()
    assert resolve("auto") == "fp32"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    cpu_has_native_bf16.cache_clear()
    assert resolve("auto") == "bf16"
    cpu_has_native_bf16.cache_clear()  # the next test sees this machine's real answer


def test_the_openvino_embedder_tokenises_as_transformers_does_and_never_loads_torch(tmp_path) -> None:
    import subprocess
    import sys

    from transformers import AutoTokenizer

    from core.runtime.embedders import _pipeline, fast_tokenizer
    from core.runtime.embeddings import embedding_model_path

    path = Path(embedding_model_path())
    length, _ = _pipeline(path)
    ours, pad = fast_tokenizer(path, length)
    auto = AutoTokenizer.from_pretrained(str(path))
    texts = ["", "  ", "A MAN in RED hides a BOTTLE!!!", "Ünïcödé café, naïve 北京 😀", "tab\tand\nnew line",
             "a woman's bag (pink) -- near the till_2 @ 10:01", "word " * 400]
    assert [e.ids for e in ours.encode_batch(texts)] == auto(texts, truncation=True, max_length=length)["input_ids"]
    assert pad == auto.pad_token_id and len(ours.encode("word " * 400).ids) == length == 256

    # loading from converted IR (once per cache) imports no torch: about 470 MB of every worker's memory
    script = ("import sys; from pathlib import Path; from core.runtime.embedders import OpenVinoEmbeddings; "
              "from core.runtime.embeddings import embedding_model_path; "
              f"e = OpenVinoEmbeddings(embedding_model_path(), cache_dir=Path({str(tmp_path)!r})); "
              "print(len(e.embed_query('a man walks')), 'torch' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                           cwd=Path(__file__).resolve().parents[1]) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr[-2000:]
    assert [r.stdout.split() for r in runs] == [["384", "True"], ["384", "False"]]  # converting needs torch, once


def test_openvino_is_chosen_without_asking_torch_where_no_gpu_driver_is_present(monkeypatch, tmp_path) -> None:
    import torch

    from core.runtime import embeddings

    def no_asking() -> bool:
        raise AssertionError("torch was asked although no GPU driver is present")

    monkeypatch.setattr(embeddings, "GPU_DEVICE_FILES", (str(tmp_path / "nvidia0"),))
    monkeypatch.setattr(torch.cuda, "is_available", no_asking)
    assert embeddings._openvino_usable() is True
    (tmp_path / "nvidia0").touch()  # a driver is present: torch says whether CUDA works
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert embeddings._openvino_usable() is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert embeddings._openvino_usable() is True


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A randomly initialised two-layer BERT cross-encoder written to disk (no download)."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    root = tmp_path_factory.mktemp("cross_encoder")
    words = "a the man woman person put bottle in his jacket walked past checkout did anyone steal sat".split()
    (root / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]))
    tokenizer = BertTokenizer(vocab_file=str(root / "vocab.txt"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=1,
    )
    raw = root / "hf"
    BertForSequenceClassification(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    model_dir = root / "model"
    CrossEncoder(str(raw)).save_pretrained(str(model_dir))  # a proper sentence-transformers folder
    return str(model_dir)


def test_cross_encoder_reranker_orders_by_model_scores(tiny_cross_encoder, store_events) -> None:
    reranker = CrossEncoderReranker(tiny_cross_encoder)
    assert isinstance(reranker, Reranker)
    question = "did anyone steal?"
    filters = parse_question(question)
    top = reranker.rerank(question, store_events, filters, k=3)

    expected = reranker.model.predict([(filters.text, d.page_content) for d in store_events])
    best = np.argsort(-expected, kind="stable")[:3]
    assert [d.metadata["event_id"] for d in top] == [store_events[i].metadata["event_id"] for i in best]
    assert [d.metadata["rerank_score"] for d in top] == pytest.approx([float(expected[i]) for i in best])
    assert reranker.rerank(question, [], filters) == []


def test_get_reranker_follows_settings(tiny_cross_encoder) -> None:
    assert isinstance(get_reranker(Settings(reranker_model=None)), OfflineReranker)
    chosen = get_reranker(Settings(reranker_model=tiny_cross_encoder))
    assert isinstance(chosen, CrossEncoderReranker) and chosen.model_path == tiny_cross_encoder
