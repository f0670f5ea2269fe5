"""``evaluation_summary.json``: the accuracy one can expect from each method of a generator, taken from its
evaluation report and kept in the generator folder, where the pipeline reads it for the cards of the adapters it
writes.

The file holds, for the seen tasks (held-out descriptions, question 2), the unseen tasks (question 3: new labels of seen
datasets) and the new datasets (question 3, part 2), the number of tasks and the mean balanced accuracy of each method
(``auto``, the default path; ``diffusion``; ``hypernetwork``) next to the zero-shot and
fine-tuned references, with the report's date and sampling settings, and a fingerprint of the generator's weights and
configs: a summary whose fingerprint no longer matches (the generator was retrained in place) is not used.
"""

import hashlib
import json
import logging
import os

from ..fileio import TEMP_PREFIX, write_json_atomic

EVALUATION_SUMMARY = "evaluation_summary.json"
SUMMARY_FORMAT = 1
# Report keys (question summaries) of each method's score.
METHOD_KEYS = {"auto": "auto", "diffusion": "generated", "hypernetwork": "hypernetwork"}
REFERENCE_KEYS = ("zero_shot", "zero_shot_label_free", "fine_tuned")

logger = logging.getLogger(__name__)


def generator_fingerprint(generator_dir):
    """sha256 (16 hex digits) of what a pipeline loads from a generator folder: ``model_index.json`` and the files of
    its component folders (hidden and temporary entries skipped; the card and the other top-level files are
    metadata)."""
    generator_dir = os.fspath(generator_dir)
    paths = [os.path.join(generator_dir, "model_index.json")]
    for entry in sorted(os.listdir(generator_dir)):
        component = os.path.join(generator_dir, entry)
        if entry.startswith(".") or not os.path.isdir(component):
            continue
        for folder, dirs, files in sorted(os.walk(component)):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            paths += [os.path.join(folder, name) for name in sorted(files)
                      if not name.startswith((".", TEMP_PREFIX)) and not name.endswith(".tmp")]
    h = hashlib.sha256()
    for path in paths:
        h.update(os.path.relpath(path, generator_dir).replace(os.sep, "/").encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def _part(summary, num_tasks, what):
    """One split's entry: its task count, each method's mean and the references' means."""
    methods = {method: summary[key]["mean"] for method, key in METHOD_KEYS.items()
               if summary.get(key, {}).get("mean") is not None}
    part = {"num_tasks": num_tasks, "tasks": what, "methods": methods}
    part.update({key: summary[key]["mean"] for key in REFERENCE_KEYS if summary.get(key, {}).get("mean") is not None})
    return part


def evaluation_summary(report, generator_dir):
    """The summary of ``report`` (the dict of ``evaluation.json``) for the generator in ``generator_dir``."""
    summary = {"format": SUMMARY_FORMAT, "date": report.get("date"),
               "metric": "mean balanced accuracy over tasks (test splits)",
               "source": "evaluate_generator.py --update_card (reports/evaluation.json)",
               "settings": dict(report.get("settings") or {}),
               "generator_fingerprint": generator_fingerprint(generator_dir)}
    q2, q3, q3_datasets = report.get("question_2"), report.get("question_3"), report.get("question_3_new_datasets")
    if q2:
        summary["seen_tasks"] = _part(q2["summary"], len(q2["tasks"]),
                                      "tasks the generator was trained on, described with held-out descriptions")
    if q3:
        summary["unseen_tasks"] = _part(q3["summary"], len(q3["tasks"]), "tasks the generator never saw")
        if q3.get("unseen_family"):
            summary["unseen_tasks"]["unseen_family"] = q3["unseen_family"]
    if q3_datasets:
        summary["new_datasets"] = _part(q3_datasets["summary"], len(q3_datasets["tasks"]),
                                        "tasks of whole datasets no component was trained on")
    return summary


def write_evaluation_summary(generator_dir, report):
    """Write :func:`evaluation_summary` to ``<generator_dir>/evaluation_summary.json`` (atomically); returns its
    path. ``evaluate_generator.py --update_card`` calls it."""
    if not (report.get("question_2") or report.get("question_3")):
        raise ValueError("The report answers neither question 2 nor question 3: there is no accuracy to summarize.")
    path = os.path.join(os.fspath(generator_dir), EVALUATION_SUMMARY)
    write_json_atomic(path, evaluation_summary(report, generator_dir))
    return path


def read_evaluation_summary(generator_dir):
    """The generator's summary, or ``None`` when it has none or when it was written for other generator files."""
    path = os.path.join(os.fspath(generator_dir), EVALUATION_SUMMARY)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        summary = json.load(f)
    if summary.get("generator_fingerprint") != generator_fingerprint(generator_dir):
        logger.warning("%s was written for other generator files (retrained since its evaluation); its accuracy is "
                       "not quoted in adapter cards. Rerun evaluate_generator.py --update_card.", path)
        return None
    return summary


def expected_accuracy(summary, method):
    """``{"seen_tasks": {...}, "unseen_tasks": {...}, "date": ..., "settings": ...}`` for ``method``: each split's
    task count, the method's mean (``score``) and the references, leaving out splits without that method; ``None``
    when no split has it."""
    if not summary or not method:
        return None
    result = {}
    for split in ("seen_tasks", "unseen_tasks", "new_datasets"):
        part = summary.get(split) or {}
        score = (part.get("methods") or {}).get(method)
        if score is None:
            continue
        result[split] = {"num_tasks": part.get("num_tasks"), "score": score,
                         **{key: part[key] for key in REFERENCE_KEYS if part.get(key) is not None}}
        if part.get("unseen_family"):
            result[split]["unseen_family"] = part["unseen_family"]
    if not result:
        return None
    result.update(date=summary.get("date"), settings=summary.get("settings") or {}, method=method)
    return result
