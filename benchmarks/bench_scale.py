"""How the raw-token LoraDenoiser scales with the adapter size.

    python benchmarks/bench_scale.py

Synthetic layouts, with keys named as PEFT names them:
- 75k:  MiniLM-L6, r=8 on query and value (A 8x384, B 384x8, 6 layers) plus the 2-way head (2x384 + 2);
- 460k: SmolLM2-135M, r=8 on q_proj (576->576) and v_proj (576->192), 30 layers;
- 3.4m: a 7B decoder, r=8 on q_proj (4096->4096) and v_proj (4096->1024, grouped-query attention as in
        Mistral-7B), 32 layers: 3,407,872 params;
- 4.2m: (optional) Llama-2-7B, r=8 on q_proj and v_proj both 4096->4096, 32 layers: 4,194,304 params.
For each: one training step (batch --train_batch 8, train.py's loss and AdamW) and one sampling step (batch 1: a
denoiser forward plus a DDIM step) of a LoraDenoiser in raw-token mode (latent_dim 0, token_size 512, hidden 256,
4 layers), and the memory each needs; growth ratios are relative to the smallest size.

Attention runs over every parameter token, so time grows faster than linearly in the number of tokens. To keep the
run short on a CPU, --budget_s caps the total time: once a measurement's warm-up shows that the remaining repeats
would overrun the budget, fewer repeats are taken (the JSON records how many), and a warm-up longer than
--single_shot_s is itself kept as the only measurement.
"""

import argparse
import time

from _common import (
    SYNTHETIC_LAYOUTS,
    BenchmarkError,
    MemoryMeter,
    TrainStep,
    add_common_args,
    autocast,
    build_denoiser,
    finish,
    fmt,
    fmt_s,
    machine_info,
    random_conditions,
    run_main,
    setup,
    stats,
    sync,
    synthetic_layout,
    table,
    timed,
)

ALIASES = {"minilm": "75k", "smollm2": "460k", "7b": "3.4m", "mistral-7b": "3.4m", "llama-7b": "4.2m"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["75k", "460k", "3.4m"],
                   help=f"Layouts: {', '.join(SYNTHETIC_LAYOUTS)} (aliases: {', '.join(ALIASES)}).")
    p.add_argument("--token_size", type=int, default=512)
    p.add_argument("--hidden_size", type=int, default=256)
    p.add_argument("--num_layers", type=int, default=4)
    p.add_argument("--num_heads", type=int, default=4)
    p.add_argument("--mlp_ratio", type=float, default=2.0)
    p.add_argument("--train_batch", type=int, default=8)
    p.add_argument("--sample_batch", type=int, default=1)
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"], help="Autocast dtype.")
    p.add_argument("--budget_s", type=float, default=170.0,
                   help="Total time budget; repeats are cut to fit it (0: no budget).")
    p.add_argument("--single_shot_s", type=float, default=20.0,
                   help="A warm-up longer than this is kept as the only measurement.")
    add_common_args(p, "scale")
    return p.parse_args(argv)


def measure(fn, repeats, device, deadline, single_shot_s):
    """Warm-up + up to ``repeats`` timed calls, fewer if the deadline would be overrun (at least one)."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    warm = time.perf_counter() - start
    if warm > single_shot_s:
        return stats([warm]), {"repeats_done": 1, "warmup_kept": True, "budget_limited": repeats > 1}
    n = repeats
    if deadline is not None:
        left = deadline - time.perf_counter()
        n = max(1, min(repeats, int(left // max(warm, 1e-9))))
    return timed(fn, n, device), {"repeats_done": n, "warmup_kept": False, "budget_limited": n < repeats}


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    device = setup(args)
    sizes = [ALIASES.get(s.lower(), s.lower()) for s in args.sizes]
    for s in sizes:
        if s not in SYNTHETIC_LAYOUTS:
            raise BenchmarkError(f"unknown size '{s}'; choose from {', '.join(SYNTHETIC_LAYOUTS)} "
                                 f"(aliases: {', '.join(ALIASES)}).")
    import torch
    from diffusers import DDIMScheduler

    deadline = started + args.budget_s if args.budget_s else None
    layouts = {s: synthetic_layout(s, args.token_size) for s in dict.fromkeys(sizes)}
    order = sorted(layouts, key=lambda s: layouts[s].num_params)
    rows = []
    for s in order:
        layout = layouts[s]
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        gen = torch.Generator().manual_seed(0)
        with MemoryMeter(device) as train_mem:
            model = build_denoiser(layout, 0, args.hidden_size, args.num_layers, args.num_heads, args.mlp_ratio)
            model.to(device)
            tokens = torch.randn(args.train_batch, *model.sample_shape, generator=gen).to(device)
            step = TrainStep(model, tokens, random_conditions(args.train_batch, device=device), args.train_batch,
                             device, args.dtype)
            train_st, train_info = measure(step, args.repeats, device, deadline, args.single_shot_s)

        model.eval()
        scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=False,
                                  prediction_type="sample")
        scheduler.set_timesteps(25, device=device)
        t = scheduler.timesteps[0]
        sample = torch.randn(args.sample_batch, *model.sample_shape, generator=gen).to(device)
        cond = random_conditions(args.sample_batch, device=device)

        @torch.no_grad()
        def sample_step(model=model, sample=sample, t=t, cond=cond, scheduler=scheduler):
            with autocast(device, args.dtype):
                out = model(sample, t, cond).sample
            return scheduler.step(out.float(), t, sample).prev_sample

        with MemoryMeter(device) as sample_mem:
            sample_st, sample_info = measure(sample_step, args.repeats, device, deadline, args.single_shot_s)
        rows.append({"size": s, "description": SYNTHETIC_LAYOUTS[s][0], "num_params": layout.num_params,
                     "num_tokens": layout.num_tokens, "num_tensors": len(layout.keys),
                     "denoiser_params": sum(p.numel() for p in model.parameters()),
                     "train_step_s": train_st, "train_info": train_info, "train_memory": train_mem.to_dict(),
                     "sample_step_s": sample_st, "sample_info": sample_info, "sample_memory": sample_mem.to_dict()})
        print(f"{s}: {layout.num_params:,} params, {layout.num_tokens} tokens: train step "
              f"{train_st['median']:.3f}s, sample step {sample_st['median']:.4f}s")
        del model, step, tokens

    base = rows[0]

    def ratio(a, b):
        return a / b if a is not None and b else None

    for r in rows:
        r["ratios"] = {
            "params": ratio(r["num_params"], base["num_params"]),
            "tokens": ratio(r["num_tokens"], base["num_tokens"]),
            "train_step": ratio(r["train_step_s"]["median"], base["train_step_s"]["median"]),
            "sample_step": ratio(r["sample_step_s"]["median"], base["sample_step_s"]["median"]),
            "train_memory": ratio(r["train_memory"]["peak_mb"], base["train_memory"]["peak_mb"]),
            "sample_memory": ratio(r["sample_memory"]["peak_mb"], base["sample_memory"]["peak_mb"]),
        }
    mem = "cuda peak MB" if device.startswith("cuda") else "peak RSS growth MB"

    def n_note(info):
        return "" if not info["budget_limited"] else f" [n={info['repeats_done']}]"

    tables = [
        table(f"Raw-token LoraDenoiser by adapter size (seconds, median (min–max)); device {device}, dtype "
              f"{args.dtype}; token_size {args.token_size}, hidden {args.hidden_size}, {args.num_layers} layers",
              ["size", "adapter", "params", "tokens", f"train step (batch {args.train_batch})",
               f"train {mem}", f"sample step (batch {args.sample_batch})", f"sample {mem}"],
              [[r["size"], r["description"], f"{r['num_params']:,}", r["num_tokens"],
                fmt_s(r["train_step_s"]) + n_note(r["train_info"]), fmt(r["train_memory"]["peak_mb"]),
                fmt_s(r["sample_step_s"]) + n_note(r["sample_info"]), fmt(r["sample_memory"]["peak_mb"])]
               for r in rows],
              notes=(["[n=k]: fewer repeats than asked, cut by --budget_s"]
                     if any(r[k]["budget_limited"] for r in rows for k in ("train_info", "sample_info")) else [])
              + ["train memory covers the model build (incl. its param_mean/param_std buffers), gradients, AdamW "
                     "state and activations; sample memory covers only the sampling activations"]),
        table(f"Growth relative to {base['size']}",
              ["size", "params x", "tokens x", "train step x", "sample step x", "train memory x", "sample memory x"],
              [[r["size"]] + [fmt(r["ratios"][k]) for k in ("params", "tokens", "train_step", "sample_step",
                                                            "train_memory", "sample_memory")] for r in rows],
              notes=["CPU memory growth is RSS-based and coarse; small deltas are noise"
                     if not device.startswith("cuda") else "cuda max_memory_allocated"]),
    ]
    finish("scale", args, machine_info(device, args.dtype), {"sizes": rows}, tables, started)


if __name__ == "__main__":
    run_main(main)
