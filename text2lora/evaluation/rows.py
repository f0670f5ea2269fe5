"""Resumable question 2/3 task rows: each row part is written to disk as soon as it is computed, in a folder named by
a fingerprint of everything it depends on, so a rerun with the same generator, zoo, code and settings reuses it."""

import functools
import hashlib
import json
import os

import torch

from ..fileio import write_text_atomic
from .summary import EVALUATION_SUMMARY

# Files that matter to the head generator's rows alone (besides its ``head_generator/`` folder): a new head leaves the
# other methods' rows valid.
HEAD_ONLY_FILES = ("head_training_info.json", os.path.join("models", "head_hypernetwork.py"),
                   os.path.join("training", "head_training.py"))
# Package files that only word or draw the results (the report and plots): changing them keeps every row valid.
PRESENTATION_FILES = (os.path.join("evaluation", "report.py"), os.path.join("evaluation", "plots.py"))
PRESENTATION_FOLDER = os.path.join("evaluation", "templates")
ROW_PARTS = ("adapters", "head", "multitask")


def _head_only(relpath):
    """Whether a generator or package file matters to the head generator's rows alone."""
    return "head_generator" in relpath.split(os.sep) or relpath.endswith(HEAD_ONLY_FILES)


def _presentation_only(relpath):
    """Whether a package file only words or draws the results (no row depends on it)."""
    return relpath in PRESENTATION_FILES or relpath.startswith(PRESENTATION_FOLDER + os.sep)


def result_fingerprint(args, generator_dir, part="adapters"):
    """Hash of everything one part of a question-2/3 row depends on: the generator's (``generator_dir``) and the zoo's
    (``args.zoo``) files, the package (code and task suite; model cards, the generator's evaluation summary and
    :data:`PRESENTATION_FILES` excluded) and the settings of ``args``.
    ``part="adapters"`` (every method but the head generator) leaves out the head generator's own files
    (:data:`HEAD_ONLY_FILES` and ``head_generator/``), so a new head reuses those rows; ``part="head"`` hashes
    everything. Rows saved under one fingerprint are reused only by it."""
    import text2lora

    if part not in ROW_PARTS:
        raise ValueError(f"part must be one of {ROW_PARTS}, got {part!r}.")
    settings = [args.num_inference_steps, args.guidance_scale, args.seed, args.num_samples, args.max_tasks, part]
    h = hashlib.sha256(json.dumps(settings).encode())
    for root in (generator_dir, args.zoo, os.path.dirname(text2lora.__file__)):
        for folder, dirs, files in sorted(os.walk(root)):
            dirs.sort()
            for name in sorted(files):
                relpath = os.path.relpath(os.path.join(folder, name), root)
                if (name in ("README.md", EVALUATION_SUMMARY) or name.endswith((".pyc", ".tmp"))
                        or _presentation_only(relpath)
                        or (part == "adapters" and _head_only(relpath))):
                    continue
                h.update(relpath.encode())
                with open(os.path.join(folder, name), "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
    return h.hexdigest()[:16]


def row_cache_dirs(args, generator_dir, multitask_dir=None):
    """{part: <work_dir>/rows/<part>/<fingerprint>}: the generator's two row parts, and the multi-task baseline's
    (fingerprinted like a head part, over ``multitask_dir``) when one is given."""
    dirs = {part: os.path.join(args.work_dir, "rows", part, result_fingerprint(args, generator_dir, part))
            for part in ("adapters", "head")}
    if multitask_dir is not None:
        dirs["multitask"] = os.path.join(args.work_dir, "rows", "multitask",
                                         result_fingerprint(args, multitask_dir, "multitask"))
    return dirs


def write_json(path, obj):
    """JSON (numpy floats as floats) through a temporary file and a rename."""
    write_text_atomic(path, json.dumps(obj, indent=1, default=float))


def cached_row(path, compute, evaluator):
    """Load the row at ``path``, or compute and write it at once (with its first generated adapter beside it, for
    the adapter map). Returns (row, whether it was loaded)."""
    vector_path = path[: -len(".json")] + ".pt"
    if os.path.exists(path):
        with open(path) as f:
            row = json.load(f)
        if os.path.exists(vector_path):
            evaluator.generated_log.append((row["task"], row["family"], row["split"], torch.load(vector_path)))
        return row, True
    logged = len(evaluator.generated_log)
    row = compute()
    if len(evaluator.generated_log) > logged:
        torch.save(evaluator.generated_log[logged][3], f"{vector_path}.tmp")
        os.replace(f"{vector_path}.tmp", vector_path)
    write_json(path, row)
    with open(path) as f:  # the JSON round trip, so fresh and resumed rows are identical
        return json.load(f), False


def resumable_rows(names, parts, evaluator, desc, finish=None, stats=None):
    """One row per task, resuming from disk. ``parts``: (part, cache_dir, compute(name)) whose dicts are merged into
    the row; each part of each task is written to its cache_dir as soon as it is computed, so a killed run loses at
    most the task in progress, and a part whose fingerprint (folder) is unchanged is never recomputed. ``finish(row)``
    adds keys derived from several parts; ``stats`` (a Counter) counts "<part> reused" and "<part> computed"."""
    from tqdm.auto import tqdm

    for _, cache_dir, _ in parts:
        os.makedirs(cache_dir, exist_ok=True)
    rows = []
    for name in tqdm(names, desc=desc):
        row = {}
        for part, cache_dir, compute in parts:
            values, reused = cached_row(os.path.join(cache_dir, f"{name}.json"), functools.partial(compute, name),
                                        evaluator)
            row.update(values)
            if stats is not None:
                stats[f"{part} {'reused' if reused else 'computed'}"] += 1
        rows.append(finish(row) if finish else row)
    return rows
