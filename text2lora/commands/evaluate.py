"""Evaluate a text2lora generator: the paper's three questions, with baselines and controls.

    text2lora-evaluate                                   # all three questions -> reports/
    text2lora-evaluate --questions 2 3 --max_tasks 20    # a quicker partial run
    text2lora-evaluate --task-data my_task.jsonl --description "flag complaints about delivery" [--json]

(``python evaluate_generator.py ...`` from a checkout is the same command.)

Question 1 (one seen task): collect >= 100 checkpoints of one task, train a task-id generator on them, and compare
generated adapters with the originals (mean/max accuracy, distance to the nearest original).
Question 2 (many seen tasks): generated / fine-tuned per seen task from held-out descriptions; interpolation of the
condition between task pairs.
Question 3 (unseen tasks): generated against zero-shot, retrieval and the mean adapter; gain recovered; controls.

Every number in reports/evaluation.json and reports/evaluation.md is computed by text2lora.evaluation.
"""

import argparse
import json


def parse_args(argv=None):
    """The flags of :class:`text2lora.evaluation.EvaluationArguments`."""
    from transformers import HfArgumentParser

    from ..evaluation.run import EvaluationArguments

    parser = HfArgumentParser(EvaluationArguments, prog="text2lora-evaluate", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    (args,) = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    return args


def custom_task_text(out, task_data):
    """The human-readable result of ``--task-data`` (without ``--json``)."""
    lines = [f"task data: {task_data} ({out['num_test']} test rows)"]
    for name in ("generated", "hypernetwork", "zero_shot", "zero_shot_label_free", "retrieval", "mean_adapter"):
        if name in out:
            lines.append(f"  {name:20s} balanced accuracy {out[name]:.3f}")
    lines.append(f"  retrieved zoo adapter(s): {', '.join(out['retrieved_tasks'])}")
    if out.get("snapped_tasks"):
        lines.append(f"  generated from the anchor(s) of: {', '.join(out['snapped_tasks'])} (seen tasks; the zoo "
                     f"adapter(s) of these score {out['retrieval_snapped']:.3f})")
    return "\n".join(lines)


def main(argv=None):
    """Run ``text2lora-evaluate``: the report dict, or the result dict for ``--task-data``."""
    args = parse_args(argv)
    from transformers.utils import logging as hf_logging

    from ..evaluation.run import evaluate_custom_task, run_evaluation

    hf_logging.set_verbosity_error()
    if not args.task_data:
        return run_evaluation(args)
    out = evaluate_custom_task(args)
    print(json.dumps(out, indent=1) if args.json else custom_task_text(out, args.task_data))
    return out


def run():
    """The ``text2lora-evaluate`` console script."""
    from ..cli import run_cli

    run_cli(main)
