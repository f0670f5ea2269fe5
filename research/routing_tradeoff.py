"""Could one default method serve seen and unseen tasks? Route by similarity to the seen tasks (a diagnosis).

    PYTHONPATH=. python research/routing_tradeoff.py --output reports/ablations/routing_tradeoff.json

The diffusion generator (snapped) is the method for seen tasks, the head generator (``method="hypernetwork"``) for
new ones. A router would pick per description: diffusion when the description's cosine to its nearest condition
anchor is at least a threshold, the head otherwise. This script reads the per-description scores that evaluate.py
already wrote (``reports/evaluation.json``: question 2's held-out descriptions of seen tasks, question 3's of unseen
tasks; test split) and reports, for each threshold, the question-2 median ratio and the question-3 mean a router
would get, with the share of descriptions it sends to diffusion. It also reports how the nearest-anchor cosine is
distributed for seen-task paraphrases, unseen-task descriptions and the auxiliary tasks' descriptions (no zoo
adapter). Test rows are read, so no threshold is selected here: the table shows whether any threshold could work.
"""

import argparse
import collections
import json
import os

import numpy as np

THRESHOLDS = [0.0, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.01]


def routed(records, threshold):
    """Per task, the mean over its descriptions of the routed score. ``records``: (task, cosine, diffusion score,
    head score)."""
    per_task = collections.defaultdict(list)
    for task, cosine, diffusion, head in records:
        per_task[task].append(diffusion if cosine >= threshold else head)
    return {task: float(np.mean(v)) for task, v in per_task.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--report", default="reports/evaluation.json")
    p.add_argument("--generator", default="text2lora/data/generator")
    p.add_argument("--output", default=None)
    args = p.parse_args(argv)

    from text2lora.data.tasks import list_tasks, load_task
    from text2lora.embedding import embed
    from text2lora.models import LoraDenoiser

    anchors = LoraDenoiser.from_pretrained(os.path.join(args.generator, "denoiser")).anchor_embeddings.float().numpy()
    with open(args.report) as f:
        report = json.load(f)

    def nearest_cosine(descriptions):
        return (embed(descriptions) @ anchors.T).max(1)

    records, fine_tuned = {}, {}
    for question in ("question_2", "question_3"):
        records[question] = []
        for row in report[question]["tasks"]:
            fine_tuned[row["task"]] = row["fine_tuned"]
            cosines = nearest_cosine(row["descriptions"])
            records[question] += [(row["task"], float(c), g, h) for c, g, h in zip(
                cosines, row["generated_per_description"], row["hypernetwork_per_description"])]
    auxiliary = np.concatenate([nearest_cosine(load_task(n).descriptions) for n in list_tasks(split="auxiliary")])

    def percentiles(values):
        return {f"p{q}": float(np.percentile(values, q)) for q in (5, 25, 50, 75, 95)}

    distributions = {"seen_heldout": percentiles([r[1] for r in records["question_2"]]),
                     "unseen_heldout": percentiles([r[1] for r in records["question_3"]]),
                     "auxiliary": percentiles(auxiliary)}
    table = []
    for threshold in THRESHOLDS:
        seen, unseen = routed(records["question_2"], threshold), routed(records["question_3"], threshold)
        table.append({"threshold": threshold,
                      "seen_median_ratio": float(np.median([v / fine_tuned[t] for t, v in seen.items()])),
                      "unseen_mean": float(np.mean(list(unseen.values()))),
                      "seen_to_diffusion": float(np.mean([r[1] >= threshold for r in records["question_2"]])),
                      "unseen_to_diffusion": float(np.mean([r[1] >= threshold for r in records["question_3"]]))})
    q3 = report["question_3"]["summary"]
    summary = {"report": args.report, "zero_shot_unseen_mean": q3["zero_shot"]["mean"],
               "seen_descriptions": len(records["question_2"]), "unseen_descriptions": len(records["question_3"]),
               "nearest_anchor_cosine": distributions, "thresholds": table,
               "any_threshold_meets_both": any(r["seen_median_ratio"] >= 0.99 and
                                               r["unseen_mean"] > q3["zero_shot"]["mean"] for r in table)}
    for r in table:
        print(" ".join(f"{k} {v:.3f}" for k, v in r.items()))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(f"{args.output}.tmp", "w") as f:
            json.dump({"summary": summary}, f, indent=1)
        os.replace(f"{args.output}.tmp", args.output)
    return summary


if __name__ == "__main__":
    main()
