"""The evaluation's outputs in words: ``evaluation.md`` (rendered from ``templates/evaluation.md.jinja``) and the
evaluation table of the generator's model card. Every number comes from the report dict (``evaluation.json``);
:func:`text2lora.formatting.fmt` formats them."""

import json
import os
import re
from functools import lru_cache
from pathlib import Path

from ..fileio import write_text_atomic
from ..formatting import fmt, signed
from .questions import Q2_KEYS, Q3_KEYS

TEMPLATE = "evaluation.md.jinja"
CARD_REPORT_NOTE = "reports/evaluation.md (balanced accuracy, test splits)"


def oneline(text):
    """A paragraph wrapped over several template lines, as one Markdown line (line breaks and indentation become
    single spaces)."""
    return re.sub(r"\s*\n\s*", " ", text.strip()) + "\n"


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters.update(fmt=fmt, signed=signed, oneline=oneline)
    return env


def render_markdown(report):
    """``evaluation.md`` for ``report`` (the dict written to ``evaluation.json``)."""
    return _environment().get_template(TEMPLATE).render(report=report, q2_keys=Q2_KEYS, q3_keys=Q3_KEYS)


def write_markdown(report, path):
    """Render :func:`render_markdown` to ``path`` (atomically)."""
    return write_text_atomic(path, render_markdown(report))


# -- the generator card -------------------------------------------------------------------------------------------
def _card_row(tasks, s, generated, median_ratio="–"):
    return {"tasks": tasks, "fine-tuned": fmt(s["fine_tuned"]["mean"]), "generated": fmt(generated),
            "median ratio": median_ratio, "retrieval": fmt(s["retrieval"]["mean"]),
            "zero-shot": fmt(s["zero_shot"]["mean"])}


def card_evaluation(report):
    """The ``evaluation`` argument of ``write_generator_card``: the card's table (one row per question and method) and
    its controls, as formatted strings."""
    table = []
    q2, q3 = report.get("question_2"), report.get("question_3")
    q3_datasets = report.get("question_3_new_datasets")
    if q2:
        s, n = q2["summary"], len(q2["tasks"])
        if s.get("auto", {}).get("mean") is not None:
            table.append(_card_row(f"seen ({n}), held-out descriptions, default path (method=auto)", s,
                                   s["auto"]["mean"], fmt(s["ratio_auto"]["median"])))
        table.append(_card_row(f"seen ({n}), held-out descriptions", s, s["generated"]["mean"],
                               fmt(s["ratio"]["median"])))
        if s.get("generated_unsnapped", {}).get("mean") is not None:
            table.append(_card_row(f"seen ({n}), held-out descriptions, not snapped (snap_to_seen_tasks=False)", s,
                                   s["generated_unsnapped"]["mean"], fmt(s["ratio_unsnapped"]["median"])))
    controls = {}
    if q3:
        s, n = q3["summary"], len(q3["tasks"])
        for part, what in ((q3, "unseen"), (q3_datasets, "new datasets")):
            if part and part["summary"].get("auto", {}).get("mean") is not None:
                table.append(_card_row(f"{what} ({len(part['tasks'])}), default path (method=auto)",
                                       part["summary"], part["summary"]["auto"]["mean"]))
        table.append(_card_row(f"unseen ({n}), held-out descriptions", s, s["generated"]["mean"]))
        if s.get("hypernetwork", {}).get("mean") is not None:
            table.append(_card_row(f"unseen ({n}), head generator (method=hypernetwork)", s,
                                   s["hypernetwork"]["mean"]))
        controls = {"random description (unseen tasks, mean)": fmt(s["random_description"]["mean"]),
                    "mismatched description (unseen tasks, mean)": fmt(s["mismatched_description"]["mean"]),
                    "aligned held-out description (unseen tasks, mean)": fmt(s["generated"]["mean"])}
    return {"table": table, "controls": controls, "report": CARD_REPORT_NOTE}


def update_generator_card(generator_dir, report):
    """Re-render the card (README.md) of the generator in ``generator_dir`` with the evaluation table and controls of
    ``report``. The card is written beside the generator, wherever it was trained; the training settings come from
    its ``training_info.json``."""
    from dataclasses import fields

    from ..data.zoo import Zoo
    from ..pipelines import load_generator
    from ..training.denoiser_training import DenoiserTrainingArguments, write_generator_card

    with open(os.path.join(generator_dir, "training_info.json")) as f:
        info = json.load(f)
    known = {field.name for field in fields(DenoiserTrainingArguments)}
    values = {k: v for k, v in info["training_args"].items() if k in known}
    values["output_dir"] = os.fspath(generator_dir)  # training_args.output_dir may be another folder
    args = DenoiserTrainingArguments(**values)
    write_generator_card(load_generator(generator_dir), args, Zoo.load(args.zoo), info["train_tasks"],
                         evaluation=card_evaluation(report))
