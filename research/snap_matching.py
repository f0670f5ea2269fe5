"""How well do descriptions find their own seen task? The choice behind condition snapping (no generation, ~1 min).

    PYTHONPATH=. python research/snap_matching.py --output reports/ablations/snap_matching.json

Two matchers, as ``snap_to_seen_tasks`` could use them: the task of the nearest single training description, and the
task of the nearest anchor (the normalized mean of a task's training-description embeddings; what the pipeline
uses). Selection uses training descriptions only: 5-fold cross-validation within each task's training descriptions
(anchors and the description index are rebuilt from the other folds). The held-out descriptions' accuracy is a
diagnosis (questions 2 and 3 of evaluate.py condition on the first 2 of them; the third is never evaluated there).
"""

import argparse
import json
import os
import sys

import numpy as np


def match(queries, vectors, owners, num_tasks):
    """(nearest-description task, nearest-anchor task) for each query."""
    from text2lora.embedding import task_anchors

    nearest = owners[(queries @ vectors.T).argmax(1)]
    anchors = task_anchors([vectors[owners == t] for t in range(num_tasks)])
    return nearest, (queries @ anchors.T).argmax(1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--embedder", default="sentence-transformers/all-MiniLM-L6-v2")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=None)
    args = p.parse_args(argv)

    from text2lora.data.tasks import list_tasks, task_info
    from text2lora.embedding import embed, load_embedder

    names = list_tasks(split="seen")
    infos = [task_info(n) for n in names]
    model = load_embedder(args.embedder)
    texts = [d for info in infos for d in info["descriptions"]]
    owners = np.array([i for i, info in enumerate(infos) for _ in info["descriptions"]])
    vectors = embed(texts, model)
    rng = np.random.default_rng(args.seed)
    folds = np.zeros(len(texts), dtype=int)
    for t in range(len(names)):
        idx = np.flatnonzero(owners == t)
        folds[rng.permutation(idx)] = np.arange(len(idx)) % args.folds
    hits = {"nearest_description": [], "nearest_anchor": []}
    for k in range(args.folds):
        train, test = folds != k, folds == k
        nearest, anchor = match(vectors[test], vectors[train], owners[train], len(names))
        hits["nearest_description"] += (nearest == owners[test]).tolist()
        hits["nearest_anchor"] += (anchor == owners[test]).tolist()
    summary = {"seen_tasks": len(names), "training_descriptions": len(texts),
               "cv_accuracy": {k: float(np.mean(v)) for k, v in hits.items()}, "heldout_accuracy": {}}
    for j in range(max(len(info["heldout_descriptions"]) for info in infos)):
        rows = [(i, info["heldout_descriptions"][j]) for i, info in enumerate(infos)
                if len(info["heldout_descriptions"]) > j]
        truth = np.array([i for i, _ in rows])
        nearest, anchor = match(embed([d for _, d in rows], model), vectors, owners, len(names))
        summary["heldout_accuracy"][f"description_{j}"] = {"nearest_description": float(np.mean(nearest == truth)),
                                                          "nearest_anchor": float(np.mean(anchor == truth))}
    print(json.dumps(summary, indent=1))
    if args.output:
        tmp = f"{args.output}.tmp"
        with open(tmp, "w") as f:
            json.dump({"command": "python research/snap_matching.py " + " ".join(argv if argv is not None else
                                                                              sys.argv[1:]),
                       "summary": summary}, f, indent=1)
        os.replace(tmp, args.output)
    return summary


if __name__ == "__main__":
    main()
