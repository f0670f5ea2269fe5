"""Description embeddings (sentence-transformers) and condition anchors. The zero-shot embedding baseline is
in :mod:`text2lora.evaluation.baselines`."""

from functools import lru_cache

import numpy as np

from .hub.resolve import DEFAULT_BASE_MODEL, resolve_model

DEFAULT_EMBEDDER = DEFAULT_BASE_MODEL


@lru_cache(maxsize=4)
def load_embedder(name_or_path=DEFAULT_EMBEDDER, device="cpu"):
    """A cached ``SentenceTransformer``; Hub ids with a packaged copy load offline."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model(name_or_path), device=device)


def embed(texts, embedder=DEFAULT_EMBEDDER, batch_size=128, device="cpu"):
    """L2-normalized float32 embeddings, shape (len(texts), dim)."""
    if isinstance(texts, str):
        texts = [texts]
    model = load_embedder(embedder, device) if isinstance(embedder, str) else embedder
    vectors = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                           show_progress_bar=False)
    return vectors.astype(np.float32)


def overlong_texts(texts, model):
    """The texts that ``model`` (a SentenceTransformer) truncates: longer than its ``max_seq_length`` tokens."""
    limit = model.max_seq_length
    lengths = [len(ids) for ids in model.tokenizer(list(texts), add_special_tokens=True)["input_ids"]]
    return [t for t, n in zip(texts, lengths) if n > limit]


def pair_text(texts, pairs=None):
    """Sentence-pair rows are embedded as 'first [SEP] second'; a ``None`` pair keeps the single text."""
    if pairs is None:
        return list(texts)
    return [a if b is None else f"{a} [SEP] {b}" for a, b in zip(texts, pairs)]


def task_anchors(vectors_per_task):
    """One condition anchor per task: the L2-normalized mean of the task's (unit) description embeddings. Input: a list
    of (n_i, dim) arrays; output: float32 (num_tasks, dim)."""
    anchors = []
    for i, vectors in enumerate(vectors_per_task):
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, np.shape(vectors)[-1])
        if len(vectors) == 0:
            raise ValueError(f"Task {i} has no description embeddings to make an anchor from.")
        mean = vectors.mean(0)
        norm = np.linalg.norm(mean)
        if not np.isfinite(norm) or norm < 1e-8:
            raise ValueError(f"Task {i}'s description embeddings average to zero; it cannot have an anchor.")
        anchors.append(mean / norm)
    return np.stack(anchors).astype(np.float32)
