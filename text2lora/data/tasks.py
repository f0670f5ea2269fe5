"""The task suite: binary text-classification tasks paired with natural-language descriptions.

Label 1 means "the text matches the description"; label 0 means it does not. The default suite ships inside the
package (``text2lora/data/suite``); user tasks load from an HF dataset id or from a local CSV/JSONL file.
"""

import csv
import gzip
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SUITE_DIR = Path(__file__).parent / "suite"
SPLITS = ("train", "val", "test")
# Task splits of the shipped suite (see scripts/build_task_suite.py): the suite proper (seen/unseen), whole held-out
# datasets (leave-dataset-out), and extra training tasks without zoo adapters.
TASK_SPLITS = ("seen", "unseen", "unseen_dataset", "auxiliary")


@dataclass
class Task:
    """One binary task: rows per split, descriptions, and metadata."""

    name: str
    descriptions: list
    heldout_descriptions: list = field(default_factory=list)
    family: str = "custom"
    split: str = "unseen"
    dataset: str = "custom"
    label: str = ""
    pair: bool = False
    license: str = ""
    data: dict = field(default_factory=dict)  # split -> {"text": [...], "text_pair": [...] | None, "label": [...]}

    def __post_init__(self):
        validate_task(self)

    def texts(self, split):
        rows = self.data[split]
        return rows["text"], rows.get("text_pair")

    def labels(self, split):
        return self.data[split]["label"]


def validate_task(task):
    """Raise one clear ``ValueError`` for a task that cannot be trained or evaluated."""
    if not task.name or not str(task.name).strip():
        raise ValueError("Task name must be a non-empty string.")
    descriptions = [d for d in task.descriptions if isinstance(d, str) and d.strip()]
    if not descriptions:
        raise ValueError(f"Task '{task.name}' has no descriptions; give at least one non-empty description.")
    for split, rows in task.data.items():
        if split not in SPLITS:
            raise ValueError(f"Task '{task.name}': unknown split '{split}', expected one of {SPLITS}.")
        labels = rows["label"]
        if len(labels) != len(rows["text"]):
            raise ValueError(f"Task '{task.name}' split '{split}': {len(rows['text'])} texts but {len(labels)} labels.")
        bad = sorted({y for y in labels if y not in (0, 1)}, key=str)
        if bad:
            raise ValueError(
                f"Task '{task.name}' split '{split}': labels must be 0 or 1, found {bad[:5]} (label out of range)."
            )
        if split == "train" and len(set(labels)) < 2:
            raise ValueError(
                f"Task '{task.name}' has only one class in its train split ({sorted(set(labels))}); "
                "a binary task needs both 0 and 1."
            )


@lru_cache(maxsize=1)
def _registry():
    meta = json.loads((SUITE_DIR / "tasks.json").read_text())
    descriptions = {}
    for path in sorted((SUITE_DIR / "descriptions").glob("*.json")):
        descriptions.update(json.loads(path.read_text()))
    return meta, descriptions


def suite_info():
    """Build settings of the shipped suite (seed, caps, unseen family)."""
    meta, _ = _registry()
    return {k: v for k, v in meta.items() if k != "tasks"}


def list_tasks(split=None, family=None, with_descriptions=True):
    """Names of the shipped tasks, optionally filtered by ``split`` and ``family``.

    ``split``: 'seen' or 'unseen' (the suite; None gives both); 'unseen_dataset': the tasks of whole held-out datasets
    (leave-dataset-out; train/val/test rows, never trained on by any component, evaluated only); or 'auxiliary': extra
    labelled tasks with train and val rows only, no zoo adapter, never evaluated (CLINC150/BANKING77 intents, the other
    second-round datasets, and the pooled concept tasks), which ``train_head.py --auxiliary_tasks`` adds to the head
    generator's training tasks. ``with_descriptions`` (default) lists only tasks that have descriptions; a task without
    them is in the suite but cannot be loaded yet.
    """
    meta, descriptions = _registry()
    if split not in (None, *TASK_SPLITS):
        raise ValueError(f"split must be one of {TASK_SPLITS} or None, got {split!r}.")
    wanted = {"seen", "unseen"} if split is None else {split}
    names = []
    for name, info in meta["tasks"].items():
        if info["split"] not in wanted:
            continue
        if family is not None and info["family"] != family:
            continue
        if with_descriptions and name not in descriptions:
            continue
        names.append(name)
    return names


def list_families():
    meta, _ = _registry()
    return sorted({info["family"] for info in meta["tasks"].values()})


def task_info(name):
    """Registry entry of a shipped task, with its descriptions ("described": False when it has none yet)."""
    meta, descriptions = _registry()
    if name not in meta["tasks"]:
        count = sum(1 for info in meta["tasks"].values() if info["split"] in ("seen", "unseen"))
        raise ValueError(f"Unknown task '{name}'. `text2lora.list_tasks()` lists the {count} shipped tasks.")
    info = dict(meta["tasks"][name])
    desc = descriptions.get(name, {})
    info["described"] = name in descriptions
    # Training descriptions: the hand-written "train" list plus the "augmented" paraphrases (written later, from the
    # train list and the task metadata only, never from the held-out list).
    info["descriptions"] = list(desc.get("train", [])) + list(desc.get("augmented", []))
    info["heldout_descriptions"] = list(desc.get("heldout", []))
    return info


@lru_cache(maxsize=8)
def _dataset_rows(dataset):
    rows = {}
    with gzip.open(SUITE_DIR / "rows" / f"{dataset}.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            split = rows.setdefault(r["task"], {}).setdefault(r["split"], {"text": [], "text_pair": [], "label": []})
            split["text"].append(r["text"])
            split["text_pair"].append(r["text_pair"])
            split["label"].append(r["label"])
    return rows


def load_task(name):
    """Load a shipped task with its rows and descriptions."""
    info = task_info(name)
    if not info["described"]:
        raise ValueError(f"Task '{name}' is in the suite but has no descriptions yet: add them to "
                         f"text2lora/data/suite/descriptions/*.json (`list_tasks(with_descriptions=False)` lists such "
                         f"tasks).")
    rows = _dataset_rows(info.get("rows_file", info["dataset"]))[name]
    data = {}
    for split, cols in rows.items():
        data[split] = {"text": list(cols["text"]), "label": list(cols["label"]),
                       "text_pair": list(cols["text_pair"]) if info["pair"] else None}
    return Task(
        name=name, descriptions=info["descriptions"], heldout_descriptions=info["heldout_descriptions"],
        family=info["family"], split=info["split"], dataset=info["dataset"], label=info["label"], pair=info["pair"],
        license=info["license"], data=data,
    )


def _split_off(data, fraction, seed):
    import random

    idx = list(range(len(data["train"]["label"])))
    random.Random(seed).shuffle(idx)
    k = max(1, int(len(idx) * fraction))
    take = {"val": idx[:k], "train": idx[k:]}
    out = {}
    for split, ids in take.items():
        out[split] = {c: (None if v is None else [v[i] for i in ids]) for c, v in data["train"].items()}
    return out


def load_custom_task(name, descriptions, *, data_files=None, dataset_id=None, config=None, text_column="text",
                     label_column="label", text_pair_column=None, positive_label=1, val_fraction=0.2, seed=0,
                     family="custom"):
    """Load a user task from local files or an HF dataset.

    ``data_files`` is a path (CSV/JSONL) or a dict ``{"train": path, "val": path, "test": path}``. ``dataset_id``
    (with ``config``) goes through ``datasets.load_dataset``; its splits named train/validation/test are used.
    Labels must be 0/1 (1: the text matches the description), or ``positive_label`` names the label that matches
    (for example ``"pos"``): rows with that label become 1, all others 0. Anything else is a ``ValueError`` naming
    the file and line.
    Without a val split, ``val_fraction`` of train is held out.
    """
    if isinstance(descriptions, str):
        descriptions = [descriptions]
    if (data_files is None) == (dataset_id is None):
        raise ValueError("Give exactly one of data_files (local CSV/JSONL) or dataset_id (Hugging Face dataset).")
    raw = {}  # split -> (where the rows come from, rows, the line or row number of each)
    if dataset_id is not None:
        from datasets import load_dataset

        from ..hub.resolve import detect_offline

        detect_offline()
        ds = load_dataset(dataset_id, config)
        names = {"train": "train", "validation": "val", "val": "val", "dev": "val", "test": "test"}
        for hf_split, ours in names.items():
            if hf_split in ds:
                rows = [dict(r) for r in ds[hf_split]]
                raw[ours] = (f"{dataset_id} [{hf_split}]", rows, list(range(len(rows))))
    else:
        files = data_files if isinstance(data_files, dict) else {"train": data_files}
        for split, path in files.items():
            raw[split] = (str(path), *_read_rows(Path(path)))
    data = {}
    for split, (source, rows, numbers) in raw.items():
        for col in (text_column, label_column):
            if rows and col not in rows[0]:
                raise ValueError(f"{source}: column '{col}' not found; columns are {sorted(rows[0])}.")
        labels = [_binary_label(r.get(label_column), positive_label, f"{source}, {_where(source, n)}")
                  for r, n in zip(rows, numbers)]
        data[split] = {"text": [str(r[text_column]) for r in rows], "label": labels,
                       "text_pair": [str(r[text_pair_column]) for r in rows] if text_pair_column else None}
    if positive_label != 1 and not any(any(d["label"]) for d in data.values()):
        seen = sorted({str(r.get(label_column)) for _, rows, _ in raw.values() for r in rows})[:10]
        raise ValueError(f"positive_label {positive_label!r} does not occur in the data; its labels are {seen}.")
    if "train" not in data:
        raise ValueError("The task needs a train split.")
    if "val" not in data:
        data.update(_split_off(data, val_fraction, seed))
    if "test" not in data:
        data["test"] = data["val"]
    return Task(name=name, descriptions=list(descriptions), family=family, pair=text_pair_column is not None,
                data=data)


def _where(source, number):
    return f"line {number}" if source.endswith((".jsonl", ".json")) else f"row {number}"


def _binary_label(y, positive_label, where):
    """1 when the row matches the description, else 0: 0/1 labels as they are, or ``y == positive_label``."""
    if isinstance(y, str) and y.strip().lstrip("-").isdigit():
        y = int(y)
    if positive_label == 1:
        if isinstance(y, (bool, int, float)) and y in (0, 1):
            return int(y)
        raise ValueError(f"{where}: label {y!r} is not 0 or 1. Labels must be 0/1, or name the label that means "
                         f"'matches the description' with positive_label (evaluate_generator.py --positive-label {y}).")
    if y is None:
        raise ValueError(f"{where}: the row has no label.")
    return int(str(y) == str(positive_label))


def _read_rows(path):
    """The rows of a .jsonl/.json (one object per line) or .csv/.tsv file, and the line number of each."""
    if not path.exists():
        raise ValueError(f"Data file not found: {path}")
    if path.suffix in (".jsonl", ".json"):
        rows, numbers = [], []
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}, line {number}: not valid JSON ({err.msg}).") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}, line {number}: expected a JSON object such as "
                                     '{"text": "...", "label": 1}.')
                rows.append(row)
                numbers.append(number)
        return rows, numbers
    if path.suffix in (".csv", ".tsv"):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ","))
        return rows, list(range(2, len(rows) + 2))  # line 1 is the header
    raise ValueError(f"Unsupported data file '{path}': use .csv, .tsv or .jsonl.")
