"""PEFT LoRA adapters on a sequence-classification base: build, train state, save, and fast evaluation.

All adapters of a zoo share one initialization (LoRA A and the classifier head drawn from ``init_seed``), so their
weights live in one basis. Adapters are written with PEFT's own ``save_pretrained`` and name the portable Hub id of
their base model.
"""

import collections
import hashlib
import json
import os
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .evaluation.metrics import balanced_accuracy
from .fileio import atomic_directory, prepare_target
from .hub.resolve import DEFAULT_BASE_MODEL, resolve_model


@dataclass
class AdapterSpec:
    """What every adapter of a zoo shares: base model, LoRA settings and the initialization seed."""

    base_model: str = field(default=DEFAULT_BASE_MODEL, metadata={"help": "Base model (Hub id or folder)."})
    r: int = field(default=8, metadata={"help": "LoRA rank.", "aliases": ["--rank"]})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    target_modules: list[str] = field(default_factory=lambda: ["query", "value"],
                                      metadata={"help": "Modules of the base that get LoRA."})
    modules_to_save: list[str] = field(default_factory=lambda: ["classifier"],
                                       metadata={"help": "Modules trained in full and saved with the adapter."})
    num_labels: int = field(default=2, metadata={"help": "Labels of the classifier head."})
    init_seed: int = field(default=0, metadata={"help": "Shared init of LoRA A and the head for every task."})
    max_length: int = field(default=64, metadata={"help": "Tokens per text."})

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def lora_config(self):
        from peft import LoraConfig

        return LoraConfig(
            r=self.r, lora_alpha=self.lora_alpha, lora_dropout=self.lora_dropout,
            target_modules=list(self.target_modules), modules_to_save=list(self.modules_to_save),
            task_type="SEQ_CLS", base_model_name_or_path=self.base_model,
        )


def load_base(spec, model=None, tokenizer=None):
    """Load the base classifier and tokenizer (the classifier head is drawn from ``spec.init_seed``)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = resolve_model(spec.base_model)
    if tokenizer is None:
        tokenizer = AutoTokenizer.from_pretrained(path)
    if model is None:
        torch.manual_seed(spec.init_seed)
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=spec.num_labels)
    return model, tokenizer


def check_target_modules(model, spec):
    """Raise if the base model has no module matching each of ``spec.target_modules``."""
    names = {name.split(".")[-1] for name, _ in model.named_modules()}
    missing = [m for m in list(spec.target_modules) + list(spec.modules_to_save) if m not in names]
    if missing:
        sample = sorted(n for n in names if n)[:12]
        raise ValueError(
            f"Base model '{spec.base_model}' has no module named {missing}; target_modules/modules_to_save must "
            f"name modules of the base (for example {sample})."
        )


def build_peft_model(spec, model=None, tokenizer=None):
    """Wrap the base in a LoRA ``PeftModel`` whose trainable weights start from ``spec.init_seed``."""
    from peft import get_peft_model

    model, tokenizer = load_base(spec, model, tokenizer)
    check_target_modules(model, spec)
    torch.manual_seed(spec.init_seed)
    with warnings.catch_warnings():
        # The config names the base's portable Hub id while the weights come from its local (packaged) copy, on
        # purpose: PEFT's warning that the two differ says nothing the user can act on.
        warnings.filterwarnings("ignore", message="The PEFT config's `base_model_name_or_path` was renamed")
        peft_model = get_peft_model(model, spec.lora_config())
    # Classifier head: re-draw from the seed so that every adapter starts from the same head.
    generator = torch.Generator().manual_seed(spec.init_seed)
    for name, param in peft_model.named_parameters():
        if "modules_to_save" in name and param.requires_grad:
            with torch.no_grad():
                if name.endswith("weight"):
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
                else:
                    param.zero_()
    return peft_model, tokenizer


def adapter_state_dict(peft_model):
    """The adapter's weights as PEFT saves them (keys without the adapter name), in float32 on CPU."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().float().cpu().clone() for k, v in get_peft_model_state_dict(peft_model).items()}


def load_adapter_weights(peft_model, state_dict):
    """Load a PEFT-format state dict into ``peft_model`` in place (fast hot swap, same layout)."""
    from peft import set_peft_model_state_dict

    result = set_peft_model_state_dict(peft_model, state_dict)
    unexpected = getattr(result, "unexpected_keys", [])
    if unexpected:
        raise ValueError(f"Adapter weights do not fit the model: unexpected keys {unexpected[:4]}")


def save_adapter(peft_model, output_dir, state_dict=None, base_model=DEFAULT_BASE_MODEL, extra_files=None,
                 overwrite=False):
    """Write an adapter directory through PEFT's ``save_pretrained``, atomically (temp dir, then rename).

    ``state_dict`` (PEFT format) is loaded first when given. ``adapter_config.json`` names ``base_model`` (a Hub
    id), never a local path. ``extra_files`` maps file names to JSON-serializable objects or strings. An existing
    non-empty ``output_dir`` is replaced only with ``overwrite=True``, and only when it is an adapter text2lora wrote
    holding nothing else (:func:`text2lora.fileio.prepare_target`); otherwise ``ValueError`` and nothing is written.
    """
    output_dir = os.fspath(output_dir)
    replace = prepare_target(output_dir, overwrite)
    if state_dict is not None:
        load_adapter_weights(peft_model, state_dict)
    with atomic_directory(output_dir, replace=replace) as tmp:
        for config in peft_model.peft_config.values():
            config.base_model_name_or_path = base_model
        if "README.md" in (extra_files or {}):
            # PEFT's save_pretrained updates an existing README.md rather than rendering its default card template
            # (the slowest part of a write); the card in extra_files replaces it right after.
            with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as f:
                f.write("---\nlibrary_name: peft\n---\n")
        # No embedding layers are adapted; "auto" would look the base up on the Hub at every save.
        peft_model.save_pretrained(tmp, save_embedding_layers=False)
        for name, content in (extra_files or {}).items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(content if isinstance(content, str) else json.dumps(content, indent=2) + "\n")
    return output_dir


def tokenize(tokenizer, texts, pairs=None, max_length=64):
    """Tokenize rows without padding; ``pairs`` may mix second sentences and ``None`` (single texts)."""
    if pairs is not None and any(p is None for p in pairs) and any(p is not None for p in pairs):
        groups = [[i for i, p in enumerate(pairs) if p is None], [i for i, p in enumerate(pairs) if p is not None]]
        parts = [tokenize(tokenizer, [texts[i] for i in g], None if k == 0 else [pairs[i] for i in g], max_length)
                 for k, g in enumerate(groups)]
        out = {key: [None] * len(texts) for key in parts[0]}
        for group, part in zip(groups, parts):
            for key in out:
                for i, value in zip(group, part[key]):
                    out[key][i] = value
        return out
    if pairs is not None and all(p is None for p in pairs):
        pairs = None
    return tokenizer(list(texts), list(pairs) if pairs is not None else None, truncation=True,
                     max_length=max_length, padding=False)


def batches(encodings, batch_size, tokenizer, order=None):
    """Yield padded tensor batches from a tokenized list (``order`` picks and orders the rows)."""
    n = len(encodings["input_ids"])
    order = range(n) if order is None else order
    order = list(order)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        features = [{k: encodings[k][i] for k in encodings} for i in idx]
        yield idx, tokenizer.pad(features, return_tensors="pt")


@torch.no_grad()
def predict_proba(model, tokenizer, encodings, batch_size=128, device="cpu"):
    """P(label 1) for every tokenized row."""
    model.eval()
    # Sort by length so batches pad little; restore the order at the end.
    lengths = [len(x) for x in encodings["input_ids"]]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    out = np.zeros(len(lengths), dtype=np.float32)
    for idx, batch in batches(encodings, batch_size, tokenizer, order):
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits.float()
        out[idx] = torch.softmax(logits, dim=-1)[:, 1].cpu().numpy()
    return out


@torch.no_grad()
def classifier_inputs(model, tokenizer, encodings, batch_size=128, device="cpu"):
    """The classifier head's input features (n, hidden) for every tokenized row: what the base and its LoRA compute
    before the head (a forward pre-hook on ``model``'s ``classifier`` module)."""
    model.eval()
    captured = []
    handle = model.base_model.model.classifier.register_forward_pre_hook(
        lambda module, args: captured.append(args[0].detach().float().cpu()))
    lengths = [len(x) for x in encodings["input_ids"]]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    out = None
    try:
        for idx, batch in batches(encodings, batch_size, tokenizer, order):
            captured.clear()
            model(**{k: v.to(device) for k, v in batch.items()})
            if out is None:
                out = torch.zeros(len(lengths), captured[0].shape[-1])
            out[idx] = captured[0]
    finally:
        handle.remove()
    return out if out is not None else torch.zeros(0, 0)


class AdapterScorer:
    """Score many same-layout adapters on many tasks: the base loads once, tokenization is cached per task,
    and adapter weights are hot-swapped in place.

    Adapters that differ only in their classifier head (the head generator's, which share one LoRA) reuse the head's
    input features: the base runs once per LoRA, task and split (the last ``feature_cache_size`` are kept)."""

    HEAD_PREFIX = "base_model.model.classifier."

    def __init__(self, spec, peft_model=None, tokenizer=None, device="cpu", batch_size=128, feature_cache_size=8):
        self.spec = spec
        if peft_model is None:
            peft_model, tokenizer = build_peft_model(spec)
        self.model = peft_model.to(device)
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = batch_size
        self._cache = {}
        self._features = collections.OrderedDict()
        self.feature_cache_size = feature_cache_size
        classifier = getattr(getattr(getattr(peft_model, "base_model", None), "model", None), "classifier", None)
        copies = getattr(classifier, "modules_to_save", None)
        head = copies["default"] if copies is not None and "default" in copies else None
        # Reusing features needs a linear head that is the model's last step, as in BertForSequenceClassification.
        self._reuse_features = list(spec.modules_to_save) == ["classifier"] and isinstance(head, torch.nn.Linear)

    def _body_key(self, state_dict):
        """A hash of every weight but the classifier head's (which adapters share their head's input features)."""
        h = hashlib.sha256()
        for key in sorted(state_dict):
            if not key.startswith(self.HEAD_PREFIX):
                h.update(key.encode())
                h.update(state_dict[key].detach().float().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def encodings(self, task, split):
        key = (task.name, split)
        if key not in self._cache:
            texts, pairs = task.texts(split)
            self._cache[key] = tokenize(self.tokenizer, texts, pairs, self.spec.max_length)
        return self._cache[key]

    def proba(self, state_dict, task, split="test"):
        """P(label 1) of every row of ``task``'s ``split`` under the adapter ``state_dict`` (``None``: the weights
        loaded last)."""
        head_keys = (self.HEAD_PREFIX + "weight", self.HEAD_PREFIX + "bias")
        if state_dict is None or not self._reuse_features or not all(k in state_dict for k in head_keys):
            if state_dict is not None:
                load_adapter_weights(self.model, state_dict)
            return predict_proba(self.model, self.tokenizer, self.encodings(task, split), self.batch_size,
                                 self.device)
        key = (self._body_key(state_dict), task.name, split)
        if key in self._features:
            self._features.move_to_end(key)
            features = self._features[key]
        else:
            load_adapter_weights(self.model, state_dict)
            features = classifier_inputs(self.model, self.tokenizer, self.encodings(task, split), self.batch_size,
                                         self.device)
            self._features[key] = features
            while len(self._features) > self.feature_cache_size:
                self._features.popitem(last=False)
        weight, bias = (state_dict[k].float().cpu() for k in head_keys)
        logits = torch.nn.functional.linear(features, weight, bias)
        return torch.softmax(logits, dim=-1)[:, 1].numpy()

    def score(self, state_dict, task, split="test"):
        """Balanced accuracy of the adapter on ``task``'s ``split`` at threshold 0.5."""
        p = self.proba(state_dict, task, split)
        return balanced_accuracy(task.labels(split), p >= 0.5)
