"""A quick val-split check of a generator, for ablations (about 2 minutes on the 2-core CPU).

    PYTHONPATH=. python research/quick_val_check.py --generator runs/gen --output reports/ablations/NAME.json

Seen tasks (every --seen_stride-th): an adapter from each of the task's 3 held-out descriptions, scored on the val
split; the summary is the median (and mean) over tasks of generated / fine-tuned val accuracy. Unseen tasks: one
adapter from the first held-out description. Val is capped at the first 32 positive and 32 negative rows, so the
check is fast and never touches the test split that `evaluate.py` reports. It is a selection tool: the numbers to
quote come from `evaluate.py`.
"""

import argparse
import json
import os
import time

import numpy as np
import torch


def cap_val(task, per_class):
    rows = task.data["val"]
    pos = [i for i, label in enumerate(rows["label"]) if label == 1][:per_class]
    neg = [i for i, label in enumerate(rows["label"]) if label == 0][:per_class]
    keep = sorted(pos + neg)
    task.data["val"] = {k: (None if v is None else [v[i] for i in keep]) for k, v in rows.items()}
    return task


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", required=True)
    p.add_argument("--zoo", default="zoos/minilm-default")
    p.add_argument("--output", default=None, help="JSON with the summary and every task's scores.")
    p.add_argument("--guidance_scale", type=float, default=1.0)
    p.add_argument("--num_inference_steps", type=int, default=25)
    p.add_argument("--seen_stride", type=int, default=5)
    p.add_argument("--val_per_class", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="diffusion", choices=["diffusion", "hypernetwork"])
    p.add_argument("--no_snap", action="store_true",
                   help="Condition on the descriptions' own embeddings (snap_to_seen_tasks=False).")
    p.add_argument("--name", default=None, help="Row name in reports/ablations/README.md.")
    p.add_argument("--training", default=None, help="The command that trained the generator, for the table.")
    args = p.parse_args(argv)

    from text2lora.adapters import AdapterScorer
    from text2lora.data.tasks import load_task
    from text2lora.data.zoo import Zoo
    from text2lora.pipelines import Text2LoraPipeline

    zoo = Zoo.load(args.zoo)
    pipe = Text2LoraPipeline.from_pretrained(args.generator)
    pipe.set_progress_bar_config(disable=True)
    scorer = AdapterScorer(zoo.spec)
    start, rows = time.perf_counter(), []
    for split in ("seen", "unseen"):
        names = zoo.task_names(split=split)
        if split == "seen":
            names = names[:: args.seen_stride]
        for name in names:
            task = cap_val(load_task(name), args.val_per_class)
            descriptions = task.heldout_descriptions if split == "seen" else task.heldout_descriptions[:1]
            fine_tuned = scorer.score(zoo.layout.unflatten(zoo.task_vector(name)), task, "val")
            out = pipe(descriptions, num_inference_steps=args.num_inference_steps,
                       guidance_scale=args.guidance_scale, generator=torch.Generator().manual_seed(args.seed),
                       method=args.method, snap_to_seen_tasks=False if args.no_snap else None)
            rows.append({"task": name, "split": split, "fine_tuned": fine_tuned,
                         "generated": [scorer.score(a, task, "val") for a in out.adapters],
                         "snapped_tasks": out.snapped_tasks})
    seen = [r for r in rows if r["split"] == "seen"]
    unseen = [r for r in rows if r["split"] == "unseen"]
    ratios = [np.mean(r["generated"]) / r["fine_tuned"] for r in seen]
    summary = {
        "generator": args.generator, "method": args.method, "snap": not args.no_snap,
        "guidance_scale": args.guidance_scale,
        "seen_tasks": len(seen),
        "seen_median_ratio": float(np.median(ratios)), "seen_mean_ratio": float(np.mean(ratios)),
        "seen_generated_mean": float(np.mean([np.mean(r["generated"]) for r in seen])),
        "seen_fine_tuned_mean": float(np.mean([r["fine_tuned"] for r in seen])),
        "unseen_tasks": len(unseen),
        "unseen_generated_mean": float(np.mean([np.mean(r["generated"]) for r in unseen])),
        "unseen_fine_tuned_mean": float(np.mean([r["fine_tuned"] for r in unseen])),
        "seconds": time.perf_counter() - start,
    }
    print(json.dumps(summary))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        tmp = f"{args.output}.tmp"
        with open(tmp, "w") as f:
            json.dump({"name": args.name or os.path.splitext(os.path.basename(args.output))[0],
                       "training": args.training or "", "command": "python research/quick_val_check.py " +
                       " ".join(argv or []), "summary": summary,
                       "tasks": rows}, f, indent=1)
        os.replace(tmp, args.output)
    return summary


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
