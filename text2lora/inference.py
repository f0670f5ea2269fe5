"""Classify texts with a generated adapter: :func:`load_classifier` then :func:`classify`.

    >>> from text2lora.inference import classify, load_classifier
    >>> model, tokenizer = load_classifier("generated-adapters/detect-spam-diffusion-seed0")
    >>> classify(["win a free iphone now"], model, tokenizer)
    [{'not spam': 0.19, 'spam': 0.81}]
"""

import json
import os

DEFAULT_MAX_LENGTH = 64  # the sequence length adapters are trained and generated for (AdapterSpec.max_length)


def adapter_label_names(adapter_dir):
    """``[name0, name1]`` from the adapter's ``generation_config.json`` (``id2label``), or ``None`` when it records
    none (an adapter text2lora did not write, or an older one)."""
    path = os.path.join(os.fspath(adapter_dir), "generation_config.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    id2label = config.get("id2label")
    if not isinstance(id2label, dict):
        return None
    try:
        names = [id2label[str(i)] for i in range(len(id2label))]  # JSON object keys are strings
    except KeyError:
        raise ValueError(f"{path}: id2label must map the ids 0..{len(id2label) - 1}, got {id2label!r}.") from None
    return names


def _local_adapter_dir(adapter_dir):
    """The local folder of an adapter folder or Hub repo id (its cached snapshot)."""
    adapter_dir = os.fspath(adapter_dir)
    if os.path.isdir(adapter_dir):
        if not os.path.isfile(os.path.join(adapter_dir, "adapter_config.json")):
            raise ValueError(f"'{adapter_dir}' is not a PEFT adapter folder: adapter_config.json is missing.")
        return adapter_dir
    from huggingface_hub import snapshot_download

    from .hub.resolve import check_hub_source

    check_hub_source(adapter_dir, "Adapter")
    return snapshot_download(adapter_dir)


def load_classifier(adapter_dir, device="cpu"):
    """``(model, tokenizer)`` for a generated adapter folder (or Hub repo id): the base model named in its
    ``adapter_config.json`` (resolved offline by :func:`text2lora.resolve_model`) with the adapter on top through
    plain ``PeftModel.from_pretrained``, in eval mode on ``device``, and the base model's tokenizer.

    The base config's ``id2label`` / ``label2id`` come from the adapter's ``generation_config.json``, so
    ``model.config.id2label`` and ``transformers.pipeline("text-classification", model=model, tokenizer=tokenizer)``
    name the labels; an adapter that records no names keeps transformers' ``LABEL_0`` / ``LABEL_1``."""
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from .hub import resolve_model

    folder = _local_adapter_dir(adapter_dir)
    base_path = resolve_model(PeftConfig.from_pretrained(folder).base_model_name_or_path)
    names = adapter_label_names(folder)
    if names is None:
        base = AutoModelForSequenceClassification.from_pretrained(base_path, num_labels=2)
    else:
        base = AutoModelForSequenceClassification.from_pretrained(
            base_path, id2label=dict(enumerate(names)), label2id={name: i for i, name in enumerate(names)})
    model = PeftModel.from_pretrained(base, folder).to(device).eval()
    return model, AutoTokenizer.from_pretrained(base_path)


def classify(texts, model, tokenizer, max_length=DEFAULT_MAX_LENGTH, batch_size=32):
    """``[{label name: probability}]`` for each of ``texts`` (a list, or one string), in label-id order, with the
    model of :func:`load_classifier` (names from ``model.config.id2label``)."""
    import torch

    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("classify() takes texts (strings).")
    id2label = model.config.id2label
    device = next(model.parameters()).device
    results = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(texts[start:start + batch_size], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt").to(device)
            probs = torch.softmax(model(**enc).logits.float(), -1).cpu().tolist()
            results += [{id2label[i]: p for i, p in enumerate(row)} for row in probs]
    return results
