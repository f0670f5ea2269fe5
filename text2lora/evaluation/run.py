"""A whole evaluation run: its arguments (:class:`EvaluationArguments`, the flags of ``text2lora-evaluate``), the three
questions written to ``<output_dir>/evaluation.{json,md}`` with plots (:func:`run_evaluation`), and one user task from
a JSONL/CSV file (:func:`evaluate_custom_task`)."""

import collections
import datetime
import json
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Optional

from ..data import tasks as suite
from ..data.zoo import DEFAULT_ZOO
from . import plots, questions
from .report import update_generator_card, write_markdown
from .rows import row_cache_dirs, write_json
from .summary import write_evaluation_summary

SHIPPED_LABEL = "text2lora/data/generator (shipped)"
CUSTOM_KEYS = ("num_test", "descriptions", "generated", "generated_best", "generated_std", "snapped_tasks",
               "hypernetwork", "zero_shot", "zero_shot_label_free", "retrieval", "retrieved_tasks", "retrieval_snapped",
               "mean_adapter")


@dataclass
class EvaluationArguments:
    """Settings of an evaluation run (each field is a ``text2lora-evaluate`` flag of the same name; ``task_data``,
    ``val_data``, ``val_fraction``, ``text_column``, ``label_column`` and ``positive_label`` also take hyphens)."""

    generator: Optional[str] = field(default=None, metadata={"help": "Generator directory or Hub id (default: the "
                                                                     "shipped one)."})
    zoo: str = field(default=DEFAULT_ZOO, metadata={"help": "The zoo the generator was trained on."})
    output_dir: str = field(default="reports", metadata={"help": "Where evaluation.{json,md} and the plots go."})
    questions: list[int] = field(default_factory=lambda: [1, 2, 3], metadata={"choices": [1, 2, 3],
                                                                               "help": "Questions to answer."})
    max_tasks: Optional[int] = field(default=None, metadata={"help": "Evaluate at most N tasks per question."})
    num_samples: int = field(default=1, metadata={"help": "Generated adapters per description."})
    q2_stride: int = field(default=1, metadata={"help": "Question 2 evaluates every k-th seen task (1: all of them; 3 "
                                                        "takes a third on the CPU)."})
    num_inference_steps: int = 25
    guidance_scale: float = 1.0
    seed: int = 0
    q1_task: str = "sst2_negative"
    q1_checkpoints: int = 100
    q1_train_steps: int = 800
    q1_samples: int = 20
    work_dir: str = field(default="runs/evaluation", metadata={
        "help": "Scratch space: Q1 checkpoints and generator, and every finished Q2/Q3 task row (a rerun with the "
                "same generator, zoo, settings and code resumes from them)."})
    task_data: Optional[str] = field(default=None, metadata={"help": "JSONL/CSV with text and 0/1 label."})
    description: Optional[list[str]] = field(default=None, metadata={"action": "append",
                                                                     "help": "Description(s) for --task-data."})
    val_data: Optional[str] = field(default=None, metadata={"help": "Optional val file for --task-data."})
    val_fraction: float = 0.3
    text_column: str = "text"
    label_column: str = "label"
    positive_label: str = field(default="1", metadata={
        "help": "The label that means 'matches the description' (default 1, for 0/1 labels; e.g. pos)."})
    json: bool = field(default=False, metadata={"help": "Machine-readable output for --task-data."})
    multitask_generator: Optional[str] = field(default=None, metadata={
        "help": "A generator whose head_generator is the multi-task baseline (train_head.py --multitask_steps): "
                "scored in question 3 as `multitask`."})
    update_card: bool = field(default=False, metadata={
        "help": "Re-render the generator's README.md card with this evaluation's numbers."})

    def __post_init__(self):
        if self.description is not None:  # repeated --description flags arrive as one list per flag
            self.description = [d for group in self.description for d in ([group] if isinstance(group, str) else group)]
        if not set(self.questions) <= {1, 2, 3}:
            raise ValueError(f"questions must be among 1, 2 and 3, got {self.questions}.")


def generator_folder(path_or_id=None):
    """The local folder of a generator: a folder as given, the shipped generator for None, a Hub id's cached
    snapshot."""
    from ..pipelines import SHIPPED_GENERATOR

    path_or_id = os.fspath(path_or_id or SHIPPED_GENERATOR)
    if os.path.isdir(path_or_id):
        return path_or_id
    from huggingface_hub import snapshot_download

    from ..hub.resolve import check_hub_source

    check_hub_source(path_or_id, "Generator")
    return snapshot_download(path_or_id)


# -- bring your own task ------------------------------------------------------------------------------------------
def evaluate_custom_task(args):
    """Every method on the task in ``args.task_data`` for ``args.description``: {key: value} of :data:`CUSTOM_KEYS`.
    Without ``args.val_data``, ``args.val_fraction`` of the rows pick the zero-shot threshold; the rest are tested."""
    from ..data.zoo import Zoo
    from ..pipelines import load_generator
    from .evaluator import Evaluator

    if not args.description:
        raise ValueError("--task-data needs at least one --description.")
    files = {"train": args.task_data, "test": args.task_data}
    if args.val_data:
        files["val"] = args.val_data
    task = suite.load_custom_task("custom", args.description, data_files=files if args.val_data else args.task_data,
                                  text_column=args.text_column, label_column=args.label_column,
                                  positive_label=1 if args.positive_label == "1" else args.positive_label,
                                  val_fraction=args.val_fraction, seed=args.seed)
    if not args.val_data:  # val rows are only for the zero-shot threshold; test on the rest
        task.data["test"] = task.data["train"]
    evaluator = Evaluator(Zoo.load(args.zoo), load_generator(args.generator), seed=args.seed,
                          num_inference_steps=args.num_inference_steps, guidance_scale=args.guidance_scale)
    result = evaluator.evaluate_task(task, args.description, num_samples=args.num_samples, ci=False)
    return {k: result[k] for k in CUSTOM_KEYS if k in result}


# -- the three questions ------------------------------------------------------------------------------------------
def _previous_answers(report_path, asked):
    """The answers in an existing report to the questions not asked now (kept in the new report)."""
    if not os.path.exists(report_path):
        return {}
    with open(report_path) as f:
        previous = json.load(f)
    kept = {key: previous[key] for key in ("question_1", "question_2", "question_3", "question_3_new_datasets")
            if key in previous and int(key.split("_")[1]) not in asked}
    if 3 not in asked and "sentiment_check" in previous:
        kept["sentiment_check"] = previous["sentiment_check"]
    return kept


def _head_generator_info(pipe, folder):
    """What the report says about the head generator: feature LoRA or not, and its training task counts."""
    info = {"feature_lora": bool(pipe.head_generator.config.feature_lora_keys)}
    path = os.path.join(folder, "head_training_info.json")
    if os.path.exists(path):
        with open(path) as f:
            training = json.load(f)
        info.update(train_tasks=len(training.get("train_tasks", [])),
                    auxiliary_tasks=len(training.get("auxiliary_tasks", [])))
    return info


def answer_question_2(evaluator, args, train_tasks, cache_dirs, stats):
    """Question 2 on the suite's seen training tasks (every ``q2_stride``-th, at most ``max_tasks``) and the
    interpolation pairs among them; draws ``interpolation.png``."""
    seen = [t for t in suite.list_tasks(split="seen") if t in set(train_tasks)][:: args.q2_stride][: args.max_tasks]
    rows = questions.question_2(evaluator, seen, args.num_samples, cache_dirs, stats)
    pairs = [p for p in questions.INTERPOLATION_PAIRS if p[0] in train_tasks and p[1] in train_tasks]
    curves = questions.interpolation(evaluator, pairs)
    plots.plot_interpolation(curves, os.path.join(args.output_dir, "interpolation.png"))
    answer = {"summary": questions.summarize(rows, questions.Q2_KEYS),
              "per_family": questions.per_family(rows, questions.Q2_KEYS),
              "snapping": questions.snapping_summary(rows), "tasks": rows, "interpolation": curves}
    print(f"Q2: median ratio {answer['summary']['ratio']['median']:.3f}")
    return answer


Q3_PARTS = {  # report key -> (suite split, what the part measures)
    "question_3": ("unseen", "new labels of seen datasets"),
    "question_3_new_datasets": ("unseen_dataset", "new datasets"),
}


def answer_question_3(evaluator, args, zoo, cache_dirs, stats, part="question_3"):
    """One part of question 3 (:data:`Q3_PARTS`) on the suite's tasks of its split with a zoo adapter (at most
    ``max_tasks``), with the target checks and, for the first part, what was tried for unseen tasks
    (``<output_dir>/ablations``). None when the zoo has no task of that split."""
    split, measures = Q3_PARTS[part]
    unseen = [t for t in suite.list_tasks(split=split) if t in set(zoo.task_names())][: args.max_tasks]
    if not unseen:
        return None
    rows = questions.question_3(evaluator, unseen, args.num_samples, cache_dirs, stats, question=part)
    s = questions.summarize(rows, questions.Q3_KEYS)
    answer = {"measures": measures, "split": split, "unseen_family": suite.suite_info()["unseen_family"],
              "summary": s, "per_family": questions.per_family(rows, questions.Q3_KEYS), "tasks": rows,
              **questions.targets(rows, s, "generated", "random_description", ["mean_adapter"])}
    for key in ("hypernetwork", "multitask", "auto"):
        if s.get(key, {}).get("mean") is not None:
            answer[key] = questions.targets(rows, s, key, f"{key}_random_description", ["generated"])
            print(f"Q3 ({measures}): {key} {s[key]['mean']:.3f}")
    print(f"Q3 ({measures}): generated {s['generated']['mean']:.3f} zero-shot {s['zero_shot']['mean']:.3f} "
          f"(label-free {s['zero_shot_label_free']['mean']:.3f}) retrieval {s['retrieval']['mean']:.3f} top-k merge "
          f"{s['top_k_merge']['mean']:.3f} mean {s['mean_adapter']['mean']:.3f} random "
          f"{s['random_description']['mean']:.3f}")
    if part == "question_3":
        answer["tried"] = questions.tried_for_unseen(os.path.join(args.output_dir, "ablations"))
    return answer


def _answer_questions_2_3(args, zoo, report):
    """Questions 2 and/or 3 with the generator of ``args.generator``, into ``report``; returns its folder."""
    from ..pipelines import load_generator
    from .evaluator import Evaluator

    folder = generator_folder(args.generator)
    pipe = load_generator(folder)
    with open(os.path.join(folder, "training_info.json")) as f:
        train_tasks = json.load(f)["train_tasks"]
    multitask_folder = generator_folder(args.multitask_generator) if args.multitask_generator else None
    evaluator = Evaluator(zoo, pipe, train_tasks=train_tasks, seed=args.seed,
                          num_inference_steps=args.num_inference_steps, guidance_scale=args.guidance_scale,
                          multitask_pipeline=load_generator(multitask_folder) if multitask_folder else None)
    cache_dirs = row_cache_dirs(args, folder, multitask_folder)
    stats = collections.Counter()
    if evaluator.has_hypernetwork:
        report["head_generator"] = _head_generator_info(pipe, folder)
    if 2 in args.questions:
        report["question_2"] = answer_question_2(evaluator, args, train_tasks, cache_dirs, stats)
    if 3 in args.questions:
        for part in Q3_PARTS:
            answer = answer_question_3(evaluator, args, zoo, cache_dirs, stats, part)
            if answer is not None:
                report[part] = answer
        if "question_3_new_datasets" in report:
            report["sentiment_check"] = questions.sentiment_check(evaluator)
    plots.plot_adapter_map(zoo, evaluator.generated_log, os.path.join(args.output_dir, "adapter_map.png"))
    report["task_rows"] = dict(sorted(stats.items()))
    return folder


def run_evaluation(args):
    """Answer ``args.questions`` and write ``evaluation.json``, ``evaluation.md`` and the plots to
    ``args.output_dir`` (answers to questions not asked are kept from an existing report); with
    ``args.update_card``, re-render the generator's card and write its ``evaluation_summary.json`` (the accuracy
    adapter cards quote). Returns the report dict."""
    from ..data.zoo import Zoo
    from ..fileio import check_output_dir

    check_output_dir(args.output_dir)
    os.makedirs(args.output_dir, exist_ok=True)
    start = time.perf_counter()
    zoo = Zoo.load(args.zoo)
    report = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores",
              "generator": args.generator or SHIPPED_LABEL, "zoo": args.zoo,
              "settings": {"num_inference_steps": args.num_inference_steps, "guidance_scale": args.guidance_scale,
                           "seed": args.seed, "num_samples": args.num_samples, "max_tasks": args.max_tasks,
                           "q2_stride": args.q2_stride}}
    report_path = os.path.join(args.output_dir, "evaluation.json")
    report.update(_previous_answers(report_path, args.questions))
    if 1 in args.questions:
        report["question_1"] = questions.question_1(args, zoo.spec)
        print(f"Q1: original mean {report['question_1']['original_mean']:.3f}, generated mean "
              f"{report['question_1']['generated_mean']:.3f}")
    folder = _answer_questions_2_3(args, zoo, report) if {2, 3} & set(args.questions) else None
    report["seconds"] = time.perf_counter() - start
    write_json(report_path, report)
    if args.update_card and folder is not None:
        update_generator_card(folder, report)
        write_evaluation_summary(folder, report)
    markdown_path = os.path.join(args.output_dir, "evaluation.md")
    write_markdown(report, markdown_path)
    print(f"wrote {report_path} and {markdown_path}")
    return report
