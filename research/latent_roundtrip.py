"""Does the denoiser's latent (a PCA of the zoo with ``latent_dim`` components) cap fidelity? A diagnosis.

    PYTHONPATH=. python research/latent_roundtrip.py --generator text2lora/data/generator \
        --output reports/ablations/latent_roundtrip.json [--below_ratio 0.99]

Every seen zoo adapter is passed through ``denoiser.decode(denoiser.encode(v))`` and scored on the test split, next
to the fine-tuned adapter and evaluate.py's question-2 ratio from ``--report``. ``--below_ratio`` keeps only the tasks
whose reported ratio is below it (the tail). The round-trip ratio is the best a generator confined to the latent can
do on a task; it uses the test split, so it is a diagnosis, not a selection tool.
"""

import argparse
import json
import os
import time

import numpy as np
import torch


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", default="text2lora/data/generator")
    p.add_argument("--zoo", default="zoos/minilm-default")
    p.add_argument("--report", default="reports/evaluation.json")
    p.add_argument("--below_ratio", type=float, default=None)
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)

    from text2lora.data.tasks import load_task
    from text2lora.data.zoo import Zoo
    from text2lora.evaluation import Evaluator
    from text2lora.pipelines import Text2LoraPipeline

    zoo = Zoo.load(args.zoo)
    pipe = Text2LoraPipeline.from_pretrained(args.generator)
    denoiser = pipe.denoiser
    if not denoiser.config.latent_dim:
        raise ValueError(f"{args.generator} diffuses raw parameter tokens (latent_dim 0); there is no latent to test.")
    with open(args.report) as f:
        reported = {r["task"]: r for r in json.load(f)["question_2"]["tasks"]}
    evaluator = Evaluator(zoo, embedder=pipe.config.embedder)
    start, rows = time.perf_counter(), []
    for name in zoo.task_names(split="seen"):
        r = reported[name]
        if args.below_ratio is not None and r["ratio"] >= args.below_ratio:
            continue
        vector = zoo.task_vector(name).float()
        with torch.no_grad():
            roundtrip = denoiser.decode(denoiser.encode(vector[None]))[0]
        accuracy = evaluator.score_vector(roundtrip, load_task(name))
        rows.append({"task": name, "fine_tuned": r["fine_tuned"], "roundtrip": accuracy,
                     "ratio_roundtrip": accuracy / r["fine_tuned"], "ratio_reported": r["ratio"],
                     "relative_error": float((roundtrip - vector).norm() / vector.norm())})
    ratio = np.array([r["ratio_roundtrip"] for r in rows])
    summary = {"generator": args.generator, "latent_dim": denoiser.config.latent_dim, "below_ratio": args.below_ratio,
               "tasks": len(rows), "median_ratio_roundtrip": float(np.median(ratio)),
               "tasks_roundtrip_below_0.99": int((ratio < 0.99).sum()), "seconds": time.perf_counter() - start}
    print(json.dumps(summary, indent=1))
    tmp = f"{args.output}.tmp"
    with open(tmp, "w") as f:
        json.dump({"summary": summary, "rows": rows}, f, indent=1)
    os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
