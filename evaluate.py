"""Evaluate a text2lora generator: the paper's three questions, with baselines and controls.

    python evaluate.py                                   # all three questions -> reports/
    python evaluate.py --questions 2 3 --max_tasks 20    # a quicker partial run
    python evaluate.py --task-data my_task.jsonl --description "flag complaints about delivery" [--json]

Question 1 (one seen task): collect >= 100 checkpoints of one task, train a task-id generator on them, and compare
generated adapters with the originals (mean/max accuracy, distance to the nearest original).
Question 2 (many seen tasks): generated / fine-tuned per seen task from held-out descriptions; interpolation of the
condition between task pairs.
Question 3 (unseen tasks): generated against zero-shot, retrieval and the mean adapter; gain recovered; controls.

Every number in reports/evaluation.json and reports/evaluation.md is computed here.
"""

import argparse
import collections
import functools
import json
import os
import time

import numpy as np
import torch

DEFAULT_ZOO = "zoos/minilm-default"
HYPERNETWORK_KEYS = ["hypernetwork", "hypernetwork_random_description", "hypernetwork_mismatched_description",
                     "gain_recovered_hypernetwork"]
INTERPOLATION_PAIRS = [  # (A, B), all seen tasks: 6 within a family, 6 across families
    ("carer_emotion_joy", "carer_emotion_sadness"), ("subj_subjective", "subj_objective"),
    ("trec_location", "trec_numeric"), ("agnews_sports", "agnews_world"),
    ("tweet_sentiment_positive", "tweet_sentiment_negative"), ("sst5_very_positive", "sst5_very_negative"),
    ("carer_emotion_anger", "trec_location"), ("clickbait_clickbait", "stackoverflow_haskell"),
    ("cola_acceptable", "dbpedia_film"), ("agnews_sports", "carer_emotion_joy"),
    ("subj_objective", "clinc_flight_status"), ("sst2_negative", "agnews_sci_tech"),
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", default=None, help="Generator directory or Hub id (default: the shipped one).")
    p.add_argument("--zoo", default=DEFAULT_ZOO)
    p.add_argument("--output_dir", default="reports")
    p.add_argument("--questions", nargs="+", type=int, default=[1, 2, 3], choices=[1, 2, 3])
    p.add_argument("--max_tasks", type=int, default=None, help="Evaluate at most N tasks per question.")
    p.add_argument("--num_samples", type=int, default=1, help="Generated adapters per description.")
    p.add_argument("--q2_stride", type=int, default=1,
                   help="Question 2 evaluates every k-th seen task (1: all of them; 3 takes a third on the CPU).")
    p.add_argument("--num_inference_steps", type=int, default=25)
    p.add_argument("--guidance_scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--q1_task", default="sst2_negative")
    p.add_argument("--q1_checkpoints", type=int, default=100)
    p.add_argument("--q1_train_steps", type=int, default=800)
    p.add_argument("--q1_samples", type=int, default=20)
    p.add_argument("--work_dir", default="runs/evaluation",
                   help="Scratch space: Q1 checkpoints and generator, and every finished Q2/Q3 task row (a rerun with "
                        "the same generator, zoo, settings and code resumes from them).")
    p.add_argument("--task-data", dest="task_data", default=None, help="JSONL/CSV with text and 0/1 label.")
    p.add_argument("--description", action="append", default=None, help="Description(s) for --task-data.")
    p.add_argument("--val-data", dest="val_data", default=None, help="Optional val file for --task-data.")
    p.add_argument("--val-fraction", dest="val_fraction", type=float, default=0.3)
    p.add_argument("--text-column", dest="text_column", default="text")
    p.add_argument("--label-column", dest="label_column", default="label")
    p.add_argument("--positive-label", dest="positive_label", default="1",
                   help="The label that means 'matches the description' (default 1, for 0/1 labels; e.g. pos).")
    p.add_argument("--json", action="store_true", help="Machine-readable output for --task-data.")
    p.add_argument("--update_card", action="store_true",
                   help="Re-render the generator's README.md card with this evaluation's numbers.")
    return p.parse_args(argv)


def load_pipeline(path):
    from text2lora.pipelines import load_generator

    return load_generator(path)


def write_json(path, obj):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, default=float)
    os.replace(tmp, path)


# What was tried for unseen tasks (issue levers), read from the ablation reports in <output_dir>/ablations: (lever,
# attempt, measure, file, keys to the value, reference file, keys to the reference value). Each file is written by the
# script named in reports/ablations/README.md; a row whose file is missing is left out.
_QUICK_UNSEEN = ("summary", "unseen_generated_mean")
_HEAD_VAL = ("summary", "head_on_val")
TRIED_FOR_UNSEEN = [
    ("task loss through the frozen base", "head generator trained on the seen tasks' labelled rows (train_head.py, "
     "3000 steps), against its zero-shot initialization (0 steps)", "unseen val, quick check",
     "quick_val_head_default.json", _QUICK_UNSEEN, "quick_val_head_zero_shot_init.json", _QUICK_UNSEEN),
    ("more tasks", "head generator: + 143 auxiliary intent tasks (labelled rows, no zoo adapter), 6000 steps",
     "unseen val, quick check", "quick_val_head_auxiliary_6000.json", _QUICK_UNSEEN, "quick_val_head_steps6000.json",
     _QUICK_UNSEEN),
    ("shared basis", "head generator: one shared feature LoRA in every adapter (--feature_lora_steps 800)",
     "unseen val, quick check", "quick_val_head_feature_lora_800.json", _QUICK_UNSEEN,
     "quick_val_head_auxiliary_6000.json", _QUICK_UNSEEN),
    ("description augmentation", "diffusion generator trained with 15 descriptions per task (7 + 8 augmented)",
     "unseen val, quick check", "quick_val_aug_mix5_noise5.json", _QUICK_UNSEEN, "quick_val_orig_mix5_noise5.json",
     _QUICK_UNSEEN),
    ("description augmentation", "head generator: 30% of training conditions are the mean embedding of 5 positive "
     "texts of the task instead of a description", "unseen val, head probe", "head_variant_linear_text30.json",
     _HEAD_VAL, "head_variant_linear.json", _HEAD_VAL),
    ("conditioning design", "diffusion generator: snap each description to the nearest seen task's anchor",
     "unseen val, quick check", "quick_val_snap.json", _QUICK_UNSEEN, "quick_val_no_snap.json", _QUICK_UNSEEN),
    ("conditioning design", "head generator: contrast with the seen tasks' anchors near the description",
     "unseen val, head probe", "head_variant_contrast.json", _HEAD_VAL, "head_variant_linear.json", _HEAD_VAL),
    ("conditioning design", "head generator: retrieval memory of the training tasks' anchors (own task masked)",
     "unseen val, head probe", "head_variant_memory.json", _HEAD_VAL, "head_variant_linear.json", _HEAD_VAL),
    ("conditioning design", "head generator: scores standardized before the bias (threshold in standard deviations)",
     "unseen val, head probe", "head_variant_standardized.json", _HEAD_VAL, "head_variant_linear.json", _HEAD_VAL),
    ("conditioning design", "head generator: a nonlinear (MLP) bias", "unseen val, head probe",
     "head_variant_bias_mlp.json", _HEAD_VAL, "head_variant_linear.json", _HEAD_VAL),
    ("description expansion", "zero-shot on the description in a prompt template ('An example: {d}')",
     "unseen val ROC AUC", "expansion_probe.json", ("summary", "expansions", "template_example", "val_auc"),
     "expansion_probe.json", ("summary", "expansions", "description", "val_auc")),
    ("description expansion", "zero-shot on the description plus 4 example texts written by SmolLM2-135M (HyDE)",
     "unseen val ROC AUC", "expansion_probe.json", ("summary", "expansions", "examples_mix", "val_auc"),
     "expansion_probe.json", ("summary", "expansions", "description", "val_auc")),
]


def _dig(doc, keys):
    for key in keys:
        doc = doc[key]
    return doc


def tried_for_unseen(folder):
    """Rows of :data:`TRIED_FOR_UNSEEN` whose ablation reports exist in ``folder`` (value, reference, change), and the
    routing diagnosis of ``routing_tradeoff.json`` (None when missing)."""
    rows = []
    for lever, attempt, measure, path, keys, ref_path, ref_keys in TRIED_FOR_UNSEEN:
        if not (os.path.exists(os.path.join(folder, path)) and os.path.exists(os.path.join(folder, ref_path))):
            continue
        with open(os.path.join(folder, path)) as f, open(os.path.join(folder, ref_path)) as g:
            value, reference = float(_dig(json.load(f), keys)), float(_dig(json.load(g), ref_keys))
        rows.append({"lever": lever, "attempt": attempt, "measure": measure, "value": value,
                     "reference": reference, "change": value - reference, "source": path, "reference_source": ref_path})
    routing = None
    if os.path.exists(os.path.join(folder, "routing_tradeoff.json")):
        with open(os.path.join(folder, "routing_tradeoff.json")) as f:
            summary = json.load(f)["summary"]
        keeping_seen = [r for r in summary["thresholds"] if r["seen_median_ratio"] >= 0.99]
        routing = {"any_threshold_meets_both": summary["any_threshold_meets_both"],
                   "best_unseen_with_seen_ratio_0.99": max((r["unseen_mean"] for r in keeping_seen), default=None),
                   "zero_shot_unseen_mean": summary["zero_shot_unseen_mean"],
                   "seen_median_ratio_all_head": summary["thresholds"][-1]["seen_median_ratio"]}
    return {"attempts": rows, "routing": routing}


HEAD_ONLY_FILES = ("head_training_info.json", os.path.join("models", "head_hypernetwork.py"), "head_training.py")


def _head_only(relpath):
    """Whether a generator or package file matters to the head generator's rows alone."""
    return "head_generator" in relpath.split(os.sep) or relpath.endswith(HEAD_ONLY_FILES)


def result_fingerprint(args, generator_dir, part="adapters"):
    """Hash of everything one part of a question-2/3 row depends on: the generator's and the zoo's files, the package
    (code and task suite; model cards excluded) and the settings. ``part="adapters"`` (every method but the head
    generator) leaves out the head generator's own files (:data:`HEAD_ONLY_FILES` and ``head_generator/``), so a new
    head reuses those rows; ``part="head"`` hashes everything. Rows saved under one fingerprint are reused only
    by it."""
    import hashlib

    import text2lora

    if part not in ("adapters", "head"):
        raise ValueError(f"part must be 'adapters' or 'head', got {part!r}.")
    settings = [args.num_inference_steps, args.guidance_scale, args.seed, args.num_samples, args.max_tasks, part]
    h = hashlib.sha256(json.dumps(settings).encode())
    for root in (generator_dir, args.zoo, os.path.dirname(text2lora.__file__)):
        for folder, dirs, files in sorted(os.walk(root)):
            dirs.sort()
            for name in sorted(files):
                relpath = os.path.relpath(os.path.join(folder, name), root)
                if name == "README.md" or name.endswith((".pyc", ".tmp")) or (part == "adapters" and
                                                                               _head_only(relpath)):
                    continue
                h.update(relpath.encode())
                with open(os.path.join(folder, name), "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
    return h.hexdigest()[:16]


def _cached_row(path, compute, evaluator):
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
            values, reused = _cached_row(os.path.join(cache_dir, f"{name}.json"), functools.partial(compute, name),
                                         evaluator)
            row.update(values)
            if stats is not None:
                stats[f"{part} {'reused' if reused else 'computed'}"] += 1
        rows.append(finish(row) if finish else row)
    return rows


def median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


# -- bring your own task ------------------------------------------------------------------------------------------
def evaluate_custom(args):
    from text2lora.data.tasks import load_custom_task
    from text2lora.data.zoo import Zoo
    from text2lora.evaluation import Evaluator

    if not args.description:
        raise ValueError("--task-data needs at least one --description.")
    files = {"train": args.task_data, "test": args.task_data}
    if args.val_data:
        files["val"] = args.val_data
    task = load_custom_task("custom", args.description, data_files=files if args.val_data else args.task_data,
                            text_column=args.text_column, label_column=args.label_column,
                            positive_label=1 if args.positive_label == "1" else args.positive_label,
                            val_fraction=args.val_fraction, seed=args.seed)
    if not args.val_data:  # val rows are only for the zero-shot threshold; test on the rest
        task.data["test"] = task.data["train"]
    pipe = load_pipeline(args.generator)
    zoo = Zoo.load(args.zoo)
    evaluator = Evaluator(zoo, pipe, seed=args.seed, num_inference_steps=args.num_inference_steps,
                          guidance_scale=args.guidance_scale)
    result = evaluator.evaluate_task(task, args.description, num_samples=args.num_samples, ci=False)
    out = {k: result[k] for k in ("num_test", "descriptions", "generated", "generated_best", "generated_std",
                                  "snapped_tasks", "hypernetwork", "zero_shot", "zero_shot_label_free", "retrieval",
                                  "retrieved_tasks", "retrieval_snapped", "mean_adapter")
           if k in result}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"task data: {args.task_data} ({out['num_test']} test rows)")
        for name in ("generated", "hypernetwork", "zero_shot", "zero_shot_label_free", "retrieval", "mean_adapter"):
            if name in out:
                print(f"  {name:20s} balanced accuracy {out[name]:.3f}")
        print(f"  retrieved zoo adapter(s): {', '.join(out['retrieved_tasks'])}")
        if out.get("snapped_tasks"):
            print(f"  generated from the anchor(s) of: {', '.join(out['snapped_tasks'])} (seen tasks; "
                  f"the zoo adapter(s) of these score {out['retrieval_snapped']:.3f})")
    return out


# -- question 1 ---------------------------------------------------------------------------------------------------
def question_1(args, zoo_spec):
    """One seen task: many checkpoints, an id-conditioned generator, generated vs original."""
    import train
    from text2lora.adapters import AdapterScorer
    from text2lora.data.tasks import load_task
    from text2lora.data.zoo import Zoo
    from text2lora.pipelines import Text2LoraPipeline
    from text2lora.training.collection import TrainingSettings, ZooCollector, write_index

    task = load_task(args.q1_task)
    zoo_dir = os.path.join(args.work_dir, "q1_zoo")
    settings = TrainingSettings(num_checkpoints=args.q1_checkpoints, checkpoint_interval=1,
                                extra_steps=args.q1_checkpoints)
    start = time.perf_counter()
    collector = ZooCollector(zoo_dir, zoo_spec, settings, embedder=None)
    collector.collect([task], progress=False)
    write_index(zoo_dir)
    collect_seconds = time.perf_counter() - start
    gen_dir = os.path.join(args.work_dir, "q1_generator")
    if not os.path.exists(os.path.join(gen_dir, "model_index.json")):
        train.main(["--zoo", zoo_dir, "--output_dir", gen_dir, "--condition_type", "task_id", "--train_split", "all",
                    "--max_train_steps", str(args.q1_train_steps), "--checkpointing_steps", "100000",
                    "--validation_tasks", "--seed", str(args.seed), "--train_batch_size", "32", "--use_ema"])
    pipe = Text2LoraPipeline.from_pretrained(gen_dir)
    pipe.set_progress_bar_config(disable=True)
    originals = Zoo.load(zoo_dir)
    generator = torch.Generator().manual_seed(args.seed)
    out = pipe([0], num_inference_steps=args.num_inference_steps, num_adapters_per_task=args.q1_samples,
               generator=generator, output_type="vector")
    scorer = AdapterScorer(zoo_spec)
    gen_acc = [scorer.score(originals.layout.unflatten(v), task) for v in out.vectors]
    orig_acc = [r["test_accuracy"] for r in originals.rows]
    d_gen = torch.cdist(out.vectors, originals.vectors)  # (samples, originals)
    d_orig = torch.cdist(originals.vectors, originals.vectors)
    d_orig.fill_diagonal_(float("inf"))
    noise = scorer.score(originals.layout.unflatten(originals.vectors.mean(0)
                                                   + originals.vectors.std(0) * torch.randn(originals.layout.num_params,
                                                   generator=torch.Generator().manual_seed(1))), task)
    return {
        "task": task.name, "num_checkpoints": len(originals), "collect_seconds": collect_seconds,
        "original_mean": mean(orig_acc), "original_max": float(max(orig_acc)), "original_min": float(min(orig_acc)),
        "generated_mean": mean(gen_acc), "generated_max": float(max(gen_acc)), "generated_min": float(min(gen_acc)),
        "generated_std": float(np.std(gen_acc)), "num_generated": len(gen_acc),
        "generated_nearest_original_l2_mean": float(d_gen.min(1).values.mean()),
        "original_nearest_original_l2_mean": float(d_orig.min(1).values.mean()),
        "generated_pairwise_l2_mean": float(torch.pdist(out.vectors).mean()) if len(out.vectors) > 1 else None,
        "gaussian_matched_noise_accuracy": noise,
    }


# -- questions 2 and 3 --------------------------------------------------------------------------------------------
def _row_parts(evaluator, cache_dirs, question, adapters, head):
    """(part, cache_dir, compute) of a question's rows: the adapters part, and the head generator's if it has one."""
    parts = [("adapters", os.path.join(cache_dirs["adapters"], question), adapters)]
    if evaluator.has_hypernetwork:
        parts.append(("head", os.path.join(cache_dirs["head"], question), head))
    return parts


def question_2(evaluator, tasks, args, cache_dirs, stats=None):
    from text2lora.data.tasks import load_task

    def adapters(name):
        task = load_task(name)
        r = evaluator.evaluate_task(task, task.heldout_descriptions[:2], num_samples=args.num_samples,
                                    include_head=False)
        train_desc = evaluator.generate_vectors([task.descriptions[0]])
        r["generated_train_description"] = evaluator.score_vector(train_desc[0], task)
        r["ratio"] = r["generated"] / r["fine_tuned"]
        r["ratio_train_description"] = r["generated_train_description"] / r["fine_tuned"]
        if "snapped_tasks" in r:  # the same descriptions and seed, conditioned on their own embeddings
            raw = evaluator.generate_vectors(task.heldout_descriptions[:2], num_samples=args.num_samples,
                                             snap_to_seen_tasks=False)
            r["generated_unsnapped"] = float(np.mean([evaluator.score_vector(v, task) for v in raw]))
            r["ratio_unsnapped"] = r["generated_unsnapped"] / r["fine_tuned"]
        return r

    def head(name):
        task = load_task(name)
        return evaluator.evaluate_head(task, task.heldout_descriptions[:2])

    def finish(r):
        if "hypernetwork" in r:
            r["ratio_hypernetwork"] = r["hypernetwork"] / r["fine_tuned"]
        return r

    parts = _row_parts(evaluator, cache_dirs, "question_2", adapters, head)
    return resumable_rows(tasks, parts, evaluator, "Q2 seen tasks", finish, stats)


def interpolation(evaluator, pairs, alphas):
    from text2lora.data.tasks import load_task
    from text2lora.embedding import embed
    from text2lora.evaluation import interpolate_conditions

    curves = []
    for a_name, b_name in pairs:
        try:
            a, b = load_task(a_name), load_task(b_name)
        except ValueError:
            continue
        ea, eb = (torch.from_numpy(embed([t.descriptions[0]], evaluator.embedder))[0] for t in (a, b))
        conditions = interpolate_conditions(ea, eb, alphas)
        vectors = evaluator.generate_vectors(None, condition=conditions)
        acc_a = [evaluator.score_vector(v, a, "val") for v in vectors]
        acc_b = [evaluator.score_vector(v, b, "val") for v in vectors]
        # Transition: the alpha where accuracy on A first exceeds accuracy on B (conditions go from B at 0 to A at 1).
        diff = np.asarray(acc_a) - np.asarray(acc_b)
        cross = next((float(alphas[i]) for i in range(len(alphas)) if diff[i] > 0), None)
        steps = np.abs(np.diff(acc_a)).tolist() + np.abs(np.diff(acc_b)).tolist()
        curves.append({"a": a_name, "b": b_name, "same_family": a.family == b.family, "alphas": list(alphas),
                       "accuracy_a": acc_a, "accuracy_b": acc_b, "transition_alpha": cross,
                       "largest_step": float(max(steps))})
    return curves


def question_3(evaluator, tasks, args, cache_dirs, stats=None):
    from text2lora.data.tasks import load_task

    all_tasks = {n: load_task(n) for n in tasks}
    names = sorted(all_tasks)

    def mismatched(name):
        """A held-out description of an unseen task from another family (the mismatched control)."""
        i, task = names.index(name), all_tasks[name]
        return next((all_tasks[n] for n in names[i + 1:] + names[:i] if all_tasks[n].family != task.family), None)

    def adapters(name):
        task, other = all_tasks[name], mismatched(name)
        r = evaluator.evaluate_task(task, task.heldout_descriptions, num_samples=args.num_samples, controls=True,
                                    mismatched_description=other.heldout_descriptions[0] if other else None, ci=True,
                                    include_head=False)
        r["gain_recovered"] = _gain(r)
        r["mismatched_with"] = other.name if other else None
        return r

    def head(name):
        task, other = all_tasks[name], mismatched(name)
        return evaluator.evaluate_head(task, task.heldout_descriptions, controls=True,
                                       mismatched_description=other.heldout_descriptions[0] if other else None)

    def finish(r):
        if "hypernetwork" in r:
            r["gain_recovered_hypernetwork"] = _gain(r, "hypernetwork")
        return r

    parts = _row_parts(evaluator, cache_dirs, "question_3", adapters, head)
    return resumable_rows(names, parts, evaluator, "Q3 unseen tasks", finish, stats)


def _gain(r, key="generated"):
    from text2lora.evaluation import gain_recovered

    return gain_recovered(r[key], r["zero_shot"], r["fine_tuned"])


def targets(rows, summary, key, random_key, others):
    """Wins of method ``key`` per task against zero-shot, retrieval and ``others``; the Q3 target checks."""
    wins = {f"vs_{other.replace('_adapter', '')}": sum(r[key] > r[other] for r in rows)
            for other in ["zero_shot", "retrieval", *others]}
    diffs = np.asarray([r[key] - r["zero_shot"] for r in rows], dtype=float)
    rng = np.random.default_rng(0)
    boot = diffs[rng.integers(0, len(diffs), (10000, len(diffs)))].mean(1) if len(diffs) else np.zeros(1)
    margin = {"mean": float(diffs.mean()) if len(diffs) else None,
              "ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))]}
    pooled = None
    if summary["fine_tuned"]["mean"] != summary["zero_shot"]["mean"]:
        pooled = (summary[key]["mean"] - summary["zero_shot"]["mean"]) / (
            summary["fine_tuned"]["mean"] - summary["zero_shot"]["mean"])
    return {"wins": wins, "margin_vs_zero_shot": margin, "gain_recovered_of_means": pooled,
            "beats_zero_shot": summary[key]["mean"] > summary["zero_shot"]["mean"],
            "beats_zero_shot_label_free": summary[key]["mean"] > summary["zero_shot_label_free"]["mean"],
            "beats_retrieval": summary[key]["mean"] > summary["retrieval"]["mean"],
            "random_drop": summary[key]["mean"] - summary[random_key]["mean"]}


def summarize(rows, keys):
    return {k: {"mean": mean([r.get(k) for r in rows]), "median": median([r.get(k) for r in rows])} for k in keys}


def snapping_summary(rows):
    """How often the diffusion generator's condition snapping matched a description to its own task (question 2); None
    when the generator does not snap."""
    matched = [t == r["task"] for r in rows for t in r.get("snapped_tasks") or []]
    if not matched:
        return None
    return {"descriptions": len(matched), "matched_own_task": int(sum(matched)),
            "accuracy": float(np.mean(matched))}


def _snapping_text(snapping):
    if not snapping:
        return ["Conditioning: each description's own embedding (this generator has no condition anchors).", ""]
    return [f"Conditioning: the diffusion generator snaps each description to the anchor of the seen task it is "
            f"closest to (`snap_to_seen_tasks`; an anchor is the normalized mean of the task's training-description "
            f"embeddings). The held-out descriptions matched their own task {snapping['matched_own_task']}/"
            f"{snapping['descriptions']} times ({fmt(snapping['accuracy'])}). `retrieval_snapped`: the zoo adapter of "
            f"the task matched the same way; `retrieval`: the zoo adapter of the nearest single training description; "
            f"`generated_unsnapped`: the same descriptions and seed conditioned on their own embeddings "
            f"(`snap_to_seen_tasks=False`). Interpolation conditions on embeddings directly and is never snapped.", ""]


def per_family(rows, keys):
    fams = {}
    for r in rows:
        fams.setdefault(r["family"], []).append(r)
    return {f: {"tasks": len(v), **{k: mean([r.get(k) for r in v]) for k in keys}} for f, v in sorted(fams.items())}


# -- plots --------------------------------------------------------------------------------------------------------
def plot_interpolation(curves, path):
    """Accuracy on A and on B against alpha for each pair (nothing is drawn without pairs, e.g. for another zoo)."""
    if not curves:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(curves)
    cols = 4
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, c in zip(axes.flat, curves):
        ax.plot(c["alphas"], c["accuracy_a"], "o-", label=f"A: {c['a']}")
        ax.plot(c["alphas"], c["accuracy_b"], "s-", label=f"B: {c['b']}")
        ax.set_title(("within family" if c["same_family"] else "across families"), fontsize=9)
        ax.set_xlabel("alpha (condition = alpha*e(A) + (1-alpha)*e(B))", fontsize=7)
        ax.set_ylabel("balanced accuracy (val)", fontsize=7)
        ax.set_ylim(0.3, 1.02)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_adapter_map(zoo, generated_log, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = zoo.vectors
    mu = x.mean(0)
    std = x.std(0).clamp_min(1e-8)
    z = (x - mu) / std
    _, _, v = torch.pca_lowrank(z, q=2, center=True)
    proj = (z - z.mean(0)) @ v[:, :2]
    families = sorted({r["family"] for r in zoo.rows})
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(9, 7))
    for i, fam in enumerate(families):
        idx = [j for j, r in enumerate(zoo.rows) if r["family"] == fam]
        ax.scatter(proj[idx, 0], proj[idx, 1], s=14, color=cmap(i % 20), label=fam, alpha=0.7)
    if generated_log:
        g = torch.stack([entry[3] for entry in generated_log])
        gp = (((g - mu) / std) - z.mean(0)) @ v[:, :2]
        for k, entry in enumerate(generated_log):
            ax.scatter(gp[k, 0], gp[k, 1], s=40, marker="x" if entry[2] == "unseen" else "+",
                       color=cmap(families.index(entry[1]) % 20) if entry[1] in families else "black")
    ax.set_title("Adapter space (PCA of normalized weights): dots = zoo, + = generated seen, x = generated unseen")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# -- report -------------------------------------------------------------------------------------------------------
def fmt(v, digits=3):
    return "–" if v is None else f"{v:.{digits}f}"


def _stride_text(stride):
    return "all of the suite's seen tasks" if stride == 1 else f"every {stride}-th of the suite's seen tasks"


def _head_lora_text(report):
    if report.get("head_generator", {}).get("feature_lora"):
        return "one shared feature LoRA in every adapter"
    return "LoRA at zero"


def _head_tasks_text(report):
    info = report.get("head_generator", {})
    if "train_tasks" not in info:
        return "labelled rows of training tasks"
    return (f"the labelled rows of {info['train_tasks']} training tasks ({info['auxiliary_tasks']} of them auxiliary "
            f"tasks with no zoo adapter)")


def _q3_answer(q3):
    """One paragraph answering question 3 with the method for new tasks (the head generator, when there is one)."""
    h, s = q3.get("hypernetwork"), q3["summary"]
    if not h:
        return []
    margin = h["margin_vs_zero_shot"]
    significant = margin["ci95"][0] > 0
    pooled = h.get("gain_recovered_of_means")
    return [f"**Answer.** New tasks are generated by the head generator (`method=\"hypernetwork\"`). On these "
            f"{len(q3['tasks'])} tasks it scores {fmt(s['hypernetwork']['mean'])} against zero-shot "
            f"{fmt(s['zero_shot']['mean'])} and retrieval {fmt(s['retrieval']['mean'])}: retrieval is "
            f"{'beaten' if h['beats_retrieval'] else 'not beaten'}; zero-shot is "
            f"{'beaten' if h['beats_zero_shot'] else 'not beaten'} on average (margin {margin['mean']:+.3f}; 95% "
            f"bootstrap interval over tasks {margin['ci95'][0]:+.3f} to {margin['ci95'][1]:+.3f}, "
            + ("which excludes zero). " if significant else "so the margin is within noise). ")
            + f"Gain recovered of the means (head - zero-shot) / (fine-tuned - zero-shot): {fmt(pooled)}, "
            + ("meeting" if pooled is not None and pooled >= 0.5 else "short of") + " the 0.5 stretch target"
            + ". The diffusion generator (`generated`) returns seen tasks' adapters and is not the method for new "
            "tasks; its rows are kept as the paper's question asks them.", ""]


def _tried_text(tried):
    """The 'what was tried for unseen tasks' table (from :func:`tried_for_unseen`)."""
    if not tried or not (tried["attempts"] or tried["routing"]):
        return []
    lines = ["", "### What was tried for unseen tasks", "",
             "Each attempt against its reference, from the ablation reports in `reports/ablations/` (commands and "
             "every column in its README.md, rendered by `scripts/render_ablations.py`). Quick check: "
             "`scripts/quick_val_check.py` (val split, capped rows); head probe: `scripts/head_variant_probe.py` "
             "(the shipped head's training on cached features; the unseen tasks' val split); ROC AUC: "
             "`scripts/expansion_probe.py` (zero-shot cosine, val split).", "",
             "| lever | attempt | measure | result | reference | change | source |", "|---|---|---|---|---|---|---|"]
    for r in tried["attempts"]:
        lines.append(f"| {r['lever']} | {r['attempt']} | {r['measure']} | {fmt(r['value'])} | {fmt(r['reference'])} "
                     f"| {r['change']:+.3f} | `{r['source']}` |")
    routing = tried["routing"]
    if routing:
        best = routing["best_unseen_with_seen_ratio_0.99"]
        lines += ["", "One default method for both? Routing each description by its cosine to the nearest seen-task "
                  "anchor (diffusion above a threshold, the head below it; `scripts/routing_tradeoff.py`, from this "
                  "report's per-description test scores, a diagnosis): "
                  + ("some threshold keeps the seen median ratio >= 0.99 and beats zero-shot on unseen tasks."
                     if routing["any_threshold_meets_both"] else
                     "no threshold keeps the seen median ratio >= 0.99 and beats zero-shot on unseen tasks "
                     f"({fmt(routing['zero_shot_unseen_mean'])}): with the seen ratio kept, the unseen mean is at "
                     f"most {fmt(best)}; sending everything to the head gives a seen median ratio of "
                     f"{fmt(routing['seen_median_ratio_all_head'])}. Paraphrases of seen tasks and descriptions of new "
                     "ones are about as close to the anchors, so the method stays an explicit choice.")]
    lines += ["", "Not tried: a latent VAE (the denoiser's latent is a fixed PCA basis) and generating LoRA B with A "
              "fixed; end-to-end task-loss training of the diffusion denoiser itself (the task loss trains the head "
              "generator)."]
    return lines


def write_markdown(report, path):
    lines = ["# text2lora evaluation", "",
             f"Written by `evaluate.py` on {report['date']} ({report['seconds'] / 60:.1f} min on "
             f"{report['machine']}). Generator: `{report['generator']}`; zoo: `{report['zoo']}`; "
             f"{report['settings']['num_inference_steps']} sampler steps, guidance "
             f"{report['settings']['guidance_scale']}, "
             f"seed {report['settings']['seed']}. Balanced accuracy on each task's test split.", ""]
    if report.get("task_rows"):
        counts = report["task_rows"]
        lines += [f"Question 2/3 task rows, by part (`adapters`: every method but the head generator; `head`: the "
                  f"head generator): {', '.join(f'{k} {v}' for k, v in counts.items())}. Reused rows were computed "
                  f"by an earlier run with the same code, generator part, zoo and settings (`--work_dir`), so the time "
                  f"above covers the computed ones only.", ""]
    q1 = report.get("question_1")
    if q1:
        lines += ["## Question 1: one seen task", "",
                  f"Task `{q1['task']}`: {q1['num_checkpoints']} checkpoints (one per training step after the first "
                  f"epochs), a task-id-conditioned generator trained on them, {q1['num_generated']} samples.", "",
                  "| | mean | max | min |", "|---|---|---|---|",
                  f"| original checkpoints | {fmt(q1['original_mean'])} | {fmt(q1['original_max'])} | "
                  f"{fmt(q1['original_min'])} |",
                  f"| generated | {fmt(q1['generated_mean'])} | {fmt(q1['generated_max'])} | "
                  f"{fmt(q1['generated_min'])} |", "",
                  f"Distance (L2) from each generated adapter to its nearest original: "
                  f"{fmt(q1['generated_nearest_original_l2_mean'], 4)}; between an original and its nearest other "
                  f"original: {fmt(q1['original_nearest_original_l2_mean'], 4)}; between generated samples: "
                  f"{fmt(q1['generated_pairwise_l2_mean'], 4)}. Random weights with the checkpoints' per-element mean "
                  f"and std score {fmt(q1['gaussian_matched_noise_accuracy'])}.", ""]
    q2 = report.get("question_2")
    if q2:
        s = q2["summary"]
        lines += ["## Question 2: many seen tasks", "",
                  f"{len(q2['tasks'])} seen tasks ({_stride_text(report['settings'].get('q2_stride', 1))}), "
                  "generated from 2 held-out descriptions each (never seen in training) and from one training "
                  "description.", "",
                  "| | median | mean |", "|---|---|---|"]
        for k in ("fine_tuned", "generated", "generated_train_description", "ratio", "ratio_train_description",
                  "generated_unsnapped", "ratio_unsnapped", "hypernetwork", "ratio_hypernetwork", "retrieval",
                  "retrieval_snapped", "zero_shot", "zero_shot_label_free", "mean_adapter"):
            if k in s and s[k]["mean"] is not None:
                lines.append(f"| {k} | {fmt(s[k]['median'])} | {fmt(s[k]['mean'])} |")
        lines += ["", f"Target: median ratio generated / fine-tuned >= 0.99 (held-out descriptions): "
                  f"**{fmt(s['ratio']['median'])}** ({'met' if s['ratio']['median'] >= 0.99 else 'missed'}). "
                  + (f"Without snapping (`ratio_unsnapped`): {fmt(s['ratio_unsnapped']['median'])}. "
                     if s.get("ratio_unsnapped", {}).get("median") is not None else "") +
                  f"`hypernetwork` rows: the head generator (`method=\"hypernetwork\"`, {_head_lora_text(report)}), "
                  "shown for comparison; on seen tasks the diffusion generator is the one to use.", "",
                  *_snapping_text(q2.get("snapping")),
                  "Per family (means):", "",
                  "| family | tasks | fine-tuned | generated | ratio | retrieval | zero-shot |",
                  "|---|---|---|---|---|---|---|"]
        for fam, v in q2["per_family"].items():
            lines.append(f"| {fam} | {v['tasks']} | {fmt(v['fine_tuned'])} | {fmt(v['generated'])} | {fmt(v['ratio'])} "
                         f"| {fmt(v['retrieval'])} | {fmt(v['zero_shot'])} |")
        curves = q2.get("interpolation", [])
        if curves:
            lines += ["", "### Interpolation", "",
                      "Condition alpha*e(A) + (1-alpha)*e(B); accuracy on A and B (val split) against alpha: "
                      "`interpolation.png`.", "",
                      "| A | B | family | acc A at 0 / 0.5 / 1 | acc B at 0 / 0.5 / 1 | transition alpha "
                      "| largest step |",
                      "|---|---|---|---|---|---|---|"]
            for c in curves:
                mid = len(c["alphas"]) // 2
                lines.append(f"| {c['a']} | {c['b']} | {'same' if c['same_family'] else 'cross'} | "
                             f"{fmt(c['accuracy_a'][0], 2)} / {fmt(c['accuracy_a'][mid], 2)} / "
                             f"{fmt(c['accuracy_a'][-1], 2)} | {fmt(c['accuracy_b'][0], 2)} / "
                             f"{fmt(c['accuracy_b'][mid], 2)} / {fmt(c['accuracy_b'][-1], 2)} | "
                             f"{fmt(c['transition_alpha'], 1)} | {fmt(c['largest_step'], 2)} |")
    q3 = report.get("question_3")
    if q3:
        s = q3["summary"]
        lines += ["", "## Question 3: unseen tasks", "",
                  f"{len(q3['tasks'])} unseen tasks (the held-out family `{q3['unseen_family']}` and ~20% of every "
                  "other family), 3 held-out descriptions each. Fine-tuned adapters of unseen tasks were collected "
                  "for evaluation only; the generator never saw them.", ""]
        lines += _q3_answer(q3)
        lines += ["| method | mean | median |", "|---|---|---|"]
        for k in ("fine_tuned", "generated", "generated_best", "zero_shot", "zero_shot_label_free", "retrieval",
                  "retrieval_snapped", "mean_adapter",
                  "random_description", "mismatched_description", "gain_recovered", *HYPERNETWORK_KEYS):
            if k in s and s[k]["mean"] is not None:
                lines.append(f"| {k} | {fmt(s[k]['mean'])} | {fmt(s[k]['median'])} |")
        w = q3["wins"]
        if any(r.get("snapped_tasks") for r in q3["tasks"]):
            lines += ["", "`generated` (the diffusion generator) snaps each description to a seen task's anchor, so on "
                      "an unseen task it returns an adapter of the seen task the description is closest to, by design; "
                      "`retrieval_snapped` is that task's zoo adapter. New tasks are the head generator's job (below)."]
        lines += ["", f"Generated beats zero-shot on {w['vs_zero_shot']}/{len(q3['tasks'])} tasks, retrieval on "
                  f"{w['vs_retrieval']}/{len(q3['tasks'])}, the mean adapter on {w['vs_mean']}/{len(q3['tasks'])}. "
                  f"Random-description drop (generated − random): {fmt(q3['random_drop'])}.", "",
                  "Targets: unseen generated > zero-shot and > retrieval on average: "
                  f"**{'met' if q3['beats_zero_shot'] and q3['beats_retrieval'] else 'missed'}** "
                  f"(zero-shot {'beaten' if q3['beats_zero_shot'] else 'not beaten'}, retrieval "
                  f"{'beaten' if q3['beats_retrieval'] else 'not beaten'}); gain recovered >= 50% (stretch): "
                  f"**{fmt(s['gain_recovered']['mean'])}**.", ""]
        h = q3.get("hypernetwork")
        if h:
            hw = h["wins"]
            lines += ["**Head generator** (`method=\"hypernetwork\"`: description embedding -> classifier head on the "
                      f"frozen base, {_head_lora_text(report)}, trained with a task loss by `train_head.py` on "
                      f"{_head_tasks_text(report)}; "
                      f"no labels of the unseen task are used): mean **{fmt(s['hypernetwork']['mean'])}** against "
                      f"zero-shot {fmt(s['zero_shot']['mean'])} and retrieval {fmt(s['retrieval']['mean'])}. It beats "
                      f"zero-shot on {hw['vs_zero_shot']}/{len(q3['tasks'])} tasks, retrieval on "
                      f"{hw['vs_retrieval']}/{len(q3['tasks'])}, the diffusion generator on "
                      f"{hw['vs_generated']}/{len(q3['tasks'])}. Targets with it: zero-shot "
                      f"{'beaten' if h['beats_zero_shot'] else 'not beaten'}, retrieval "
                      f"{'beaten' if h['beats_retrieval'] else 'not beaten'}; mean margin over zero-shot "
                      f"{h['margin_vs_zero_shot']['mean']:+.3f} (95% bootstrap interval over tasks "
                      f"{h['margin_vs_zero_shot']['ci95'][0]:+.3f} to {h['margin_vs_zero_shot']['ci95'][1]:+.3f}); "
                      "gain recovered "
                      f"**{fmt(s['gain_recovered_hypernetwork']['mean'])}** (mean), "
                      f"{fmt(s['gain_recovered_hypernetwork']['median'])} (median); random-description drop "
                      f"{fmt(h['random_drop'])}. The `zero_shot` baseline picks its threshold on the task's "
                      "labelled val rows; both generators use no labels of the task. `zero_shot_label_free` uses one "
                      "threshold chosen on the training tasks' val rows, so it sees no label of the task either: "
                      f"{fmt(s['zero_shot_label_free']['mean'])}, "
                      f"{'beaten' if h['beats_zero_shot_label_free'] else 'not beaten'} by the head generator.", ""]
        lines += ["Per family (means):", "",
                  "| family | tasks | fine-tuned | generated | hypernetwork | zero-shot | zero-shot (label-free) | "
                  "retrieval | mean adapter | random desc |", "|---|---|---|---|---|---|---|---|---|---|"]
        for fam, v in q3["per_family"].items():
            lines.append(f"| {fam} | {v['tasks']} | {fmt(v['fine_tuned'])} | {fmt(v['generated'])} | "
                         f"{fmt(v.get('hypernetwork'))} | {fmt(v['zero_shot'])} | "
                         f"{fmt(v.get('zero_shot_label_free'))} | {fmt(v['retrieval'])} | "
                         f"{fmt(v['mean_adapter'])} | {fmt(v['random_description'])} |")
        lines += _tried_text(q3.get("tried"))
        lines += ["", "Per task:", "", "| task | family | fine-tuned (95% CI) | generated | hypernetwork | zero-shot | "
                  "retrieval (retrieved) | random | mismatched |", "|---|---|---|---|---|---|---|---|---|"]
        for r in q3["tasks"]:
            ci = r.get("fine_tuned_ci")
            lines.append(f"| {r['task']} | {r['family']} | {fmt(r['fine_tuned'])} ({fmt(ci[0], 2)}–{fmt(ci[1], 2)}) | "
                         f"{fmt(r['generated'])} | {fmt(r.get('hypernetwork'))} | {fmt(r['zero_shot'])} | "
                         f"{fmt(r['retrieval'])} ({r['retrieved_tasks'][0]}) | {fmt(r.get('random_description'))} | "
                         f"{fmt(r.get('mismatched_description'))} |")
    if q2:
        lines += ["", "## Question 2 per task", "", "| task | family | fine-tuned | generated (held-out) | ratio | "
                  "generated (train desc) | retrieval | zero-shot |", "|---|---|---|---|---|---|---|---|"]
        for r in q2["tasks"]:
            lines.append(f"| {r['task']} | {r['family']} | {fmt(r['fine_tuned'])} | {fmt(r['generated'])} | "
                         f"{fmt(r['ratio'])} | {fmt(r['generated_train_description'])} | {fmt(r['retrieval'])} | "
                         f"{fmt(r['zero_shot'])} |")
    with open(f"{path}.tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(f"{path}.tmp", path)


def update_generator_card(generator_dir, report):
    """Re-render the generator's card with the evaluation table and the controls (numbers from ``report``)."""
    from types import SimpleNamespace

    import train
    from text2lora.data.zoo import Zoo
    from text2lora.pipelines import Text2LoraPipeline

    with open(os.path.join(generator_dir, "training_info.json")) as f:
        info = json.load(f)
    # Write beside the generator, wherever it was trained (training_args.output_dir may be another folder).
    args = SimpleNamespace(**{**info["training_args"], "output_dir": generator_dir})
    table = []
    q2, q3 = report.get("question_2"), report.get("question_3")
    if q2:
        s = q2["summary"]
        table.append({"tasks": f"seen ({len(q2['tasks'])}), held-out descriptions",
                      "fine-tuned": fmt(s["fine_tuned"]["mean"]),
                      "generated": fmt(s["generated"]["mean"]), "median ratio": fmt(s["ratio"]["median"]),
                      "retrieval": fmt(s["retrieval"]["mean"]), "zero-shot": fmt(s["zero_shot"]["mean"])})
        if s.get("generated_unsnapped", {}).get("mean") is not None:
            table.append({"tasks": f"seen ({len(q2['tasks'])}), held-out descriptions, not snapped "
                                   "(snap_to_seen_tasks=False)",
                          "fine-tuned": fmt(s["fine_tuned"]["mean"]),
                          "generated": fmt(s["generated_unsnapped"]["mean"]),
                          "median ratio": fmt(s["ratio_unsnapped"]["median"]),
                          "retrieval": fmt(s["retrieval"]["mean"]), "zero-shot": fmt(s["zero_shot"]["mean"])})
    controls = {}
    if q3:
        s = q3["summary"]
        table.append({"tasks": f"unseen ({len(q3['tasks'])}), held-out descriptions",
                      "fine-tuned": fmt(s["fine_tuned"]["mean"]),
                      "generated": fmt(s["generated"]["mean"]), "median ratio": "–",
                      "retrieval": fmt(s["retrieval"]["mean"]), "zero-shot": fmt(s["zero_shot"]["mean"])})
        if s.get("hypernetwork", {}).get("mean") is not None:
            table.append({"tasks": f"unseen ({len(q3['tasks'])}), head generator (method=hypernetwork)",
                          "fine-tuned": fmt(s["fine_tuned"]["mean"]), "generated": fmt(s["hypernetwork"]["mean"]),
                          "median ratio": "–", "retrieval": fmt(s["retrieval"]["mean"]),
                          "zero-shot": fmt(s["zero_shot"]["mean"])})
        controls = {"random description (unseen tasks, mean)": fmt(s["random_description"]["mean"]),
                    "mismatched description (unseen tasks, mean)": fmt(s["mismatched_description"]["mean"]),
                    "aligned held-out description (unseen tasks, mean)": fmt(s["generated"]["mean"])}
    pipe = Text2LoraPipeline.from_pretrained(generator_dir)
    zoo = Zoo.load(args.zoo)
    train.write_generator_card(pipe, args, zoo, info["train_tasks"],
                               evaluation={"table": table, "controls": controls,
                                           "report": "reports/evaluation.md (balanced accuracy, test splits)"})


def main(argv=None):
    args = parse_args(argv)
    from text2lora.fileio import check_output_dir

    if not args.task_data:
        check_output_dir(args.output_dir)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    if args.task_data:
        return evaluate_custom(args)

    import datetime
    import platform

    from text2lora.data.tasks import list_tasks, suite_info
    from text2lora.data.zoo import Zoo
    from text2lora.evaluation import Evaluator

    os.makedirs(args.output_dir, exist_ok=True)
    start = time.perf_counter()
    zoo = Zoo.load(args.zoo)
    report = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores",
              "generator": args.generator or "text2lora/data/generator (shipped)", "zoo": args.zoo,
              "settings": {"num_inference_steps": args.num_inference_steps, "guidance_scale": args.guidance_scale,
                           "seed": args.seed, "num_samples": args.num_samples, "max_tasks": args.max_tasks,
                           "q2_stride": args.q2_stride}}
    report_path = os.path.join(args.output_dir, "evaluation.json")
    if os.path.exists(report_path):  # keep answers to questions not re-run now
        with open(report_path) as f:
            previous = json.load(f)
        for key in ("question_1", "question_2", "question_3"):
            if key in previous and int(key[-1]) not in args.questions:
                report[key] = previous[key]
    if 1 in args.questions:
        report["question_1"] = question_1(args, zoo.spec)
        print(f"Q1: original mean {report['question_1']['original_mean']:.3f}, generated mean "
              f"{report['question_1']['generated_mean']:.3f}")
    if 2 in args.questions or 3 in args.questions:
        pipe = load_pipeline(args.generator)
        with open(os.path.join(pipe.config._name_or_path, "training_info.json")) as f:
            train_tasks = json.load(f)["train_tasks"]
        evaluator = Evaluator(zoo, pipe, train_tasks=train_tasks, seed=args.seed,
                              num_inference_steps=args.num_inference_steps, guidance_scale=args.guidance_scale)
        rows_dirs = {part: os.path.join(args.work_dir, "rows", part,
                                        result_fingerprint(args, pipe.config._name_or_path, part))
                     for part in ("adapters", "head")}
        row_stats = collections.Counter()
        if evaluator.has_hypernetwork:
            head_config = pipe.head_generator.config
            report["head_generator"] = {"feature_lora": bool(head_config.feature_lora_keys)}
            info_path = os.path.join(pipe.config._name_or_path, "head_training_info.json")
            if os.path.exists(info_path):
                with open(info_path) as f:
                    info = json.load(f)
                report["head_generator"].update(train_tasks=len(info.get("train_tasks", [])),
                                                auxiliary_tasks=len(info.get("auxiliary_tasks", [])))
        keys2 = ["fine_tuned", "generated", "generated_train_description", "ratio", "ratio_train_description",
                 "generated_unsnapped", "ratio_unsnapped", "hypernetwork", "ratio_hypernetwork", "retrieval",
                 "retrieval_snapped", "zero_shot", "zero_shot_label_free", "mean_adapter"]
        if 2 in args.questions:
            seen = [t for t in list_tasks(split="seen") if t in set(train_tasks)][:: args.q2_stride][: args.max_tasks]
            rows = question_2(evaluator, seen, args, rows_dirs, row_stats)
            alphas = [round(a, 2) for a in np.linspace(0, 1, 11)]
            pairs = [p for p in INTERPOLATION_PAIRS if p[0] in train_tasks and p[1] in train_tasks]
            curves = interpolation(evaluator, pairs, alphas)
            report["question_2"] = {"summary": summarize(rows, keys2), "per_family": per_family(rows, keys2),
                                    "snapping": snapping_summary(rows), "tasks": rows, "interpolation": curves}
            plot_interpolation(curves, os.path.join(args.output_dir, "interpolation.png"))
            print(f"Q2: median ratio {report['question_2']['summary']['ratio']['median']:.3f}")
        if 3 in args.questions:
            unseen = [t for t in list_tasks(split="unseen") if t in set(zoo.task_names())][: args.max_tasks]
            rows = question_3(evaluator, unseen, args, rows_dirs, row_stats)
            keys3 = ["fine_tuned", "generated", "generated_best", "zero_shot", "zero_shot_label_free", "retrieval",
                     "retrieval_snapped", "mean_adapter",
                     "random_description", "mismatched_description", "gain_recovered", *HYPERNETWORK_KEYS]
            s = summarize(rows, keys3)
            report["question_3"] = {
                "unseen_family": suite_info()["unseen_family"], "summary": s, "per_family": per_family(rows, keys3),
                "tasks": rows, **targets(rows, s, "generated", "random_description", ["mean_adapter"]),
            }
            if evaluator.has_hypernetwork:
                report["question_3"]["hypernetwork"] = targets(rows, s, "hypernetwork",
                                                               "hypernetwork_random_description", ["generated"])
            if evaluator.has_hypernetwork:
                print(f"Q3: hypernetwork {s['hypernetwork']['mean']:.3f}")
            print(f"Q3: generated {s['generated']['mean']:.3f} zero-shot {s['zero_shot']['mean']:.3f} (label-free "
                  f"{s['zero_shot_label_free']['mean']:.3f}) retrieval "
                  f"{s['retrieval']['mean']:.3f} mean {s['mean_adapter']['mean']:.3f} random "
                  f"{s['random_description']['mean']:.3f}")
        if 3 in args.questions:
            report["question_3"]["tried"] = tried_for_unseen(os.path.join(args.output_dir, "ablations"))
        plot_adapter_map(zoo, evaluator.generated_log, os.path.join(args.output_dir, "adapter_map.png"))
        report["task_rows"] = dict(sorted(row_stats.items()))
    report["seconds"] = time.perf_counter() - start
    write_json(report_path, report)
    if args.update_card and (2 in args.questions or 3 in args.questions):
        update_generator_card(pipe.config._name_or_path, report)
    write_markdown(report, os.path.join(args.output_dir, "evaluation.md"))
    print(f"wrote {report_path} and {os.path.join(args.output_dir, 'evaluation.md')}")
    return report


if __name__ == "__main__":
    from text2lora.cli import run_cli

    run_cli(main)
