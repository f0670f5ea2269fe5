"""Val-split proxy of evaluate.py's question-2 ratio for snapped generation (about 5 minutes on the 2-core CPU).

    PYTHONPATH=. python research/snap_fidelity.py --generator DIR --output reports/ablations/snap_fidelity_NAME.json \
        [--reuse_fine_tuned reports/ablations/snap_fidelity_OTHER.json] [--training "the train.py command"]

Every seen task: its first 2 held-out descriptions (as evaluate.py) are snapped to the generator's condition anchors;
each adapter is scored on the task's val split (capped at --val_per_class rows per label, never the test split) and
divided by the zoo adapter's val accuracy. ``anchor_ratio`` is the same for the adapter generated from the task's own
anchor (the denoiser's fidelity, free of description matching). ``--reuse_fine_tuned`` takes the zoo adapters' val
scores from an earlier output (they do not depend on the generator). A selection tool: the numbers to quote come from
evaluate.py.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", required=True)
    p.add_argument("--zoo", default="zoos/minilm-default")
    p.add_argument("--output", required=True)
    p.add_argument("--reuse_fine_tuned", default=None)
    p.add_argument("--val_per_class", type=int, default=64)
    p.add_argument("--num_inference_steps", type=int, default=25)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--training", default=None, help="The command that trained the generator, for the table.")
    args = p.parse_args(argv)

    from quick_val_check import cap_val

    from text2lora.adapters import AdapterScorer
    from text2lora.data.tasks import load_task
    from text2lora.data.zoo import Zoo
    from text2lora.embedding import embed
    from text2lora.evaluation.metrics import balanced_accuracy
    from text2lora.pipelines import Text2LoraPipeline

    zoo = Zoo.load(args.zoo)
    pipe = Text2LoraPipeline.from_pretrained(args.generator)
    pipe.set_progress_bar_config(disable=True)
    if not pipe.denoiser.has_condition_anchors:
        raise ValueError(f"{args.generator} has no condition anchors; add them with scripts/add_condition_anchors.py.")
    scorer = AdapterScorer(zoo.spec)
    names = list(pipe.denoiser.config.anchor_tasks)
    start = time.perf_counter()
    out = pipe(["_"] * len(names), condition=pipe.denoiser.anchor_embeddings.detach().float(),
               num_inference_steps=args.num_inference_steps, output_type="vector",
               generator=torch.Generator().manual_seed(args.seed))
    from_anchor = dict(zip(names, out.vectors))
    scores = {}
    if args.reuse_fine_tuned:
        with open(args.reuse_fine_tuned) as f:
            for row in json.load(f)["rows"]:
                scores[("zoo", row["task"], row["task"])] = row["fine_tuned"]

    def score(kind, owner, task):
        key = (kind, owner, task.name)
        if key not in scores:
            vector = zoo.task_vector(owner).float() if kind == "zoo" else from_anchor[owner]
            proba = scorer.proba(zoo.layout.unflatten(vector), task, "val")
            scores[key] = balanced_accuracy(task.labels("val"), proba >= 0.5)
        return scores[key]

    rows = []
    for name in zoo.task_names(split="seen"):
        task = cap_val(load_task(name), args.val_per_class)
        fine_tuned = score("zoo", name, task)
        _, snapped = pipe.denoiser.snap_condition(torch.from_numpy(embed(task.heldout_descriptions[:2],
                                                                         pipe.config.embedder)))
        generated = float(np.mean([score("generated", s, task) for s in snapped]))
        rows.append({"task": name, "fine_tuned": fine_tuned, "generated": generated, "ratio": generated / fine_tuned,
                     "anchor_ratio": score("generated", name, task) / fine_tuned, "snapped_tasks": list(snapped)})
    ratio = np.array([r["ratio"] for r in rows])
    anchor = np.array([r["anchor_ratio"] for r in rows])
    summary = {"generator": args.generator, "training": args.training, "tasks": len(rows),
               "median_ratio": float(np.median(ratio)), "mean_ratio": float(ratio.mean()),
               "tasks_at_0.99": int((ratio >= 0.99).sum()), "anchor_median_ratio": float(np.median(anchor)),
               "anchor_mean_ratio": float(anchor.mean()), "anchor_tasks_at_0.99": int((anchor >= 0.99).sum()),
               "val_per_class": args.val_per_class, "seconds": time.perf_counter() - start}
    print(json.dumps(summary, indent=1))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = f"{args.output}.tmp"
    with open(tmp, "w") as f:
        json.dump({"name": os.path.splitext(os.path.basename(args.output))[0].removeprefix("snap_fidelity_"),
                   "training": args.training or "-", "summary": summary, "rows": rows}, f, indent=1)
    os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
