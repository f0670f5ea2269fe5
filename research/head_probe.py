"""Feature-space probe of the head generator on unseen tasks: where does it lose to the zero-shot baseline?

    PYTHONPATH=. python research/head_probe.py --name default --output reports/ablations/head_probe_default.json

Trains :class:`~text2lora.models.HeadHypernetwork` with the shipped loop (``train_head_hypernetwork``) on cached
frozen-base features, then scores every unseen task's test split with its 3 held-out descriptions:

- ``head``: the generated head as written into adapters (its own bias, no label of the task);
- ``head_on_val``: the same head on the unseen tasks' val split (the split to select settings on);
- ``head_val_threshold``: the same direction with the threshold picked on the task's labelled val rows, which
  separates direction quality from bias quality;
- ``zero_shot``: cosine(text, description) with the val-tuned threshold (evaluate.py's baseline), on the exact
  mean-pooled sentence embedding;
- ``zero_shot_projected``: the same on the projected classifier features P(f(x)) that the head reads, which measures
  what the projection loses;
- ``zero_shot_label_free``: the exact cosine with one threshold chosen on the seen tasks' val rows.

``--features mean`` trains and scores the head on the exact sentence embedding instead of P(f(x)), an upper bound for
a better feature map. The first run computes the base features (about 7 min on the 2-core CPU) into
``--feature_cache``; a variant then takes about a minute. A research tool: the numbers to quote come from evaluate.py.
"""

import argparse
import json
import os
import time

import numpy as np
import torch


def probe_plan(auxiliary=False):
    """(task, split, rows per label or None for all) of every row the probe reads: the suite's, or the auxiliary
    tasks' training rows."""
    from text2lora.data.tasks import list_tasks

    if auxiliary:
        return [(n, "train", 128) for n in list_tasks(split="auxiliary")]
    plan = [(n, "train", 128) for n in list_tasks(split="seen")] + [(n, "val", 32) for n in list_tasks(split="seen")]
    return plan + [(n, split, None) for n in list_tasks(split="unseen") for split in ("val", "test")]


def build_features(path, plan, seed=0, lora_state=None):
    """The classifier's input (with the LoRA weights ``lora_state``, or none) and the embedder's sentence embedding
    of every row in ``plan``."""
    from text2lora.adapters import AdapterSpec
    from text2lora.data.tasks import load_task
    from text2lora.embedding import embed, pair_text
    from text2lora.training.head_training import balanced_rows, classifier_features

    keys, key_index, rows = [], {}, {}
    for name, split, per_class in plan:
        task = load_task(name)
        texts, pairs = task.texts(split)
        labels = task.labels(split)
        idx = range(len(labels)) if per_class is None else balanced_rows(labels, per_class, seed)
        ids = []
        for i in idx:
            key = (texts[i], pairs[i] if pairs is not None else None)
            ids.append(key_index.setdefault(key, len(keys)))
            if ids[-1] == len(keys):
                keys.append(key)
        rows[(name, split)] = (np.array(ids), np.array([labels[i] for i in idx]))
    texts, pairs = [k[0] for k in keys], [k[1] for k in keys]
    pool = classifier_features(AdapterSpec(), texts, pairs, lora_state=lora_state)
    mean = torch.from_numpy(embed(pair_text(texts, pairs)))
    torch.save({"pool": pool, "mean": mean, "rows": rows}, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)


def load_probe_features(feature_cache, feature_lora=None, auxiliary_tasks=False):
    """The probe's cached rows: (rows {(task, split): (feature row ids, labels)}, sentence embeddings, classifier
    features, training task names). Computed on first use (about 7 min on the 2-core CPU), with the feature LoRA of
    the generator directory ``feature_lora`` (cached per generator); ``auxiliary_tasks`` adds those tasks' rows."""
    from text2lora.data.tasks import list_tasks
    from text2lora.models import HeadHypernetwork

    lora_state = None
    if feature_lora:
        lora_state = HeadHypernetwork.from_pretrained(os.path.join(feature_lora, "head_generator"))
        lora_state = {k: v.clone() for k, v in lora_state.feature_lora_state().items()}
        if not lora_state:
            raise ValueError(f"'{feature_lora}' has no feature LoRA.")
        tag = os.path.basename(os.path.normpath(feature_lora))
        feature_cache = feature_cache.replace(".pt", f"_lora_{tag}.pt")
    if not os.path.exists(feature_cache):
        os.makedirs(os.path.dirname(os.path.abspath(feature_cache)), exist_ok=True)
        build_features(feature_cache, probe_plan(), lora_state=lora_state)
    cache = torch.load(feature_cache, weights_only=False)
    rows, mean, pool = cache["rows"], cache["mean"], cache["pool"]
    training = list(list_tasks(split="seen"))
    if auxiliary_tasks:
        aux_path = feature_cache.replace(".pt", "_auxiliary.pt")
        if not os.path.exists(aux_path):
            build_features(aux_path, probe_plan(auxiliary=True), lora_state=lora_state)
        aux = torch.load(aux_path, weights_only=False)
        rows.update({k: (v[0] + len(mean), v[1]) for k, v in aux["rows"].items()})
        mean, pool = torch.cat([mean, aux["mean"]]), torch.cat([pool, aux["pool"]])
        training += list_tasks(split="auxiliary")
    return rows, mean, pool, training


def fit_head_projection(model, rows, mean, pool, training):
    """Fit ``model.projection`` (a :class:`~text2lora.models.HeadHypernetwork`) on the training tasks' texts only, as
    train_head.py does. Returns (every row's projected features, R^2 of the fit, the training rows' ids)."""
    from text2lora.training.head_training import fit_projection

    fit_rows = np.unique(np.concatenate([rows[(n, "train")][0] for n in training]))
    projection, r2 = fit_projection(pool[fit_rows], mean[fit_rows])
    model.projection.copy_(projection)
    return model.project(pool).detach(), r2, fit_rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feature_cache", default="runs/probe/features.pt")
    p.add_argument("--features", default="projected", choices=["projected", "mean"])
    p.add_argument("--auxiliary_tasks", action="store_true",
                   help="Also train on the suite's auxiliary tasks (their features are cached beside --feature_cache).")
    p.add_argument("--feature_lora", default=None,
                   help="A generator directory whose head generator has a feature LoRA (train_head.py "
                        "--feature_lora_steps): features are computed with it (cached beside --feature_cache, per "
                        "generator).")
    p.add_argument("--max_train_steps", type=int, default=3000)
    p.add_argument("--condition_noise", type=float, default=0.5)
    p.add_argument("--weight_decay", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default=None)
    p.add_argument("--output", default=None, help="JSON with the summary, per family and per task.")
    args = p.parse_args(argv)

    from text2lora.data.tasks import list_tasks, load_task
    from text2lora.embedding import embed
    from text2lora.evaluation.metrics import balanced_accuracy, best_threshold
    from text2lora.models import HeadHypernetwork
    from text2lora.training.head_training import train_head_hypernetwork

    start = time.perf_counter()
    rows, mean, pool, training = load_probe_features(args.feature_cache, args.feature_lora, args.auxiliary_tasks)
    seen, unseen = list_tasks(split="seen"), list_tasks(split="unseen")
    tasks = {n: load_task(n) for n in training + unseen}
    model = HeadHypernetwork(embedding_dim=mean.shape[1], feature_dim=pool.shape[1])
    projected, r2, _ = fit_head_projection(model, rows, mean, pool, training)
    features = projected if args.features == "projected" else mean
    train_head_hypernetwork(model, features, {n: rows[(n, "train")] for n in training},
                            {n: embed(tasks[n].descriptions) for n in training}, max_train_steps=args.max_train_steps,
                            weight_decay=args.weight_decay, condition_noise=args.condition_noise, seed=args.seed)
    first = embed([tasks[n].descriptions[0] for n in seen])
    global_threshold = best_threshold(np.concatenate([(mean[rows[(n, "val")][0]] @ torch.from_numpy(d)).numpy()
                                                      for n, d in zip(seen, first)]),
                                      np.concatenate([rows[(n, "val")][1] for n in seen]))

    def val_tuned(val_scores, val_labels, test_scores, test_labels):
        return balanced_accuracy(test_labels, test_scores >= best_threshold(val_scores, val_labels))

    per_task = []
    with torch.no_grad():
        for name in unseen:
            (vi, vy), (ti, ty) = rows[(name, "val")], rows[(name, "test")]
            conditions = torch.from_numpy(embed(tasks[name].heldout_descriptions))
            w, b = model(conditions)
            scores = {k: [] for k in ("head", "head_on_val", "head_val_threshold", "zero_shot",
                                      "zero_shot_projected", "zero_shot_label_free")}
            for j, d in enumerate(conditions):
                head_test, head_val = (features[ti] @ w[j] + b[j]).numpy(), (features[vi] @ w[j] + b[j]).numpy()
                scores["head"].append(balanced_accuracy(ty, head_test > 0))
                scores["head_on_val"].append(balanced_accuracy(vy, head_val > 0))
                scores["head_val_threshold"].append(val_tuned(head_val, vy, head_test, ty))
                scores["zero_shot"].append(val_tuned((mean[vi] @ d).numpy(), vy, (mean[ti] @ d).numpy(), ty))
                scores["zero_shot_projected"].append(val_tuned((projected[vi] @ d).numpy(), vy,
                                                               (projected[ti] @ d).numpy(), ty))
                scores["zero_shot_label_free"].append(balanced_accuracy(ty, (mean[ti] @ d).numpy() >= global_threshold))
            per_task.append({"task": name, "family": tasks[name].family,
                             **{k: float(np.mean(v)) for k, v in scores.items()}})
    keys = [k for k in per_task[0] if k not in ("task", "family")]
    summary = {"name": args.name, "settings": {k: v for k, v in vars(args).items() if k not in ("output", "name")},
               "projection_r2": r2, "unseen_tasks": len(per_task),
               **{k: float(np.mean([r[k] for r in per_task])) for k in keys},
               "seconds": time.perf_counter() - start}
    families = sorted({r["family"] for r in per_task})
    by_family = {f: {k: float(np.mean([r[k] for r in per_task if r["family"] == f])) for k in keys} for f in families}
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(f"{args.output}.tmp", "w") as f:
            json.dump({"summary": summary, "per_family": by_family, "tasks": per_task}, f, indent=1)
        os.replace(f"{args.output}.tmp", args.output)
    return summary


if __name__ == "__main__":
    main()
