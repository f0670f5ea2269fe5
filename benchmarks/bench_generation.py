"""Latency from a task description to a PEFT adapter written on disk, phase by phase, and the speed/quality trade.

    python benchmarks/bench_generation.py --generator text2lora/data/generator --zoo zoos/minilm-default

Phases (each repeated --repeats times; median, min and max):
- one-time loads: ``generator_load_s`` (generate.load_generator, i.e. Text2LoraPipeline.from_pretrained),
  ``embedder_load_s`` (first pipe.encode_task call: loads the sentence-transformers model) and
  ``peft_model_build_s`` (the base model + LoRA wrapper that save_adapter writes through);
- embed: pipe.encode_prompt on warm models;
- sample: pipe(..., condition=<precomputed>, output_type="vector") for each --steps value;
- write: layout.unflatten + pipe.save_adapter into a temp dir, per adapter.
for one adapter, for --batch descriptions x 1 adapter and for 1 description x --batch adapters.
With --zoo, the mean balanced test accuracy of adapters generated from each task's first held-out description, at
each step count. Last, the wall time of the CLI (``python generate.py ...``) as a user runs it.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from _common import (
    DEFAULT_GENERATOR,
    REPO_ROOT,
    BenchmarkError,
    MemoryMeter,
    add_common_args,
    autocast,
    finish,
    fmt,
    fmt_s,
    load_generator,
    load_zoo,
    machine_info,
    pick_tasks,
    require_dir,
    run_main,
    setup,
    stats,
    table,
    timed,
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", default=DEFAULT_GENERATOR, help="Generator directory (default: the shipped one).")
    p.add_argument("--zoo", default=None, help="Zoo directory: adds the accuracy of generated adapters per step count.")
    p.add_argument("--tasks", nargs="*", default=None, help="Zoo tasks for the accuracy (default: --num_tasks seen).")
    p.add_argument("--num_tasks", type=int, default=5)
    p.add_argument("--steps", type=int, nargs="+", default=[10, 25, 50], help="num_inference_steps values.")
    p.add_argument("--batch", type=int, default=64, help="Batch size of the batched rows (0 skips them).")
    p.add_argument("--description", default="classify sentiment", help="The description of the single-adapter rows.")
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"],
                   help="Autocast dtype of the denoiser during sampling (the embedder runs as loaded).")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip_cli", action="store_true", help="Skip the end-to-end `python generate.py` timing.")
    add_common_args(p, "generation")
    return p.parse_args(argv)


def batch_descriptions(n):
    """``n`` distinct descriptions from the shipped suite (first training description of each task)."""
    from text2lora.data.tasks import list_tasks, task_info

    out = []
    for name in list_tasks():
        out.append(task_info(name)["descriptions"][0])
        if len(out) == n:
            return out
    return [out[i % len(out)] + ("" if i < len(out) else f" ({i // len(out)})") for i in range(n)]


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    device = setup(args)
    if any(s < 1 for s in args.steps) or args.batch < 0:
        raise BenchmarkError("--steps must be >= 1 and --batch >= 0.")
    import torch

    from text2lora.embedding import load_embedder

    # -- one-time loads -----------------------------------------------------------------------------------------
    if args.zoo:
        require_dir(args.zoo, "zoo", "collect one with collect.py, or leave out --zoo.")
    pipe = load_generator(args.generator, device)  # fails with one clear line if missing; also warms the disk cache
    zoo = load_zoo(args.zoo) if args.zoo else None
    if zoo is not None and zoo.layout != pipe.layout:
        raise BenchmarkError(f"the zoo's layout ({zoo.layout}) differs from the generator's ({pipe.layout}).")
    loads = {}
    holder = {}
    loads["generator_load_s"] = timed(lambda: holder.update(pipe=load_generator(args.generator, device)),
                                      args.repeats, device)
    pipe = holder["pipe"]

    def reset_embedder():
        load_embedder.cache_clear()
        pipe._embedder_model = None

    loads["embedder_load_s"] = timed(lambda: pipe.encode_prompt([args.description]), args.repeats, device,
                                     before=reset_embedder)

    def reset_peft():
        pipe._cached_peft = None

    loads["peft_model_build_s"] = timed(pipe._peft_model, args.repeats, device, before=reset_peft)
    peft_model = pipe.peft_model()

    # -- per-phase latency --------------------------------------------------------------------------------------
    configs = [("1 description x 1 adapter", [args.description], 1)]
    if args.batch:
        configs += [(f"{args.batch} descriptions x 1 adapter", batch_descriptions(args.batch), 1),
                    (f"1 description x {args.batch} adapters", [args.description], args.batch)]
    tmp_root = tempfile.mkdtemp(prefix="t2l-bench-gen-")
    latency = []
    try:
        for label, descs, k in configs:
            n = len(descs) * k
            embed = timed(lambda descs=descs: pipe.encode_prompt(descs), args.repeats + 1, device)
            embed = stats(embed["values"][1:])  # the first call is a warm-up
            cond = pipe.encode_prompt(descs)
            vectors = None
            for steps in args.steps:
                def sample(steps=steps, descs=descs, k=k, cond=cond):
                    gen = torch.Generator(device=device).manual_seed(args.seed)
                    with autocast(device, args.dtype):
                        return pipe(descs, num_inference_steps=steps, generator=gen, num_adapters_per_prompt=k,
                                    condition=cond, output_type="vector").vectors

                with MemoryMeter(device) as mem:  # doubles as the warm-up run
                    vectors = sample()
                sample_st = timed(sample, args.repeats, device)
                latency.append({"config": label, "method": "diffusion", "descriptions": len(descs),
                                "adapters_per_description": k, "num_adapters": n, "steps": steps, "embed_s": embed,
                                "sample_s": sample_st, "sample_memory": mem.to_dict()})
            if pipe.head_generator is not None and k == 1:  # the head generator: one deterministic adapter each
                def head(descs=descs, cond=cond):
                    return pipe(descs, condition=cond, output_type="vector", method="hypernetwork").vectors

                with MemoryMeter(device) as mem:
                    head()
                latency.append({"config": label, "method": "hypernetwork", "descriptions": len(descs),
                                "adapters_per_description": 1, "num_adapters": n, "steps": None, "embed_s": embed,
                                "sample_s": timed(head, args.repeats, device), "sample_memory": mem.to_dict()})
            # Writing does not depend on the step count: measure it once per config, with the last vectors.
            out_dir = os.path.join(tmp_root, "write")

            def write(vectors=vectors, descs=descs, k=k, out_dir=out_dir):
                for i, v in enumerate(vectors):
                    desc = descs[i // k]
                    pipe.save_adapter(pipe.layout.unflatten(v), os.path.join(out_dir, f"adapter-{i}"),
                                      description=desc, generation_config={"description": desc, "seed": args.seed,
                                                                           "sample_index": i % k},
                                      peft_model=peft_model)

            write_st = timed(write, args.repeats + 1, device,
                             after=lambda out_dir=out_dir: shutil.rmtree(out_dir, ignore_errors=True))
            write_st = stats(write_st["values"][1:])
            for row in latency:
                if row["config"] == label:
                    row["write_s"] = write_st
                    total = row["embed_s"]["median"] + row["sample_s"]["median"] + write_st["median"]
                    row["total_median_s"] = total
                    row["per_adapter_s"] = total / n
                    row["adapters_per_s"] = n / total
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    # -- speed / quality ----------------------------------------------------------------------------------------
    quality = None
    if zoo is not None:
        from text2lora.adapters import AdapterScorer
        from text2lora.data.tasks import load_task

        names = pick_tasks(zoo, args.tasks, args.num_tasks)
        scorer = AdapterScorer(zoo.spec, device=device)
        tasks, descriptions = {}, {}
        for name in names:
            task = load_task(name)
            tasks[name] = task
            descriptions[name] = (task.heldout_descriptions or task.descriptions)[0]
        fine_tuned = {name: zoo.task_row(name)["test_accuracy"] for name in names}
        quality = {"tasks": names, "descriptions": descriptions, "fine_tuned_test_accuracy": fine_tuned,
                   "no_heldout_description": [n for n in names if not tasks[n].heldout_descriptions], "per_steps": []}
        for steps in args.steps:
            per_task = {}
            for name in names:
                gen = torch.Generator(device=device).manual_seed(args.seed)
                with autocast(device, args.dtype):
                    adapter = pipe([descriptions[name]], num_inference_steps=steps, generator=gen).adapters[0]
                per_task[name] = scorer.score(adapter, tasks[name], "test")
            mean_gen = sum(per_task.values()) / len(per_task)
            mean_ft = sum(fine_tuned.values()) / len(fine_tuned)
            quality["per_steps"].append({"steps": steps, "generated_test_accuracy": per_task,
                                         "mean_generated": mean_gen, "mean_fine_tuned": mean_ft,
                                         "ratio_generated_to_fine_tuned": mean_gen / mean_ft if mean_ft else None})

    # -- CLI, end to end ----------------------------------------------------------------------------------------
    cli = None
    if not args.skip_cli:
        out_dir = tempfile.mkdtemp(prefix="t2l-bench-cli-")
        cmd = [sys.executable, "generate.py", "--task", args.description, "--generator",
               os.path.abspath(args.generator), "--output_dir", out_dir, "--device", device]
        times, reported = [], []
        try:
            for _ in range(args.repeats):
                start = time.perf_counter()
                proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
                times.append(time.perf_counter() - start)
                if proc.returncode != 0:
                    last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                    raise BenchmarkError(f"generate.py failed (exit {proc.returncode}): {last}")
                match = re.search(r"adapter\(s\) in ([0-9.]+)s", proc.stdout)
                if match:
                    reported.append(float(match.group(1)))
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        cli = {"command": "python generate.py --task " + repr(args.description) + " --generator "
               + args.generator + " --output_dir <tmp> --device " + device,
               "wall_s": stats(times), "in_process_s": stats(reported)}

    # -- report -------------------------------------------------------------------------------------------------
    results = {"loads": loads, "latency": latency, "quality": quality, "cli": cli,
               "generator": {"path": args.generator, "num_params": pipe.layout.num_params,
                             "sample_shape": list(pipe.denoiser.sample_shape),
                             "latent_dim": pipe.denoiser.config.latent_dim,
                             "scheduler": pipe.scheduler.__class__.__name__}}
    tables = [table("One-time costs (seconds, median (min–max))", ["what", "seconds"],
                    [["generator load (from_pretrained)", fmt_s(loads["generator_load_s"])],
                     ["embedder load (first encode_prompt)", fmt_s(loads["embedder_load_s"])],
                     ["PEFT base model build (for writing)", fmt_s(loads["peft_model_build_s"])]]
                    + ([["CLI `python generate.py` wall time", fmt_s(cli["wall_s"])],
                        ["  of which reported in-process", fmt_s(cli["in_process_s"])]] if cli else []),
                    notes=[f"CLI timing: {cli['command']} (fp32, a fresh process each time)"] if cli else [])]
    rows = []
    for r in latency:
        rows.append([r["config"], r.get("method", "diffusion"), "–" if r["steps"] is None else r["steps"],
                     fmt_s(r["embed_s"]), fmt_s(r["sample_s"]), fmt_s(r["write_s"]),
                     fmt(r["total_median_s"]), fmt(r["per_adapter_s"]), fmt(r["adapters_per_s"]),
                     fmt(r["sample_memory"]["peak_mb"])])
    tables.append(table(
        f"Text -> adapter on disk, warm models (seconds, median (min–max)); device {device}, dtype {args.dtype}",
        ["batch", "method", "steps", "embed", "sample", "write", "total", "s/adapter", "adapters/s", "sample mem MB"],
        rows,
        notes=["total = sum of the phase medians; write = unflatten + save_adapter (PEFT save_pretrained) of every "
               "adapter of the batch (the same for both methods: one adapter layout); method hypernetwork = the head "
               "generator (`method=\"hypernetwork\"`, no sampling steps); sample mem = peak during one sampling call "
               + ("(cuda max_memory_allocated)" if device.startswith("cuda") else "(RSS growth, coarse)")]))
    if quality:
        sample_1 = {r["steps"]: r["sample_s"]["median"] for r in latency if r["num_adapters"] == 1}
        tables.append(table(
            f"Speed / quality: mean balanced test accuracy over {len(quality['tasks'])} seen tasks "
            "(first held-out description, one sample)",
            ["steps", "sample s (1 adapter)", "generated acc", "fine-tuned acc", "generated / fine-tuned"],
            [[q["steps"], fmt(sample_1.get(q["steps"])), fmt(q["mean_generated"]), fmt(q["mean_fine_tuned"]),
              fmt(q["ratio_generated_to_fine_tuned"])] for q in quality["per_steps"]],
            notes=[f"tasks: {', '.join(quality['tasks'])}"]))
    finish("generation", args, machine_info(device, args.dtype), results, tables, started)


if __name__ == "__main__":
    run_main(main)
