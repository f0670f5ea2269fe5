"""Add a task-loss head generator (``HeadHypernetwork``) to a trained text2lora generator.

The base model stays frozen and the LoRA weights are the same for every task, so each text's classifier input is
computed once. With ``feature_lora_steps`` that shared LoRA is trained first, without labels, so that the classifier's
input predicts the embedder's sentence embedding (``train_feature_lora``); otherwise LoRA stays at zero. The
hypernetwork (description embedding -> classifier head, initialized at the zero-shot cosine classifier) is then
trained on the labelled rows of the generator's seen training tasks, and with ``auxiliary_tasks`` on those of the
suite's auxiliary tasks too (labelled intents with no zoo adapter). The result is saved as the pipeline's
``head_generator`` component (in place, or in a copy under ``output_dir``). ``train_head.py``
(``text2lora-train-head``) is the command line of :func:`train_head_generator`.
"""

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from ..data.zoo import DEFAULT_ZOO
from ..fileio import atomic_directory, check_output_location, check_writable_parent, write_text_atomic

logger = logging.getLogger(__name__)


def _default_device():
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class HeadTrainingArguments:
    """The settings of one head-generator training run: one field per ``train_head.py`` flag."""

    generator: str = field(default="text2lora/data/generator", metadata={"help": "Generator directory to extend."})
    zoo: str = field(default=DEFAULT_ZOO, metadata={"help": "The zoo the generator was trained on."})
    output_dir: Optional[str] = field(default=None, metadata={
        "help": "Write a copy of the generator here (default: in place)."})
    auxiliary_tasks: bool = field(default=False, metadata={
        "help": "Also train on the suite's auxiliary tasks (extra labelled intents with no zoo adapter; see "
                "text2lora.list_tasks(split='auxiliary'))."})
    rows_per_class: int = field(default=128, metadata={"help": "Training rows per label per task."})
    projection_rows: int = field(default=20000, metadata={
        "help": "Rows embedded with the embedder to fit the feature projection."})
    max_train_steps: int = field(default=3000, metadata={"help": "Head training steps (0: the zero-shot init)."})
    batch_tasks: int = field(default=32, metadata={"help": "Tasks per step."})
    rows_per_task: int = field(default=64, metadata={"help": "Rows per task per step."})
    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW learning rate of the head."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay of the head."})
    condition_noise: float = field(default=0.5, metadata={"help": "Noise norm added to the training conditions."})
    feature_lora_steps: int = field(default=0, metadata={
        "help": "Train a LoRA shared by every generated adapter (no labels; unlabelled training-task texts) so the "
                "classifier's input predicts the sentence embedding, for this many steps before the head (0: LoRA "
                "stays at zero)."})
    feature_lora_batch_size: int = field(default=32, metadata={"help": "Texts per feature-LoRA step."})
    feature_lora_learning_rate: float = field(default=1e-3, metadata={"help": "Feature-LoRA learning rate."})
    multitask_steps: int = field(default=0, metadata={
        "help": "After the head, train the shared LoRA and the head together with the task loss through the base for "
                "this many steps (the multi-task, description-conditioned model; 0: off)."})
    multitask_batch_tasks: int = field(default=16, metadata={"help": "Tasks per multi-task step."})
    multitask_rows_per_task: int = field(default=4, metadata={"help": "Rows per task per multi-task step (even)."})
    multitask_learning_rate: float = field(default=1e-3, metadata={"help": "Multi-task LoRA learning rate."})
    multitask_head_learning_rate: float = field(default=1e-4, metadata={
        "help": "Learning rate of the head during multi-task training."})
    val_per_class: int = field(default=32, metadata={"help": "Val rows per label for the validation check."})
    seed: int = field(default=0, metadata={"help": "Seed of the row sampling and training."})
    save_fp16: bool = field(default=False, metadata={
        "help": "Store the head generator's weights in fp16 (from_pretrained upcasts them to float32)."})
    feature_cache: Optional[str] = field(default=None, metadata={
        "help": "A .pt file keeping the base features and sentence embeddings between runs (reused when its rows "
                "match; most of the run time is computing them)."})
    device: str = field(default_factory=_default_device, metadata={"help": "cpu, cuda, cuda:N or mps."})

    def __post_init__(self):
        self.generator, self.zoo = os.fspath(self.generator), os.fspath(self.zoo)  # paths are recorded as JSON
        self.output_dir = os.fspath(self.output_dir) if self.output_dir is not None else None
        if self.max_train_steps < 0:
            raise ValueError(f"--max_train_steps must be >= 0 (0 keeps the zero-shot initialization), got "
                             f"{self.max_train_steps}.")
        if self.feature_lora_steps < 0 or self.feature_lora_learning_rate <= 0:
            raise ValueError("--feature_lora_steps must be >= 0 and --feature_lora_learning_rate > 0.")
        for name in ("rows_per_class", "projection_rows", "batch_tasks", "rows_per_task", "feature_lora_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}.")
        if self.multitask_steps < 0 or self.multitask_rows_per_task < 2 or self.multitask_rows_per_task % 2:
            raise ValueError("--multitask_steps must be >= 0 and --multitask_rows_per_task an even number >= 2.")
        if (self.multitask_batch_tasks < 1 or self.multitask_learning_rate <= 0
                or self.multitask_head_learning_rate <= 0):
            raise ValueError("--multitask_batch_tasks must be >= 1 and the multi-task learning rates > 0.")
        if self.condition_noise < 0 or self.learning_rate <= 0:
            raise ValueError("--condition_noise must be >= 0 and --learning_rate > 0.")


def _unique_rows(row_lists):
    """Deduplicate (text, pair) rows over tasks: returns (texts, pairs or None, per-list feature indices)."""
    index, texts, pairs, out = {}, [], [], []
    for rows in row_lists:
        ids = []
        for key in rows:
            if key not in index:
                index[key] = len(texts)
                texts.append(key[0])
                pairs.append(key[1])
            ids.append(index[key])
        out.append(np.asarray(ids, dtype=np.int64))
    has_pairs = any(p is not None for p in pairs)
    return texts, (pairs if has_pairs else None), out


def _rows(task, split, indices):
    texts, pairs = task.texts(split)
    return [(texts[i], pairs[i] if pairs is not None else None) for i in indices]


def write_component(generator_dir, output_dir, model, info):
    """Save ``model`` as the pipeline's ``head_generator`` (atomically) and register it in model_index.json.

    Only the new component is written: re-saving the whole pipeline would rewrite the (fp16-stored) denoiser as the
    float32 copy that ``from_pretrained`` upcasts to."""
    if output_dir and os.path.abspath(output_dir) != os.path.abspath(generator_dir):
        if os.path.exists(output_dir):
            raise ValueError(f"--output_dir '{output_dir}' exists; pick a new directory.")
        shutil.copytree(generator_dir, output_dir, ignore=shutil.ignore_patterns("head_generator"))
        generator_dir = output_dir
    with atomic_directory(os.path.join(generator_dir, "head_generator"), prefix=".tmp-head-", replace=True) as tmp:
        model.save_pretrained(tmp)
    index_path = os.path.join(generator_dir, "model_index.json")
    with open(index_path) as f:
        index = json.load(f)
    index["head_generator"] = ["text2lora.models.head_hypernetwork", "HeadHypernetwork"]
    for name, obj in (("model_index.json", index), ("head_training_info.json", info)):
        text = json.dumps(obj, indent=2, sort_keys=name == "model_index.json") + "\n"
        write_text_atomic(os.path.join(generator_dir, name), text)
    return generator_dir


def training_tasks(args, zoo):
    """({name: Task}, zoo task names): the generator's training tasks (its ``training_info.json``, else the zoo's seen
    tasks), plus the suite's auxiliary tasks with ``args.auxiliary_tasks``."""
    from ..data.tasks import list_tasks, load_task

    info_path = os.path.join(args.generator, "training_info.json")
    if os.path.exists(info_path):
        with open(info_path) as f:
            names = json.load(f)["train_tasks"]
    else:
        names = zoo.task_names(split="seen")
    zoo_names = set(names)
    if args.auxiliary_tasks:
        names = names + [n for n in list_tasks(split="auxiliary") if n not in zoo_names]
    tasks = {}
    for name in names:
        try:
            tasks[name] = load_task(name)
        except ValueError as err:
            raise ValueError(f"Training task '{name}' has no rows in the suite ({err}).") from None
    logger.info("%d training tasks (%d auxiliary)", len(tasks), len(tasks) - len(zoo_names))
    return tasks, zoo_names


def compute_features(args, spec, embedder_name, embedder, texts, pairs):
    """(classifier features of every row, sentence embeddings of a subset, that subset, feature-LoRA state, its
    losses): the frozen base's features (with the shared feature LoRA when ``args.feature_lora_steps``), reused from
    ``args.feature_cache`` when its rows and settings match."""
    from ..embedding import embed, pair_text
    from .head_training import classifier_features, train_feature_lora

    rng = np.random.default_rng(args.seed)
    subset = np.sort(rng.permutation(len(texts))[: args.projection_rows])
    subset_texts, subset_pairs = [texts[i] for i in subset], None if pairs is None else [pairs[i] for i in subset]
    lora_settings = [args.feature_lora_steps, args.feature_lora_batch_size, args.feature_lora_learning_rate, args.seed]
    fingerprint = hashlib.sha256(json.dumps([spec.to_dict(), embedder_name, texts, pairs, subset.tolist(),
                                             lora_settings if args.feature_lora_steps else 0]).encode()).hexdigest()
    cached = torch.load(args.feature_cache) if args.feature_cache and os.path.exists(args.feature_cache) else None
    if cached is not None and cached.get("fingerprint") == fingerprint:
        logger.info("features from %s", args.feature_cache)
        return cached["features"], cached["sentence"].numpy(), subset, cached["lora_state"], cached["lora_losses"]
    sentence = embed(pair_text(subset_texts, subset_pairs), embedder)
    lora_state, lora_losses = None, []
    if args.feature_lora_steps:
        lora_state, lora_losses = train_feature_lora(
            spec, subset_texts, subset_pairs, sentence, max_train_steps=args.feature_lora_steps,
            batch_size=args.feature_lora_batch_size, learning_rate=args.feature_lora_learning_rate, seed=args.seed,
            device=args.device)
    features = classifier_features(spec, texts, pairs, device=args.device, lora_state=lora_state)
    if args.feature_cache:
        tmp = f"{args.feature_cache}.tmp"
        torch.save({"fingerprint": fingerprint, "features": features, "sentence": torch.from_numpy(sentence),
                    "lora_state": lora_state, "lora_losses": lora_losses}, tmp)
        os.replace(tmp, args.feature_cache)
    return features, sentence, subset, lora_state, lora_losses


def validation_tasks(zoo, training_names):
    """{name: Task} of the zoo's tasks that no component trains on (split "unseen": new labels of seen datasets;
    "unseen_dataset": tasks of held-out datasets), for the validation check on their val rows."""
    from ..data.tasks import load_task

    names = [n for split in ("unseen", "unseen_dataset") for n in zoo.task_names(split=split)]
    return {n: load_task(n) for n in names if n not in training_names}


def validate_head(model, features, task_rows, descriptions, embedder):
    """Mean and median balanced accuracy (threshold: logit 0) of ``model`` on each task's rows (``task_rows``: task ->
    (feature row indices, labels)), averaged over the task's ``descriptions``; ``None`` for no tasks."""
    from ..embedding import embed
    from ..evaluation.metrics import balanced_accuracy

    if not task_rows:
        return None
    accuracies = []
    with torch.no_grad():
        for n, (ids, labels) in task_rows.items():
            logits = model.logits(torch.from_numpy(embed(descriptions[n], embedder)), features[ids])
            accuracies.append(float(np.mean([balanced_accuracy(labels, (row > 0).numpy()) for row in logits])))
    return {"tasks": len(accuracies), "mean_balanced_accuracy": float(np.mean(accuracies)),
            "median_balanced_accuracy": float(np.median(accuracies))}


def validate_unseen(model, features, task_rows, tasks, descriptions, embedder):
    """:func:`validate_head` on the tasks no component trains on: all of them ("unseen"), and each split alone
    ("unseen_labels": new labels of seen datasets; "unseen_datasets": held-out datasets)."""
    out = {"unseen": validate_head(model, features, task_rows, descriptions, embedder)}
    for key, split in (("unseen_labels", "unseen"), ("unseen_datasets", "unseen_dataset")):
        rows = {n: r for n, r in task_rows.items() if tasks[n].split == split}
        out[key] = validate_head(model, features, rows, descriptions, embedder)
    return out


def build_head(layout, spec, features, sentence, lora_state, projection):
    """A new ``HeadHypernetwork`` writing the classifier head of ``layout`` (and the feature LoRA, if any), with the
    fitted feature ``projection``."""
    from ..models import HeadHypernetwork

    head_name = spec.modules_to_save[0]
    weight_key = next(k for k in layout.keys if k.endswith(f"{head_name}.weight"))
    bias_key = next(k for k in layout.keys if k.endswith(f"{head_name}.bias"))
    foreign = sorted(set(lora_state or {}) - set(layout.keys))
    if foreign:
        raise ValueError(f"The feature LoRA has keys the generator's layout does not hold: {foreign[:3]}.")
    lora_keys = [k for k in layout.keys if k in (lora_state or {})]
    model = HeadHypernetwork(embedding_dim=sentence.shape[1], feature_dim=features.shape[1],
                             head_weight_key=weight_key, head_bias_key=bias_key,
                             feature_lora_keys=lora_keys or None,
                             feature_lora_shapes=[list(lora_state[k].shape) for k in lora_keys] or None)
    if lora_keys:
        model.set_feature_lora(lora_state)
    model.projection.copy_(projection)
    return model


def train_head_generator(args: HeadTrainingArguments) -> dict:
    """Train a head generator for the generator ``args.generator`` and save it as its ``head_generator`` component;
    returns the training info (also written to ``head_training_info.json``)."""
    from ..data.zoo import Zoo
    from ..embedding import embed, load_embedder
    from ..pipelines import load_generator
    from .head_training import (
        balanced_rows,
        classifier_features,
        fit_projection,
        initial_lora_state,
        train_head_hypernetwork,
        train_multitask_lora,
    )

    if args.output_dir:
        check_output_location(args.output_dir)
        check_writable_parent(args.output_dir)
    start = time.perf_counter()
    pipe = load_generator(args.generator)
    if pipe.denoiser.config.condition_type != "text":
        raise ValueError("The head generator needs a text-conditioned generator.")
    zoo = Zoo.load(args.zoo)
    tasks, zoo_names = training_tasks(args, zoo)

    # 1. Rows: balanced training rows and capped val rows per task, deduplicated over tasks.
    train_idx = {n: balanced_rows(t.labels("train"), args.rows_per_class, args.seed) for n, t in tasks.items()}
    val_idx = {n: balanced_rows(t.labels("val"), args.val_per_class, args.seed) for n, t in tasks.items()}
    order = sorted(tasks)
    texts, pairs, ids = _unique_rows([_rows(tasks[n], "train", train_idx[n]) for n in order]
                                     + [_rows(tasks[n], "val", val_idx[n]) for n in order])
    train_ids, val_ids = dict(zip(order, ids[: len(order)])), dict(zip(order, ids[len(order):]))

    # 2. Classifier features and their projection into the embedder's sentence space.
    embedder = load_embedder(pipe.config.embedder, args.device)
    features, sentence, subset, lora_state, lora_losses = compute_features(
        args, pipe.adapter_spec, pipe.config.embedder, embedder, texts, pairs)
    projection, r2 = fit_projection(features[subset], sentence)
    logger.info("feature projection R^2 %.3f on %d rows", r2, len(subset))

    # 3. The head, trained on the conditions: the zoo's training descriptions of each task (the suite's for
    #    auxiliary tasks).
    conditions = {n: embed(zoo.task_row(n)["descriptions"] if n in zoo_names else tasks[n].descriptions,
                           embedder) for n in order}
    if args.multitask_steps and lora_state is None:
        lora_state = initial_lora_state(pipe.adapter_spec)  # B = 0: the features above are unchanged
    model = build_head(pipe.layout, pipe.adapter_spec, features, sentence, lora_state, projection)
    task_rows = {n: (train_ids[n], np.asarray(tasks[n].labels("train"))[train_idx[n]]) for n in order}
    losses = train_head_hypernetwork(
        model, model.project(features), task_rows, conditions, max_train_steps=args.max_train_steps,
        batch_tasks=args.batch_tasks, rows_per_task=args.rows_per_task, learning_rate=args.learning_rate,
        weight_decay=args.weight_decay, condition_noise=args.condition_noise, seed=args.seed)

    # 4. Validation rows: the zoo tasks' val rows (held-out descriptions) and the suite's unseen tasks' val rows.
    unseen = validation_tasks(zoo, set(order))
    unseen_idx = {n: balanced_rows(t.labels("val"), args.val_per_class, args.seed) for n, t in unseen.items()}
    unseen_texts, unseen_pairs, unseen_ids = _unique_rows([_rows(unseen[n], "val", unseen_idx[n])
                                                           for n in sorted(unseen)])
    unseen_ids = dict(zip(sorted(unseen), unseen_ids))
    unseen_features = (classifier_features(pipe.adapter_spec, unseen_texts, unseen_pairs, device=args.device,
                                           lora_state=lora_state, progress=False) if unseen else None)
    seen_val = {n: (val_ids[n], np.asarray(tasks[n].labels("val"))[val_idx[n]]) for n in sorted(zoo_names)}
    unseen_val = {n: (unseen_ids[n], np.asarray(unseen[n].labels("val"))[unseen_idx[n]]) for n in sorted(unseen)}
    descriptions = {n: tasks[n].heldout_descriptions or tasks[n].descriptions[:1] for n in zoo_names}
    descriptions.update({n: unseen[n].heldout_descriptions or unseen[n].descriptions[:1] for n in unseen})
    validation = {"split": "val", "descriptions": "held-out",
                  "seen": validate_head(model, features, seen_val, descriptions, embedder),
                  **validate_unseen(model, unseen_features, unseen_val, unseen, descriptions, embedder)}

    # 5. Optionally, the multi-task stage: the shared LoRA and the head trained together through the base.
    multitask = None
    if args.multitask_steps:
        validation_before = validation
        lora_state, multitask_losses = train_multitask_lora(
            model, pipe.adapter_spec, texts, pairs, task_rows, conditions, lora_state=lora_state,
            max_train_steps=args.multitask_steps, batch_tasks=args.multitask_batch_tasks,
            rows_per_task=args.multitask_rows_per_task, learning_rate=args.multitask_learning_rate,
            head_learning_rate=args.multitask_head_learning_rate, condition_noise=args.condition_noise,
            seed=args.seed, device=args.device)
        model.to("cpu").set_feature_lora(lora_state)
        seen_rows = sorted({int(i) for ids_ in val_ids.values() for i in ids_})
        seen_features = torch.zeros_like(features)
        seen_features[seen_rows] = classifier_features(
            pipe.adapter_spec, [texts[i] for i in seen_rows], None if pairs is None else [pairs[i] for i in seen_rows],
            device=args.device, lora_state=lora_state, progress=False)
        if unseen:
            unseen_features = classifier_features(pipe.adapter_spec, unseen_texts, unseen_pairs, device=args.device,
                                                  lora_state=lora_state, progress=False)
        validation = {"split": "val", "descriptions": "held-out",
                      "seen": validate_head(model, seen_features, seen_val, descriptions, embedder),
                      **validate_unseen(model, unseen_features, unseen_val, unseen, descriptions, embedder),
                      "before_multitask": validation_before}
        multitask = {"steps": args.multitask_steps, "first_loss": float(np.mean(multitask_losses[:20])),
                     "final_loss": float(np.mean(multitask_losses[-20:]))}
    settings = {k: v for k, v in dataclasses.asdict(args).items() if k not in ("device", "feature_cache")}
    info = {"zoo": args.zoo, "train_tasks": order, "auxiliary_tasks": sorted(set(order) - zoo_names),
            "settings": settings, "num_feature_rows": len(texts), "projection_r2": r2,
            "feature_lora": ({"steps": args.feature_lora_steps, "first_loss": float(np.mean(lora_losses[:20])),
                              "final_loss": float(np.mean(lora_losses[-20:]))} if lora_losses else None),
            "final_loss": float(np.mean(losses[-100:])) if losses else None,
            "multitask": multitask, "validation": validation,
            "seconds": time.perf_counter() - start}
    write_component(args.generator, args.output_dir, model.to(torch.float16) if args.save_fp16 else model, info)
    return info
