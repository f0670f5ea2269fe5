"""Generator training throughput, and zoo collection throughput.

    python benchmarks/bench_training.py --zoo zoos/minilm-default

1. A LoraDenoiser for the zoo's layout (or, without --zoo, the synthetic MiniLM layout of bench_scale.py's "75k"),
   configured with train.py's defaults (``DenoiserTrainingArguments``: hidden size, layers, heads, mlp_ratio,
   latent size, batch size), trained with train.py's step (DDPM noise, grad clip, AdamW): seconds per step,
   adapters per second and peak memory, for each --latent_dims value (0 = raw parameter tokens of --token_size
   512; the default latent = train.py's PCA latent).
   Each repeat times --train_steps steps after --warmup_steps untimed ones.
2. Zoo collection: tasks per hour from the zoo's index (sum of each task's train_seconds, i.e. pure training time)
   and, when known, from the wall time of the collection (the zoo's report.json, or --collect_log).
"""

import argparse
import json
import os
import time

from _common import (
    BenchmarkError,
    MemoryMeter,
    TrainStep,
    add_common_args,
    build_denoiser,
    finish,
    fmt,
    fmt_s,
    load_zoo,
    machine_info,
    random_adapters,
    random_conditions,
    run_main,
    setup,
    stats,
    sync,
    synthetic_layout,
    table,
)


def parse_args(argv=None):
    from text2lora.training.denoiser_training import DenoiserTrainingArguments

    defaults = DenoiserTrainingArguments()  # train.py's defaults: the shipped generator's configuration
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zoo", default=None, help="Zoo directory (default: a synthetic MiniLM layout, random adapters).")
    p.add_argument("--latent_dims", type=int, nargs="+", default=[0, defaults.latent_dim])
    p.add_argument("--token_size", type=int, default=defaults.token_size)
    p.add_argument("--latent_token_size", type=int, default=defaults.latent_token_size)
    p.add_argument("--hidden_size", type=int, default=defaults.hidden_size)
    p.add_argument("--num_layers", type=int, default=defaults.num_layers)
    p.add_argument("--num_heads", type=int, default=defaults.num_heads)
    p.add_argument("--mlp_ratio", type=float, default=defaults.mlp_ratio)
    p.add_argument("--snr_gamma", type=float, default=defaults.snr_gamma)
    p.add_argument("--learning_rate", type=float, default=defaults.learning_rate)
    p.add_argument("--batch_size", type=int, default=defaults.train_batch_size)
    p.add_argument("--train_steps", type=int, default=10, help="Timed steps per repeat.")
    p.add_argument("--warmup_steps", type=int, default=2)
    p.add_argument("--num_adapters", type=int, default=256, help="Random adapters of the synthetic layout.")
    p.add_argument("--max_train_steps", type=int, default=defaults.max_train_steps,
                   help="For the projected time of a full run (default: train.py's).")
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"], help="Autocast dtype.")
    p.add_argument("--collect_log", default=None,
                   help="Wall time of the zoo collection: seconds, or a JSON file with 'wall_seconds'.")
    add_common_args(p, "training")
    return p.parse_args(argv)


def read_collect_log(value):
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    if not os.path.isfile(value):
        raise BenchmarkError(f"--collect_log '{value}' is neither a number of seconds nor a file.")
    with open(value) as f:
        data = json.load(f)
    if isinstance(data, (int, float)):
        return float(data)
    for key in ("wall_seconds", "wall_s", "seconds"):
        if isinstance(data.get(key), (int, float)):
            return float(data[key])
    raise BenchmarkError(f"--collect_log {value} has no 'wall_seconds' number.")


def collection_throughput(zoo, collect_wall):
    last = {}
    for r in zoo.rows:
        last[r["task"]] = r
    train_s = [r.get("train_seconds") for r in last.values()]
    known = [s for s in train_s if s is not None]
    out = {"num_tasks": len(last), "num_adapters": len(zoo.rows), "tasks_with_train_seconds": len(known),
           "sum_train_seconds": sum(known) if known else None,
           "train_seconds_per_task": stats(known) if known else None}
    out["tasks_per_hour_training"] = len(known) / out["sum_train_seconds"] * 3600 if known and sum(known) else None
    wall, source = collect_wall, "--collect_log" if collect_wall is not None else None
    report = os.path.join(zoo.path or "", "report.json")
    if wall is None and zoo.path and os.path.exists(report):
        with open(report) as f:
            wall = json.load(f).get("wall_seconds")
        source = "zoo report.json" if wall else None
    out["wall_seconds"], out["wall_source"] = wall, source
    out["tasks_per_hour_wall"] = len(last) / wall * 3600 if wall else None
    return out


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    device = setup(args)
    if args.train_steps < 1 or args.warmup_steps < 0 or args.batch_size < 1:
        raise BenchmarkError("--train_steps and --batch_size must be >= 1, --warmup_steps >= 0.")
    collect_wall = read_collect_log(args.collect_log)
    import torch

    from text2lora.data.layout import LoraLayout

    if args.zoo:
        zoo = load_zoo(args.zoo)
        seen = zoo.task_names(split="seen") or zoo.task_names()
        train_zoo = zoo.subset(seen)  # train.py trains on the seen tasks
        vectors = train_zoo.vectors
        source = f"zoo {args.zoo} ({len(seen)} seen tasks, {len(vectors)} adapters)"
        spec = zoo.spec.to_dict()
        base_layout = zoo.layout
    else:
        zoo, spec = None, {}
        base_layout = synthetic_layout("75k", args.token_size)
        vectors = random_adapters(base_layout, args.num_adapters)
        source = f"synthetic MiniLM layout (75k params), {len(vectors)} random adapters"
    layout = LoraLayout(base_layout.keys, base_layout.shapes, token_size=args.token_size)

    runs = []
    for requested in args.latent_dims:
        latent = requested
        if latent:  # as train.py: at most N - 1, a multiple of latent_token_size
            latent = min(latent, max(1, len(vectors) - 1))
            latent = max(args.latent_token_size, latent - latent % args.latent_token_size)
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        with MemoryMeter(device) as mem:
            model = build_denoiser(layout, latent, args.hidden_size, args.num_layers, args.num_heads, args.mlp_ratio,
                                   args.latent_token_size, spec)
            t0 = time.perf_counter()
            model.fit_normalization(vectors)
            fit_s = time.perf_counter() - t0
            model.to(device)
            tokens = model.encode(vectors).detach()
            conditions = random_conditions(len(vectors), device=device)
            step = TrainStep(model, tokens, conditions, args.batch_size, device, args.dtype, lr=args.learning_rate,
                             snr_gamma=args.snr_gamma)
            for _ in range(args.warmup_steps):
                step()
            sync(device)
            per_step = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                for _ in range(args.train_steps):
                    step()
                sync(device)
                per_step.append((time.perf_counter() - start) / args.train_steps)
        s_step = stats(per_step)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        runs.append({"latent_dim_requested": requested, "latent_dim": latent, "sample_shape": list(model.sample_shape),
                     "trainable_params": trainable, "fit_normalization_s": fit_s, "s_per_step": s_step,
                     "adapters_per_s": stats([args.batch_size / s for s in per_step]),
                     "projected_full_run_s": s_step["median"] * args.max_train_steps, "memory": mem.to_dict()})
        del model, step, tokens, conditions

    collection = collection_throughput(zoo, collect_wall) if zoo is not None else None
    if zoo is None and collect_wall is not None:
        collection = {"wall_seconds": collect_wall, "wall_source": "--collect_log", "num_tasks": None}

    results = {"source": source, "num_params": layout.num_params, "num_tokens": layout.num_tokens,
               "batch_size": args.batch_size, "runs": runs, "collection": collection}
    mem_label = "peak MB (cuda)" if device.startswith("cuda") else "peak RSS growth MB"
    tables = [table(
        f"Generator training step, batch {args.batch_size} (median (min–max)); {source}; device {device}, "
        f"dtype {args.dtype}",
        ["mode", "tokens x size", "trainable params", "s/step", "adapters/s", f"{args.max_train_steps} steps (min)",
         "fit normalization s", mem_label],
        [[("raw tokens" if r["latent_dim"] == 0 else f"latent {r['latent_dim']}"),
          f"{r['sample_shape'][0]} x {r['sample_shape'][1]}", f"{r['trainable_params']:,}", fmt_s(r["s_per_step"]),
          fmt_s(r["adapters_per_s"]), fmt(r["projected_full_run_s"] / 60), fmt(r["fit_normalization_s"]),
          fmt(r["memory"]["peak_mb"])] for r in runs],
        notes=[f"each repeat = {args.train_steps} timed steps after {args.warmup_steps} warm-up steps; memory covers "
               "model build, normalization fit and all steps"])]
    if collection:
        rows = [["tasks (adapters)", f"{collection['num_tasks']} ({collection['num_adapters']})"
                 if collection.get("num_tasks") is not None else "unknown (no --zoo)"]]
        if collection.get("sum_train_seconds") is not None:
            rows += [["training time summed over tasks (min)", fmt(collection["sum_train_seconds"] / 60)],
                     ["train seconds per task", fmt_s(collection["train_seconds_per_task"])],
                     ["tasks/hour (training time only)", fmt(collection["tasks_per_hour_training"])]]
        if collection.get("wall_seconds"):
            rows += [[f"collection wall time (min), from {collection['wall_source']}",
                      fmt(collection["wall_seconds"] / 60)],
                     ["tasks/hour (wall time)", fmt(collection.get("tasks_per_hour_wall"))]]
        tables.append(table("Zoo collection throughput", ["what", "value"], rows,
                            notes=["train_seconds come from the zoo's index (recorded by collect.py on the machine "
                                   "that collected it, not this one)"]))
    finish("training", args, machine_info(device, args.dtype), results, tables, started)


if __name__ == "__main__":
    run_main(main)
