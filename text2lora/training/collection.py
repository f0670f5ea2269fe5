"""Zoo collection: train one LoRA adapter per task with PEFT, from one shared initialization.

A zoo directory holds:
    zoo_config.json           adapter spec (base, LoRA settings, init seed) and training settings
    layout.json               ordered keys and shapes shared by every adapter
    adapters/<task>/checkpoint-<step>/   standard PEFT adapter directories
    entries/<task>.json       one finished task (written last, atomically: its presence marks the task done)
    index.jsonl               one row per checkpoint, loadable with ``datasets.load_dataset("json", ...)``

Collection is resumable (finished tasks are skipped) and shards tasks over ``accelerate launch`` processes.
"""

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field

import torch

from ..adapters import (
    AdapterScorer,
    AdapterSpec,
    adapter_state_dict,
    batches,
    build_peft_model,
    load_adapter_weights,
    save_adapter,
    tokenize,
)
from ..data.layout import LayoutMismatchError, LoraLayout
from ..data.zoo import discard_unfinished_task
from ..fileio import remove_temp_debris, write_json_atomic

logger = logging.getLogger(__name__)


@dataclass
class TrainingSettings:
    """How each task's adapter is trained."""

    learning_rate: float = field(default=2e-3, metadata={"help": "Learning rate of the LoRA weights."})
    head_learning_rate: float = field(default=1e-2, metadata={"help": "Learning rate of the classifier head."})
    epochs: float = field(default=2.0, metadata={"help": "Epochs over each task's training rows."})
    batch_size: int = field(default=16, metadata={"help": "Training rows per step."})
    max_train_examples: int = field(default=256, metadata={"help": "Training rows used per task (0: all)."})
    train_seed: int = field(default=0, metadata={"help": "Seed of the data order."})
    num_checkpoints: int = field(default=1, metadata={"help": "Checkpoints kept per task (the last K)."})
    checkpoint_interval: int = field(default=1, metadata={"help": "Steps between kept checkpoints."})
    extra_steps: int = field(default=0, metadata={
        "help": "Steps trained after the epochs (e.g. to collect many p-diff style checkpoints)."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _task_seed(name, seed):
    return (int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) + seed) % (2**31)


def checkpoint_steps(total_steps, settings):
    """The training steps at which checkpoints are kept: the last ``num_checkpoints``, ``checkpoint_interval``
    apart, ending at ``total_steps``."""
    k, interval = settings.num_checkpoints, settings.checkpoint_interval
    if k < 1 or interval < 1:
        raise ValueError("num_checkpoints and checkpoint_interval must be >= 1.")
    steps = [total_steps - i * interval for i in range(k)][::-1]
    if steps[0] < 1:
        raise ValueError(f"{k} checkpoints every {interval} steps need at least {steps[-1] - steps[0] + 1} "
                         f"training steps, but the task trains for {total_steps}; add extra_steps.")
    return steps


def recipe_steps(num_examples, settings):
    """Optimizer steps of the training recipe for ``num_examples`` training rows."""
    return int(round(settings.epochs * -(-num_examples // settings.batch_size))) + settings.extra_steps


def train_task(peft_model, tokenizer, task, spec, settings, init_state, device="cpu", on_step=None):
    """Train one adapter from ``init_state``; return {step: state_dict} for the kept checkpoints and the seconds.

    ``on_step(step, total_steps)``, when given, runs after every optimizer step; returning True stops training."""
    load_adapter_weights(peft_model, init_state)
    peft_model.to(device)
    texts, pairs = task.texts("train")
    labels = task.labels("train")
    n = min(len(labels), settings.max_train_examples) if settings.max_train_examples else len(labels)
    texts, labels = texts[:n], labels[:n]
    pairs = pairs[:n] if pairs is not None else None
    encodings = tokenize(tokenizer, texts, pairs, spec.max_length)
    label_tensor = torch.tensor(labels)
    total_steps = recipe_steps(n, settings)
    keep = set(checkpoint_steps(total_steps, settings))

    head, lora = [], []
    for name, param in peft_model.named_parameters():
        if param.requires_grad:
            (head if "modules_to_save" in name else lora).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": lora, "lr": settings.learning_rate}, {"params": head, "lr": settings.head_learning_rate}],
        weight_decay=settings.weight_decay,
    )
    generator = torch.Generator().manual_seed(_task_seed(task.name, settings.train_seed))
    peft_model.train()
    checkpoints, step, start = {}, 0, time.perf_counter()
    while step < total_steps:
        order = torch.randperm(n, generator=generator).tolist()
        for idx, batch in batches(encodings, settings.batch_size, tokenizer, order):
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = peft_model(**batch, labels=label_tensor[idx].to(device)).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step in keep:
                checkpoints[step] = adapter_state_dict(peft_model)
            if on_step is not None and on_step(step, total_steps):
                return checkpoints, time.perf_counter() - start
            if step >= total_steps:
                break
    return checkpoints, time.perf_counter() - start


def zero_shot_task_accuracy(task, descriptions, embedder):
    """Zero-shot embedding baseline: mean balanced test accuracy over ``descriptions`` (threshold chosen on val)."""
    from ..evaluation.baselines import zero_shot_task_accuracy

    return zero_shot_task_accuracy(task, descriptions, embedder)


class ZooCollector:
    """Collect a zoo of PEFT adapters: resumable, atomic per task, sharded across processes."""

    def __init__(self, zoo_dir, spec=None, settings=None, embedder=None, peft_model=None, tokenizer=None,
                 device=None, process_index=0, num_processes=1):
        self.zoo_dir = os.fspath(zoo_dir)
        self.spec = spec or AdapterSpec()
        self.settings = settings or TrainingSettings()
        self.embedder = embedder
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.process_index, self.num_processes = process_index, num_processes
        os.makedirs(os.path.join(self.zoo_dir, "entries"), exist_ok=True)
        os.makedirs(os.path.join(self.zoo_dir, "adapters"), exist_ok=True)
        if process_index == 0:  # only the main process writes the zoo's top-level files
            remove_temp_debris(self.zoo_dir)
        self._check_or_write_config()
        self.peft_model, self.tokenizer = build_peft_model(self.spec, peft_model, tokenizer)
        self.init_state = adapter_state_dict(self.peft_model)
        self.layout = LoraLayout.from_state_dict(self.init_state)
        self._check_or_write_layout()
        self.scorer = AdapterScorer(self.spec, self.peft_model, self.tokenizer, self.device)

    def _check_or_write_config(self):
        path = os.path.join(self.zoo_dir, "zoo_config.json")
        config = {"spec": self.spec.to_dict(), "training": asdict(self.settings)}
        if os.path.exists(path):
            with open(path) as f:
                existing = json.load(f)
            if existing["spec"] != config["spec"]:
                raise ValueError(
                    f"{self.zoo_dir} was collected with a different adapter spec ({existing['spec']}); every adapter "
                    "of a zoo must share one base, LoRA layout and init seed. Use a new zoo directory."
                )
        elif self.process_index == 0:
            write_json_atomic(path, config)

    def _check_or_write_layout(self):
        path = os.path.join(self.zoo_dir, "layout.json")
        if os.path.exists(path):
            existing = LoraLayout.load(path)
            if existing != self.layout:
                raise LayoutMismatchError(f"The adapters of {self.zoo_dir} have a different layout: {existing}.")
        elif self.process_index == 0:
            self.layout.save(path)

    def entry_path(self, name):
        return os.path.join(self.zoo_dir, "entries", f"{name}.json")

    def is_done(self, name):
        return os.path.exists(self.entry_path(name))

    def discard_unfinished(self, name):
        """Remove what a killed run left of unfinished task ``name`` (see :func:`discard_unfinished_task`)."""
        return discard_unfinished_task(self.zoo_dir, name)

    def collect_task(self, task):
        """Train, evaluate and save one task; returns its index rows."""
        removed = self.discard_unfinished(task.name)
        if removed:
            logger.info("%s: removed what an interrupted run left (%s)", task.name, ", ".join(removed))
        checkpoints, seconds = train_task(self.peft_model, self.tokenizer, task, self.spec, self.settings,
                                          self.init_state, self.device)
        rows = []
        zero_shot = (zero_shot_task_accuracy(task, task.descriptions, self.embedder)
                     if self.embedder is not None else None)
        for step, state in sorted(checkpoints.items()):
            rel = os.path.join("adapters", task.name, f"checkpoint-{step}")
            val_acc = self.scorer.score(state, task, "val")
            test_acc = self.scorer.score(None, task, "test")  # same weights, already loaded
            save_adapter(self.peft_model, os.path.join(self.zoo_dir, rel), base_model=self.spec.base_model)
            rows.append(dict(
                task=task.name, family=task.family, split=task.split, dataset=task.dataset,
                descriptions=list(task.descriptions), heldout_descriptions=list(task.heldout_descriptions),
                checkpoint_step=step, checkpoint_path=rel, seed=self.spec.init_seed,
                train_seed=self.settings.train_seed, val_accuracy=val_acc, test_accuracy=test_acc,
                zero_shot_test_accuracy=zero_shot, train_seconds=seconds,
                num_train_examples=min(len(task.labels("train")), self.settings.max_train_examples or 10**9),
            ))
        write_json_atomic(self.entry_path(task.name), rows)
        return rows

    def collect(self, tasks, progress=True):
        """Collect this process's shard of ``tasks`` (Task objects or names), skipping finished ones."""
        from tqdm.auto import tqdm

        from ..data.tasks import Task, load_task

        names = [t.name if isinstance(t, Task) else t for t in tasks]
        if len(set(names)) != len(names):
            raise ValueError("Task names in a collection must be unique.")
        mine = [t for i, t in enumerate(tasks) if i % self.num_processes == self.process_index]
        todo = [t for t in mine if not self.is_done(t.name if isinstance(t, Task) else t)]
        logger.info("process %d: %d tasks, %d already done", self.process_index, len(mine), len(mine) - len(todo))
        bar = tqdm(todo, desc=f"collect[{self.process_index}]", disable=not progress)
        for item in bar:
            task = item if isinstance(item, Task) else load_task(item)
            start = time.perf_counter()
            rows = self.collect_task(task)
            last = rows[-1]
            zs = last["zero_shot_test_accuracy"]
            message = (f"{task.name}: test {last['test_accuracy']:.3f} val {last['val_accuracy']:.3f}"
                       + (f" zero-shot {zs:.3f}" if zs is not None else "")
                       + f" ({time.perf_counter() - start:.1f}s)")
            bar.write(message) if progress else logger.info(message)
        return len(todo)
