"""Loading, packing and extending adapter zoos.

Two on-disk forms share ``index.jsonl``, ``layout.json`` and ``zoo_config.json``:
- a collection directory, with one standard PEFT adapter directory per checkpoint (``checkpoint_path``);
- a packed zoo, with every adapter in one fp16 ``weights.safetensors`` tensor (row ``i`` = index row ``i``).
Either loads with :meth:`Zoo.load`, from a local directory or a Hub dataset id.
"""

import json
import os
import shutil

import torch
from safetensors.torch import load_file, save_file

from ..adapters import AdapterSpec
from ..fileio import (
    ADAPTER_FILES,
    TEMP_PREFIX,
    atomic_directory,
    prepare_target,
    remove_temp_debris,
    write_json_atomic,
    write_text_atomic,
)
from .layout import LayoutMismatchError, LoraLayout

# The default zoo, a folder of the repository (relative to the working directory, like the commands' other paths).
DEFAULT_ZOO = "zoos/minilm-default"


class Zoo:
    """Adapters (flat float32 vectors in one layout) with their index rows."""

    def __init__(self, rows, vectors, layout, spec, config=None, path=None):
        if len(rows) != len(vectors):
            raise ValueError(f"Zoo has {len(rows)} index rows but {len(vectors)} adapters.")
        self.rows = list(rows)
        self.vectors = vectors
        self.layout = layout
        self.spec = spec
        self.config = config or {}
        self.path = path

    def __len__(self):
        return len(self.rows)

    def __repr__(self):
        return f"Zoo({len(self.task_names())} tasks, {len(self)} adapters, {self.layout})"

    @classmethod
    def load(cls, path_or_id, revision=None):
        """Load a packed or collection zoo from a directory, or a packed zoo from a Hub dataset id."""
        path = os.fspath(path_or_id)
        if not os.path.isdir(path):
            from huggingface_hub import snapshot_download

            from ..hub import check_hub_source

            check_hub_source(path, "Zoo")
            try:
                path = snapshot_download(path, repo_type="dataset", revision=revision)
            except Exception as err:  # offline, missing repo, bad id
                raise ValueError(f"Zoo '{path_or_id}' is not a local directory and could not be fetched from the "
                                 f"Hub ({type(err).__name__}).") from None
        for name in ("layout.json", "zoo_config.json"):
            if not os.path.exists(os.path.join(path, name)):
                raise ValueError(f"'{path}' is not a text2lora zoo: {name} is missing.")
        with open(os.path.join(path, "zoo_config.json")) as f:
            config = json.load(f)
        layout = LoraLayout.load(os.path.join(path, "layout.json"))
        index = os.path.join(path, "index.jsonl")
        if os.path.exists(index):
            with open(index, encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.strip()]
        elif os.path.isdir(os.path.join(path, "entries")):  # a collection still running: its finished tasks
            rows = read_entries(path)
        else:
            raise ValueError(f"'{path}' is not a text2lora zoo: index.jsonl is missing.")
        packed = os.path.join(path, "weights.safetensors")
        if os.path.exists(packed):
            vectors = load_file(packed)["adapters"].float()
            if vectors.shape[1] != layout.num_params:
                raise LayoutMismatchError(f"{packed} holds {vectors.shape[1]} parameters per adapter; the layout "
                                          f"has {layout.num_params}.")
        else:
            vectors = torch.stack([layout.flatten(read_adapter_weights(os.path.join(path, r["checkpoint_path"]),
                                                                       layout)) for r in rows]) \
                if rows else torch.zeros(0, layout.num_params)
        return cls(rows, vectors, layout, AdapterSpec.from_dict(config["spec"]), config, path)

    def task_names(self, split=None, family=None):
        seen, names = set(), []
        for r in self.rows:
            if (split is None or r["split"] == split) and (family is None or r["family"] == family):
                if r["task"] not in seen:
                    seen.add(r["task"])
                    names.append(r["task"])
        return names

    def indices(self, task):
        idx = [i for i, r in enumerate(self.rows) if r["task"] == task]
        if not idx:
            raise ValueError(f"Task '{task}' is not in this zoo.")
        return idx

    def task_row(self, task):
        """The index row of the task's last checkpoint."""
        return self.rows[self.indices(task)[-1]]

    def task_vector(self, task):
        """Flat weights of the task's last checkpoint."""
        return self.vectors[self.indices(task)[-1]]

    def subset(self, tasks):
        keep = set(tasks)
        idx = [i for i, r in enumerate(self.rows) if r["task"] in keep]
        return Zoo([self.rows[i] for i in idx], self.vectors[idx], self.layout, self.spec, self.config, self.path)


def read_adapter_weights(adapter, layout=None):
    """PEFT state dict of a local adapter directory or Hub id (checked against ``layout`` when given)."""
    from peft.utils import load_peft_weights

    try:
        state = load_peft_weights(os.fspath(adapter), device="cpu")
    except Exception as err:
        raise ValueError(f"Could not read adapter weights from '{adapter}': {err}") from None
    if layout is not None:
        layout.check(state, source=f"adapter '{adapter}'")
        state = {k: state[k] for k in layout.keys}
    return state


PACKED_ZOO_FILES = frozenset({"weights.safetensors", "index.jsonl", "layout.json", "zoo_config.json", "report.md",
                              "report.json", "README.md"})


def is_packed_zoo(path):
    """True when ``path`` holds a packed zoo and nothing else (what :func:`pack_zoo` may replace)."""
    names = set(os.listdir(path))
    return "weights.safetensors" in names and names <= PACKED_ZOO_FILES


def pack_zoo(zoo_dir, out_dir, dtype=torch.float16):
    """Write the compact form of a collection: one ``weights.safetensors`` plus the index, layout and config."""
    replace = prepare_target(out_dir, overwrite=True, replaceable=is_packed_zoo, what="a packed text2lora zoo")
    zoo = Zoo.load(zoo_dir)
    with atomic_directory(out_dir, prefix=".tmp-pack-", replace=replace) as tmp:
        save_file({"adapters": zoo.vectors.to(dtype).contiguous()}, os.path.join(tmp, "weights.safetensors"),
                  metadata={"format": "pt", "dtype": str(dtype).replace("torch.", "")})
        for name in ("layout.json", "zoo_config.json"):
            shutil.copy(os.path.join(zoo_dir, name), os.path.join(tmp, name))
        write_jsonl(os.path.join(tmp, "index.jsonl"), zoo.rows)
        for extra in ("report.md", "report.json", "README.md"):
            if os.path.exists(os.path.join(zoo_dir, extra)):
                shutil.copy(os.path.join(zoo_dir, extra), os.path.join(tmp, extra))
    return out_dir


def extend_packed_zoo(packed_dir, zoo_dir, dtype=torch.float16):
    """Append the tasks of the collection ``zoo_dir`` to the packed zoo ``packed_dir`` (atomically), e.g. the adapters
    of newly held-out datasets, collected for evaluation only, without re-collecting the rest. Both zoos must share
    the LoRA spec, the training settings and the layout, and no task may be in both; the packed zoo's report is
    rewritten over the combined index (its training time summed over tasks; no wall time). Returns ``packed_dir``."""
    if not is_packed_zoo(packed_dir):
        raise ValueError(f"'{packed_dir}' is not a packed text2lora zoo.")
    old, new = Zoo.load(packed_dir), Zoo.load(zoo_dir)
    if old.config != new.config or old.layout != new.layout:
        raise ValueError(f"'{zoo_dir}' was collected with other settings or another layout than '{packed_dir}'; "
                         "only zoos of one recipe can be combined.")
    both = sorted(set(old.task_names()) & set(new.task_names()))
    if both:
        raise ValueError(f"Tasks already in '{packed_dir}': {both[:5]}; nothing was written.")
    with atomic_directory(packed_dir, prefix=".tmp-pack-", replace=True) as tmp:
        vectors = torch.cat([old.vectors, new.vectors]).to(dtype).contiguous()
        save_file({"adapters": vectors}, os.path.join(tmp, "weights.safetensors"),
                  metadata={"format": "pt", "dtype": str(dtype).replace("torch.", "")})
        for name in ("layout.json", "zoo_config.json"):
            shutil.copy(os.path.join(packed_dir, name), os.path.join(tmp, name))
        write_jsonl(os.path.join(tmp, "index.jsonl"), old.rows + new.rows)
        zoo_report(tmp)  # the two collections ran at different times: only the summed training time is stated
    return packed_dir


def refresh_descriptions(zoo_dir):
    """Rewrite the training and held-out descriptions of every shipped-suite task in a zoo's ``index.jsonl`` from
    the suite (atomically), e.g. after paraphrases were added; rows of other tasks are kept. Returns the number of
    rows changed."""
    from .tasks import list_tasks, task_info

    path = os.path.join(os.fspath(zoo_dir), "index.jsonl")
    if not os.path.exists(path):
        raise ValueError(f"'{zoo_dir}' is not a text2lora zoo: index.jsonl is missing.")
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    shipped, changed = set(list_tasks()), 0
    for row in rows:
        if row["task"] in shipped:
            info = task_info(row["task"])
            new = {"descriptions": info["descriptions"], "heldout_descriptions": info["heldout_descriptions"]}
            if any(row.get(k) != v for k, v in new.items()):
                row.update(new)
                changed += 1
    write_jsonl(path, rows)
    return changed


def import_adapter(zoo_dir, adapter, task, descriptions, family="imported", split="seen", heldout_descriptions=(),
                   test_accuracy=None):
    """Add an existing PEFT adapter (local directory or Hub id) to a collection zoo, with its descriptions.

    The adapter must match the zoo's layout (same base, LoRA settings and modules); it is copied into
    ``adapters/<task>/imported`` through PEFT's save path and indexed like a collected task.
    """
    from ..adapters import build_peft_model, save_adapter

    if isinstance(descriptions, str):
        descriptions = [descriptions]
    if not descriptions or not all(isinstance(d, str) and d.strip() for d in descriptions):
        raise ValueError(f"Imported task '{task}' needs at least one non-empty description.")
    entry = os.path.join(zoo_dir, "entries", f"{task}.json")
    if os.path.exists(entry):
        raise ValueError(f"Task '{task}' is already in the zoo at {zoo_dir}.")
    layout = LoraLayout.load(os.path.join(zoo_dir, "layout.json"))
    with open(os.path.join(zoo_dir, "zoo_config.json")) as f:
        spec = AdapterSpec.from_dict(json.load(f)["spec"])
    state = read_adapter_weights(adapter, layout)
    peft_model, _ = build_peft_model(spec)
    discard_unfinished_task(zoo_dir, task)  # what an interrupted import of this task left
    rel = os.path.join("adapters", task, "imported")
    save_adapter(peft_model, os.path.join(zoo_dir, rel), state_dict=state, base_model=spec.base_model)
    row = dict(task=task, family=family, split=split, dataset="imported", descriptions=list(descriptions),
               heldout_descriptions=list(heldout_descriptions), checkpoint_step=None, checkpoint_path=rel,
               seed=spec.init_seed, train_seed=None, val_accuracy=None, test_accuracy=test_accuracy,
               zero_shot_test_accuracy=None, train_seconds=None, num_train_examples=None, source=os.fspath(adapter))
    write_json_atomic(entry, [row])
    write_index(zoo_dir)
    return row


def zoo_report(zoo_dir, wall_seconds=None, machine=None):
    """Per-task and per-family fine-tuned test accuracy next to the zero-shot baseline, plus collection time.

    Writes ``report.json``, ``report.md`` and a ``README.md`` dataset card into ``zoo_dir``; returns the report.
    """
    import platform
    import statistics

    from ..formatting import fmt
    from ..hub.cards import render_zoo_card
    from .tasks import task_info

    with open(os.path.join(zoo_dir, "index.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(zoo_dir, "zoo_config.json")) as f:
        config = json.load(f)
    last = {}
    for r in rows:
        last[r["task"]] = r  # the last checkpoint of each task
    tasks = sorted(last.values(), key=lambda r: (r["family"], r["task"]))
    families = {}
    for r in tasks:
        families.setdefault(r["family"], []).append(r)

    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    sources = {}
    for r in tasks:
        try:
            info = task_info(r["task"])
            sources[info["source"]] = info["license"]
        except ValueError:
            sources.setdefault(r.get("dataset", "imported"), "see the adapter's source")
    report = {
        "num_tasks": len(tasks), "num_adapters": len(rows), "num_datasets": len(sources),
        "median_fine_tuned_test_accuracy": med([r["test_accuracy"] for r in tasks]),
        "median_zero_shot_test_accuracy": med([r["zero_shot_test_accuracy"] for r in tasks]),
        "mean_fine_tuned_test_accuracy": statistics.mean(r["test_accuracy"] for r in tasks) if tasks else None,
        "mean_zero_shot_test_accuracy": statistics.mean(r["zero_shot_test_accuracy"] for r in tasks
                                                        if r["zero_shot_test_accuracy"] is not None)
        if any(r["zero_shot_test_accuracy"] is not None for r in tasks) else None,
        "fine_tuned_beats_zero_shot": sum(1 for r in tasks if r["zero_shot_test_accuracy"] is not None
                                          and r["test_accuracy"] > r["zero_shot_test_accuracy"]),
        "sum_train_seconds": sum(r["train_seconds"] or 0 for r in tasks),
        "wall_seconds": wall_seconds, "machine": machine or f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "collection": config,
        "per_family": {f: {"tasks": len(v), "median_fine_tuned": med([r["test_accuracy"] for r in v]),
                           "median_zero_shot": med([r["zero_shot_test_accuracy"] for r in v]),
                           "seen": sum(r["split"] == "seen" for r in v),
                           "unseen": sum(r["split"] == "unseen" for r in v),
                           "unseen_dataset": sum(r["split"] == "unseen_dataset" for r in v)}
                       for f, v in sorted(families.items())},
        "tasks": [{k: r[k] for k in ("task", "family", "split", "dataset", "test_accuracy", "val_accuracy",
                                     "zero_shot_test_accuracy", "train_seconds")} for r in tasks],
        "sources": sources,
    }
    write_json_atomic(os.path.join(zoo_dir, "report.json"), report)
    write_text_atomic(os.path.join(zoo_dir, "report.md"), _zoo_report_markdown(report, len(families), wall_seconds))
    card = render_zoo_card({
        "num_tasks": report["num_tasks"], "families": {f: v["tasks"] for f, v in report["per_family"].items()},
        "sources": [{"dataset": k, "license": v} for k, v in sorted(sources.items())],
        "collection": {**config["spec"], **config["training"]}, "base_model": config["spec"]["base_model"],
        "accuracy_summary": {"median fine-tuned test accuracy": fmt(report["median_fine_tuned_test_accuracy"]),
                             "median zero-shot test accuracy": fmt(report["median_zero_shot_test_accuracy"])},
    })
    write_text_atomic(os.path.join(zoo_dir, "README.md"), card)
    return report


def _zoo_report_markdown(report, num_families, wall_seconds=None):
    """``report.md`` of :func:`zoo_report`: summary lines, then per-family and per-task tables."""
    from ..formatting import fmt

    lines = ["# Adapter zoo report", "",
             "Written by `text2lora.data.zoo.zoo_report` from the zoo's index (balanced accuracy on each task's test "
             "split; zero-shot = cosine between text and training-description embeddings, threshold chosen on val, "
             "mean over the task's training descriptions).", "",
             f"- tasks: {report['num_tasks']} from {report['num_datasets']} datasets, {num_families} families",
             f"- median fine-tuned test accuracy: **{fmt(report['median_fine_tuned_test_accuracy'])}**; "
             f"median zero-shot: **{fmt(report['median_zero_shot_test_accuracy'])}**; fine-tuned beats zero-shot "
             f"on {report['fine_tuned_beats_zero_shot']}/{report['num_tasks']} tasks",
             f"- training time, summed over tasks: {report['sum_train_seconds'] / 60:.1f} min"
             + (f"; wall time of the collection: {wall_seconds / 60:.1f} min on {report['machine']}"
                if wall_seconds else ""), "",
             "| family | tasks (seen/unseen/held-out dataset) | median fine-tuned | median zero-shot |",
             "|---|---|---|---|"]
    for fam, v in report["per_family"].items():
        lines.append(f"| {fam} | {v['tasks']} ({v['seen']}/{v['unseen']}/{v.get('unseen_dataset', 0)}) | "
                     f"{fmt(v['median_fine_tuned'])} | {fmt(v['median_zero_shot'])} |")
    lines += ["", "| task | family | split | fine-tuned test | zero-shot test | train s |", "|---|---|---|---|---|---|"]
    for r in report["tasks"]:
        lines.append(f"| {r['task']} | {r['family']} | {r['split']} | {fmt(r['test_accuracy'])} | "
                     f"{fmt(r['zero_shot_test_accuracy'])} | {r['train_seconds'] or 0:.1f} |")
    return "\n".join(lines) + "\n"


def write_jsonl(path, rows):
    """Write one JSON object per line, atomically (temp file, then rename)."""
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def discard_unfinished_task(zoo_dir, name):
    """Remove what a killed run left of task ``name``, which has no entry yet: temporary files and folders, and adapter
    folders holding only adapter files (both written by text2lora). Returns the names removed."""
    if os.path.exists(os.path.join(zoo_dir, "entries", f"{name}.json")):
        raise ValueError(f"Task '{name}' is finished; its files are kept.")
    entries = os.path.join(zoo_dir, "entries")
    removed = remove_temp_debris(entries, prefix=f"{name}.json.tmp")  # older text2lora's temporary name
    removed += remove_temp_debris(entries, prefix=f"{TEMP_PREFIX}{name}.json.")
    task_dir = os.path.join(zoo_dir, "adapters", name)
    removed += remove_temp_debris(task_dir)
    for sub in sorted(os.listdir(task_dir)) if os.path.isdir(task_dir) else []:
        path = os.path.join(task_dir, sub)
        if os.path.isdir(path) and not os.path.islink(path) and set(os.listdir(path)) <= ADAPTER_FILES:
            shutil.rmtree(path)
            removed.append(sub)
    return removed


def read_entries(zoo_dir):
    """The index rows of every finished task (``entries/*.json``), in task-name order."""
    entries = os.path.join(zoo_dir, "entries")
    rows = []
    for fname in sorted(os.listdir(entries)) if os.path.isdir(entries) else []:
        if fname.endswith(".json") and not fname.startswith(TEMP_PREFIX):
            with open(os.path.join(entries, fname), encoding="utf-8") as f:
                rows.extend(json.load(f))
    return rows


def write_index(zoo_dir):
    """Gather entries/*.json into index.jsonl (atomic); returns the number of rows."""
    rows = read_entries(zoo_dir)
    write_jsonl(os.path.join(zoo_dir, "index.jsonl"), rows)
    return len(rows)
