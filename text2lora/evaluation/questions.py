"""The paper's three questions, and the summaries the report states.

Question 1 (one seen task): collect many checkpoints of one task, train a task-id generator on them, and compare
generated adapters with the originals. Question 2 (many seen tasks): generated / fine-tuned per seen task from held-out
descriptions, and interpolation of the condition between task pairs. Question 3 (unseen tasks): generated against
zero-shot, retrieval and the mean adapter; gain recovered; controls; what was tried for unseen tasks.

Tasks are loaded through ``text2lora.data.tasks.load_task`` at call time (tests swap it for their tiny tasks).
"""

import json
import os
import time

import numpy as np
import torch

from ..data import tasks as suite
from .metrics import gain_recovered, mean, mean_interval, median
from .rows import resumable_rows

INTERPOLATION_PAIRS = [  # (A, B), all seen tasks: 6 within a family, 6 across families
    ("carer_emotion_joy", "carer_emotion_sadness"), ("subj_subjective", "subj_objective"),
    ("trec_location", "trec_numeric"), ("agnews_sports", "agnews_world"),
    ("tweet_sentiment_positive", "tweet_sentiment_negative"), ("sst5_very_positive", "sst5_very_negative"),
    ("carer_emotion_anger", "trec_location"), ("clickbait_clickbait", "stackoverflow_haskell"),
    ("cola_acceptable", "dbpedia_film"), ("agnews_sports", "carer_emotion_joy"),
    ("subj_objective", "clinc_flight_status"), ("sst2_negative", "agnews_sci_tech"),
]
INTERPOLATION_ALPHAS = [round(a, 2) for a in np.linspace(0, 1, 11)]
HYPERNETWORK_KEYS = ["hypernetwork", "hypernetwork_random_description", "hypernetwork_mismatched_description",
                     "gain_recovered_hypernetwork"]
AUTO_KEYS = ["auto", "auto_random_description", "auto_mismatched_description", "gain_recovered_auto",
             "auto_to_diffusion"]
Q2_KEYS = ["fine_tuned", "generated", "generated_train_description", "ratio", "ratio_train_description",
           "generated_unsnapped", "ratio_unsnapped", "hypernetwork", "ratio_hypernetwork", "auto", "ratio_auto",
           "auto_to_diffusion", "retrieval",
           "retrieval_snapped", "zero_shot", "zero_shot_label_free", "mean_adapter"]
MULTITASK_KEYS = ["multitask", "multitask_random_description", "multitask_mismatched_description",
                  "gain_recovered_multitask"]
Q3_KEYS = ["fine_tuned", "generated", "generated_best", "zero_shot", "zero_shot_label_free", "retrieval",
           "retrieval_snapped", "top_k_merge", "mean_adapter", "random_description", "mismatched_description",
           "gain_recovered", *HYPERNETWORK_KEYS, *MULTITASK_KEYS, *AUTO_KEYS]
TRIED_FOR_UNSEEN_FILE = "tried_for_unseen.json"


# -- question 1 ---------------------------------------------------------------------------------------------------
def train_task_id_generator(zoo_dir, output_dir, max_train_steps, seed):
    """A generator conditioned on task ids (no descriptions), trained on every adapter of ``zoo_dir``, with EMA."""
    from ..training.denoiser_training import DenoiserTrainingArguments, train_denoiser

    return train_denoiser(DenoiserTrainingArguments(
        zoo=zoo_dir, output_dir=output_dir, condition_type="task_id", train_split="all",
        max_train_steps=max_train_steps, checkpointing_steps=100000, validation_tasks=[], seed=seed,
        train_batch_size=32, use_ema=True))


def question_1(args, zoo_spec):
    """One seen task (``args.q1_task``): ``args.q1_checkpoints`` checkpoints, a task-id generator trained on them
    (``args.q1_train_steps``), ``args.q1_samples`` generated adapters against the originals. Checkpoints and generator
    are kept under ``args.work_dir`` (a rerun reuses them)."""
    from ..adapters import AdapterScorer
    from ..data.zoo import Zoo, write_index
    from ..pipelines import load_generator
    from ..training.collection import TrainingSettings, ZooCollector

    task = suite.load_task(args.q1_task)
    zoo_dir = os.path.join(args.work_dir, "q1_zoo")
    settings = TrainingSettings(num_checkpoints=args.q1_checkpoints, checkpoint_interval=1,
                                extra_steps=args.q1_checkpoints)
    start = time.perf_counter()
    ZooCollector(zoo_dir, zoo_spec, settings, embedder=None).collect([task], progress=False)
    write_index(zoo_dir)
    collect_seconds = time.perf_counter() - start
    gen_dir = os.path.join(args.work_dir, "q1_generator")
    if not os.path.exists(os.path.join(gen_dir, "model_index.json")):
        train_task_id_generator(zoo_dir, gen_dir, args.q1_train_steps, args.seed)
    pipe = load_generator(gen_dir)
    originals = Zoo.load(zoo_dir)
    out = pipe([0], num_inference_steps=args.num_inference_steps, num_adapters_per_prompt=args.q1_samples,
               generator=torch.Generator().manual_seed(args.seed), output_type="vector")
    scorer = AdapterScorer(zoo_spec)
    gen_acc = [scorer.score(originals.layout.unflatten(v), task) for v in out.vectors]
    orig_acc = [r["test_accuracy"] for r in originals.rows]
    d_gen = torch.cdist(out.vectors, originals.vectors)  # (samples, originals)
    d_orig = torch.cdist(originals.vectors, originals.vectors)
    d_orig.fill_diagonal_(float("inf"))
    noise = originals.vectors.mean(0) + originals.vectors.std(0) * torch.randn(
        originals.layout.num_params, generator=torch.Generator().manual_seed(1))
    return {
        "task": task.name, "num_checkpoints": len(originals), "collect_seconds": collect_seconds,
        "original_mean": mean(orig_acc), "original_max": float(max(orig_acc)), "original_min": float(min(orig_acc)),
        "generated_mean": mean(gen_acc), "generated_max": float(max(gen_acc)), "generated_min": float(min(gen_acc)),
        "generated_std": float(np.std(gen_acc)), "num_generated": len(gen_acc),
        "generated_nearest_original_l2_mean": float(d_gen.min(1).values.mean()),
        "original_nearest_original_l2_mean": float(d_orig.min(1).values.mean()),
        "generated_pairwise_l2_mean": float(torch.pdist(out.vectors).mean()) if len(out.vectors) > 1 else None,
        "gaussian_matched_noise_accuracy": scorer.score(originals.layout.unflatten(noise), task),
    }


# -- questions 2 and 3 --------------------------------------------------------------------------------------------
def _row_parts(evaluator, cache_dirs, question, adapters, head, multitask=None):
    """(part, cache_dir, compute) of a question's rows: the adapters part, the head generator's if it has one, and the
    multi-task baseline's if the evaluator has one (and ``multitask`` is given)."""
    parts = [("adapters", os.path.join(cache_dirs["adapters"], question), adapters)]
    if evaluator.has_hypernetwork:
        parts.append(("head", os.path.join(cache_dirs["head"], question), head))
    if multitask is not None and evaluator.multitask_pipeline is not None:
        parts.append(("multitask", os.path.join(cache_dirs["multitask"], question), multitask))
    return parts


def question_2(evaluator, tasks, num_samples, cache_dirs, stats=None):
    """Seen tasks, from their first 2 held-out descriptions (and one training description): one row per task."""

    def adapters(name):
        task = suite.load_task(name)
        r = evaluator.evaluate_task(task, task.heldout_descriptions[:2], num_samples=num_samples, include_head=False)
        train_desc = evaluator.generate_vectors([task.descriptions[0]])
        r["generated_train_description"] = evaluator.score_vector(train_desc[0], task)
        r["ratio"] = r["generated"] / r["fine_tuned"]
        r["ratio_train_description"] = r["generated_train_description"] / r["fine_tuned"]
        if "snapped_tasks" in r:  # the same descriptions and seed, conditioned on their own embeddings
            raw = evaluator.generate_vectors(task.heldout_descriptions[:2], num_samples=num_samples,
                                             snap_to_seen_tasks=False)
            r["generated_unsnapped"] = float(np.mean([evaluator.score_vector(v, task) for v in raw]))
            r["ratio_unsnapped"] = r["generated_unsnapped"] / r["fine_tuned"]
        return r

    def head(name):
        task = suite.load_task(name)
        return evaluator.evaluate_head(task, task.heldout_descriptions[:2])

    def finish(r):
        if "hypernetwork" in r:
            r["ratio_hypernetwork"] = r["hypernetwork"] / r["fine_tuned"]
        r.update(auto_keys(evaluator, r))
        if "auto" in r:
            r["ratio_auto"] = r["auto"] / r["fine_tuned"]
        return r

    parts = _row_parts(evaluator, cache_dirs, "question_2", adapters, head)
    return resumable_rows(tasks, parts, evaluator, "Q2 seen tasks", finish, stats)


def interpolate_conditions(a, b, alphas):
    """Conditions alpha * a + (1 - alpha) * b for each alpha (alpha=1 gives a, alpha=0 gives b)."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return torch.stack([float(alpha) * a + (1.0 - float(alpha)) * b for alpha in alphas])


def interpolation(evaluator, pairs, alphas=INTERPOLATION_ALPHAS):
    """For each task pair (A, B): val accuracy on A and on B of adapters generated along the condition path from B's
    first description embedding (alpha 0) to A's (alpha 1). Pairs with an unknown task are skipped."""
    from ..embedding import embed

    curves = []
    for a_name, b_name in pairs:
        try:
            a, b = suite.load_task(a_name), suite.load_task(b_name)
        except ValueError:
            continue
        ea, eb = (torch.from_numpy(embed([t.descriptions[0]], evaluator.embedder))[0] for t in (a, b))
        vectors = evaluator.generate_vectors(None, condition=interpolate_conditions(ea, eb, alphas))
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


def question_3(evaluator, tasks, num_samples, cache_dirs, stats=None, question="question_3"):
    """Unseen tasks, from all their held-out descriptions, with the random and mismatched controls and a bootstrap
    interval of the fine-tuned accuracy: one row per task (sorted by name). ``question`` names the part (its rows'
    cache folder): "question_3" (new labels of seen datasets) or "question_3_new_datasets"."""
    all_tasks = {n: suite.load_task(n) for n in tasks}
    names = sorted(all_tasks)

    def mismatched(name):
        """The next unseen task (by name) from another family: its first held-out description is the control."""
        i, task = names.index(name), all_tasks[name]
        return next((all_tasks[n] for n in names[i + 1:] + names[:i] if all_tasks[n].family != task.family), None)

    def adapters(name):
        task, other = all_tasks[name], mismatched(name)
        r = evaluator.evaluate_task(task, task.heldout_descriptions, num_samples=num_samples, controls=True,
                                    mismatched_description=other.heldout_descriptions[0] if other else None, ci=True,
                                    include_head=False)
        r["gain_recovered"] = _gain(r)
        r["mismatched_with"] = other.name if other else None
        return r

    def head(name):
        task, other = all_tasks[name], mismatched(name)
        return evaluator.evaluate_head(task, task.heldout_descriptions, controls=True,
                                       mismatched_description=other.heldout_descriptions[0] if other else None)

    def multitask(name):
        task, other = all_tasks[name], mismatched(name)
        return evaluator.evaluate_multitask(task, task.heldout_descriptions, controls=True,
                                            mismatched_description=other.heldout_descriptions[0] if other else None)

    def finish(r):
        r.update(auto_keys(evaluator, r, all_tasks[r["task"]]))
        for key in ("hypernetwork", "multitask", "auto"):
            if key in r:
                r[f"gain_recovered_{key}"] = _gain(r, key)
        return r

    parts = _row_parts(evaluator, cache_dirs, question, adapters, head, multitask)
    return resumable_rows(names, parts, evaluator, question.replace("_", " "), finish, stats)


def auto_keys(evaluator, r, task=None):
    """The default path's keys (``method="auto"``) of a row, from its diffusion and head-generator scores: each
    description scores what the method it is routed to scored. This is exact: "auto" denoises every description of
    a call and keeps the denoiser's adapter where it routes to it, so with the same descriptions and seed its adapters
    are those of ``method="diffusion"`` or ``"hypernetwork"``. With ``task``, the controls too (the random text and
    the mismatched description, routed the same way). Empty when the generator does not route."""
    if not evaluator.can_route or "hypernetwork_per_description" not in r:
        return {}
    use_diffusion, similarity = evaluator.routes(r["descriptions"])
    scores = [g if d else h for g, h, d in zip(r["generated_per_description"], r["hypernetwork_per_description"],
                                                use_diffusion)]
    out = {"auto_per_description": scores, "auto": float(np.mean(scores)),
           "auto_to_diffusion": float(np.mean(use_diffusion)), "auto_nearest_similarity": similarity}
    if task is not None:
        controls = {"random_description": evaluator.random_text(task)}
        if r.get("mismatched_with"):
            controls["mismatched_description"] = suite.load_task(r["mismatched_with"]).heldout_descriptions[0]
        for key, text in controls.items():
            if key in r and f"hypernetwork_{key}" in r:
                (routed,), _ = evaluator.routes([text])
                out[f"auto_{key}"] = r[key] if routed else r[f"hypernetwork_{key}"]
    return out


SENTIMENT_CHECK = ("classify sentiment", "airline_positive")  # the user check: (description, task)


def sentiment_check(evaluator, description=SENTIMENT_CHECK[0], task_name=SENTIMENT_CHECK[1]):
    """A user's first try on a held-out dataset: the adapter each method writes for a generic sentiment description,
    scored on the held-out sentiment dataset's positive-vs-rest task (test split), next to zero-shot. None when the
    suite's held-out datasets have no such task."""
    if task_name not in suite.list_tasks(split="unseen_dataset"):
        return None
    task = suite.load_task(task_name)
    out = {"description": description, "task": task_name, "split": task.split,
           "zero_shot": evaluator.zero_shot(task, description)[0],
           "zero_shot_label_free": evaluator.zero_shot_label_free(task, description),
           "fine_tuned": evaluator.score_zoo_adapter(task_name, task) if task_name in evaluator.zoo.task_names()
           else None}
    methods = ["diffusion"] + (["hypernetwork"] if evaluator.has_hypernetwork else []) + (
        ["auto"] if evaluator.can_route else [])
    for method in methods:
        output = evaluator.generate_vectors([description], method=method, return_output=True)
        out[method] = evaluator.score_vector(output.vectors[0], task)
        if method == "auto":
            out["auto_method"] = output.methods[0]
    return out


def _gain(r, key="generated"):
    return gain_recovered(r[key], r["zero_shot"], r["fine_tuned"])


# -- summaries ----------------------------------------------------------------------------------------------------
def summarize(rows, keys):
    """{key: {"mean", "median"}} over rows (missing values skipped)."""
    return {k: {"mean": mean([r.get(k) for r in rows]), "median": median([r.get(k) for r in rows])} for k in keys}


def per_family(rows, keys):
    """{family: {"tasks": n, key: mean}}, families sorted by name."""
    fams = {}
    for r in rows:
        fams.setdefault(r["family"], []).append(r)
    return {f: {"tasks": len(v), **{k: mean([r.get(k) for r in v]) for k in keys}} for f, v in sorted(fams.items())}


def targets(rows, summary, key, random_key, others):
    """Wins of method ``key`` per task against zero-shot, retrieval and ``others``; the mean margin over zero-shot
    with its 95% bootstrap interval over tasks; the question-3 target checks."""
    wins = {f"vs_{other.replace('_adapter', '')}": sum(r[key] > r[other] for r in rows if other in r)
            for other in ["zero_shot", "retrieval", *others]}
    diffs = np.asarray([r[key] - r["zero_shot"] for r in rows], dtype=float)
    margin = {"mean": float(diffs.mean()) if len(diffs) else None, "ci95": mean_interval(diffs, n=10000, seed=0)}
    pooled = None
    if summary["fine_tuned"]["mean"] != summary["zero_shot"]["mean"]:
        pooled = (summary[key]["mean"] - summary["zero_shot"]["mean"]) / (
            summary["fine_tuned"]["mean"] - summary["zero_shot"]["mean"])
    return {"wins": wins, "margin_vs_zero_shot": margin, "gain_recovered_of_means": pooled,
            "beats_zero_shot": summary[key]["mean"] > summary["zero_shot"]["mean"],
            "beats_zero_shot_label_free": summary[key]["mean"] > summary["zero_shot_label_free"]["mean"],
            "beats_retrieval": summary[key]["mean"] > summary["retrieval"]["mean"],
            "beats_multitask": (summary[key]["mean"] > summary["multitask"]["mean"]
                                if key != "multitask" and summary.get("multitask", {}).get("mean") is not None
                                else None),
            "random_drop": summary[key]["mean"] - summary[random_key]["mean"]}


def snapping_summary(rows):
    """How often the diffusion generator's condition snapping matched a description to its own task (question 2); None
    when the generator does not snap."""
    matched = [t == r["task"] for r in rows for t in r.get("snapped_tasks") or []]
    if not matched:
        return None
    return {"descriptions": len(matched), "matched_own_task": int(sum(matched)),
            "accuracy": float(np.mean(matched))}


# -- what was tried for unseen tasks ------------------------------------------------------------------------------
def _dig(doc, keys):
    for key in keys:
        doc = doc[key]
    return doc


def _routing(path):
    """The routing diagnosis of ``routing_tradeoff.json``: can one threshold on the anchor cosine serve both?"""
    with open(path) as f:
        summary = json.load(f)["summary"]
    keeping_seen = [r for r in summary["thresholds"] if r["seen_median_ratio"] >= 0.99]
    return {"any_threshold_meets_both": summary["any_threshold_meets_both"],
            "best_unseen_with_seen_ratio_0.99": max((r["unseen_mean"] for r in keeping_seen), default=None),
            "zero_shot_unseen_mean": summary["zero_shot_unseen_mean"],
            "seen_median_ratio_all_head": summary["thresholds"][-1]["seen_median_ratio"]}


def tried_for_unseen(folder):
    """What was tried for unseen tasks, from the ablation reports in ``folder``: the attempts listed in its
    ``tried_for_unseen.json`` (lever, attempt, measure, file and keys to the value, reference file and keys) whose two
    files exist, each with value, reference and change; and the routing diagnosis of ``routing_tradeoff.json`` (None
    when missing)."""
    path = os.path.join(folder, TRIED_FOR_UNSEEN_FILE)
    attempts = []
    if os.path.exists(path):
        with open(path) as f:
            attempts = json.load(f)
    rows = []
    for a in attempts:
        value_path, ref_path = os.path.join(folder, a["file"]), os.path.join(folder, a["reference_file"])
        if not (os.path.exists(value_path) and os.path.exists(ref_path)):
            continue
        with open(value_path) as f, open(ref_path) as g:
            value, reference = float(_dig(json.load(f), a["keys"])), float(_dig(json.load(g), a["reference_keys"]))
        rows.append({"lever": a["lever"], "attempt": a["attempt"], "measure": a["measure"], "value": value,
                     "reference": reference, "change": value - reference, "source": a["file"],
                     "reference_source": a["reference_file"]})
    routing_path = os.path.join(folder, "routing_tradeoff.json")
    return {"attempts": rows, "routing": _routing(routing_path) if os.path.exists(routing_path) else None}
