"""Description embeddings (sentence-transformers models) and condition anchors. The zero-shot embedding baseline is
in :mod:`text2lora.evaluation.baselines`."""

import json
import os
from functools import lru_cache

import numpy as np

from .hub.resolve import DEFAULT_BASE_MODEL, resolve_model

DEFAULT_EMBEDDER = DEFAULT_BASE_MODEL


@lru_cache(maxsize=4)
def load_embedder(name_or_path=DEFAULT_EMBEDDER, device="cpu"):
    """A cached sentence-transformers model; Hub ids with a packaged copy load offline.

    A local folder holding a plain mean-pooling model (as the default MiniLM) loads as a :class:`MeanPoolingEmbedder`
    (transformers only: the same embeddings, without importing sentence-transformers); anything else as a
    ``SentenceTransformer``.
    """
    path = resolve_model(name_or_path)
    if mean_pooling_config(path) is not None:
        return MeanPoolingEmbedder(path, device)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device=device)


_POOLING_KEYS = {"word_embedding_dimension", "include_prompt", "pooling_mode_cls_token", "pooling_mode_mean_tokens",
                 "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                 "pooling_mode_lasttoken"}


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def mean_pooling_config(path):
    """``{"max_seq_length": n, "normalize": bool}`` when the folder ``path`` holds a sentence-transformers model that is
    exactly a transformer, mean pooling and optionally a Normalize module (no prompts, lower-casing or other
    settings); ``None`` otherwise."""
    if not os.path.isdir(str(path)):
        return None
    modules = _read_json(os.path.join(path, "modules.json"))
    if not isinstance(modules, list) or len(modules) not in (2, 3):
        return None
    kinds = [str(m.get("type", "")) if isinstance(m, dict) else "" for m in modules]
    if not all(kind.startswith("sentence_transformers.") for kind in kinds):
        return None
    kinds = [kind.rsplit(".", 1)[-1] for kind in kinds]
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]) or modules[0].get("path"):
        return None
    pooling = _read_json(os.path.join(path, str(modules[1].get("path", "")), "config.json"))
    if not isinstance(pooling, dict) or set(pooling) - _POOLING_KEYS:
        return None
    if {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v} != {"pooling_mode_mean_tokens"}:
        return None
    transformer = _read_json(os.path.join(path, "sentence_bert_config.json"))
    if not isinstance(transformer, dict) or set(transformer) - {"max_seq_length", "do_lower_case"}:
        return None
    if transformer.get("do_lower_case") or not isinstance(transformer.get("max_seq_length"), int):
        return None
    model_config = _read_json(os.path.join(path, "config.json"))
    if not isinstance(model_config, dict) or model_config.get("is_encoder_decoder"):
        return None  # sentence-transformers runs only the encoder of these (T5 and the like)
    settings = _read_json(os.path.join(path, "config_sentence_transformers.json")) or {}
    prompts = settings.get("prompts") if isinstance(settings, dict) else None
    if not isinstance(settings, dict) or settings.get("default_prompt_name") or any((prompts or {}).values()):
        return None
    return {"max_seq_length": transformer["max_seq_length"], "normalize": kinds[2:] == ["Normalize"]}


class MeanPoolingEmbedder:
    """A plain mean-pooling sentence-transformers model (see :func:`mean_pooling_config`) run with transformers alone:
    ``encode`` gives what ``SentenceTransformer.encode`` gives (same tokenization, truncation, pooling and
    normalization) and, as there, ``tokenizer`` and ``max_seq_length``."""

    def __init__(self, path, device="cpu"):
        from transformers import AutoModel, AutoTokenizer

        config = mean_pooling_config(path)
        if config is None:
            raise ValueError(f"'{path}' is not a plain mean-pooling sentence-transformers model.")
        self.max_seq_length = config["max_seq_length"]
        self.normalize = config["normalize"]
        self.tokenizer = AutoTokenizer.from_pretrained(path, model_max_length=self.max_seq_length)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.device = self.model.device

    def encode(self, sentences, batch_size=32, convert_to_numpy=True, normalize_embeddings=False,
               show_progress_bar=None):
        """Embeddings of ``sentences`` (one text: one vector), longest texts batched first as sentence-transformers
        does; a float32 numpy array, or a tensor with ``convert_to_numpy=False``."""
        import torch

        texts = [sentences] if isinstance(sentences, str) else list(sentences)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = [None] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                idx = order[start:start + batch_size]
                features = self.tokenizer([texts[i] for i in idx], padding=True, truncation="longest_first",
                                          max_length=self.max_seq_length, return_tensors="pt").to(self.device)
                hidden = self.model(**features).last_hidden_state
                mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                if self.normalize or normalize_embeddings:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                for i, vector in zip(idx, pooled.cpu()):
                    vectors[i] = vector
        dim = self.model.config.hidden_size
        out = torch.stack(vectors) if vectors else torch.zeros(0, dim)
        if convert_to_numpy:
            out = out.float().numpy()
        return out[0] if isinstance(sentences, str) else out


def embed(texts, embedder=DEFAULT_EMBEDDER, batch_size=128, device="cpu"):
    """L2-normalized float32 embeddings, shape (len(texts), dim)."""
    if isinstance(texts, str):
        texts = [texts]
    model = load_embedder(embedder, device) if isinstance(embedder, str) else embedder
    vectors = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                           show_progress_bar=False)
    return vectors.astype(np.float32)


def overlong_texts(texts, model):
    """The texts that ``model`` (a loaded embedder) truncates: longer than its ``max_seq_length`` tokens."""
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
