"""Generate a PEFT LoRA adapter from a task description.

    python generate.py --task "classify sentiment"
    python generate.py --task "detect angry tweets" --try "I hate waiting in line"
    python generate.py --task "find sports news" --task "spot spam" --num_adapters 2 --output_dir adapters

Each adapter is written to <output_dir>/<slug>[--<hash>]-<method>[-seed<seed>][-<i>] (the hash of the description is
added when the slug does not spell it exactly) with adapter_config.json, adapter_model.safetensors (PEFT's own save
path), generation_config.json and a README.md model card. An existing folder is never replaced without --overwrite,
and then only if it is an adapter text2lora wrote holding nothing else.
"""

import argparse
import os
import sys
import time

from text2lora.cli import check_device
from text2lora.pipelines import load_generator


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", action="append", required=True, help="Task description (repeatable).")
    p.add_argument("--generator", default=None, help="Generator directory or Hub id (default: the shipped one).")
    p.add_argument("--output_dir", default="generated-adapters")
    p.add_argument("--overwrite", action="store_true",
                   help="Replace adapter folders of the same name that text2lora wrote before (never other files).")
    p.add_argument("--num_adapters", type=int, default=1, help="Adapters per task.")
    p.add_argument("--num_inference_steps", type=int, default=25)
    p.add_argument("--guidance_scale", type=float, default=1.0)
    p.add_argument("--scheduler", default=None, choices=[None, "ddim", "dpm", "ddpm"],
                   help="Swap the sampler (default: the one saved with the generator).")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="diffusion", choices=["diffusion", "hypernetwork"],
                   help="diffusion: sample the denoiser (tasks like the zoo's); hypernetwork: the head generator added "
                        "by train_head.py (new tasks; see reports/evaluation.md).")
    p.add_argument("--no_snap", action="store_true",
                   help="diffusion: condition on the description's own embedding instead of snapping it to the "
                        "nearest seen task's anchor (the default when the generator has anchors).")
    p.add_argument("--device", default="cpu")
    p.add_argument("--try", dest="try_text", action="append", default=None,
                   help="Classify this text with the generated adapter (repeatable).")
    p.add_argument("--push_to_hub", action="store_true")
    p.add_argument("--hub_model_id", default=None, help="Repo id for --push_to_hub (one task, one adapter).")
    p.add_argument("--private", action="store_true")
    return p.parse_args(argv)


def validate(args):
    for task in args.task:
        if not task or not task.strip():
            raise ValueError("--task must be a non-empty description, e.g. --task \"classify sentiment\".")
    if len(set(args.task)) != len(args.task):
        raise ValueError("The same --task was given twice.")
    if args.num_inference_steps < 1:
        raise ValueError(f"--num_inference_steps must be >= 1, got {args.num_inference_steps}.")
    if args.guidance_scale < 0:
        raise ValueError(f"--guidance_scale must be >= 0, got {args.guidance_scale}.")
    if args.num_adapters < 1:
        raise ValueError(f"--num_adapters must be >= 1, got {args.num_adapters}.")
    if args.push_to_hub and (not args.hub_model_id or len(args.task) * args.num_adapters != 1):
        raise ValueError("--push_to_hub needs --hub_model_id and exactly one task with one adapter.")
    check_device(args.device)


def output_targets(args):
    """(description, sample index, folder) for every adapter to write, checked before any work is done."""
    from text2lora.fileio import check_output_location, prepare_target
    from text2lora.pipelines import adapter_folder_name

    check_output_location(args.output_dir)
    targets = []
    for description in args.task:
        for k in range(args.num_adapters):
            name = adapter_folder_name(description, args.method, args.seed, k if args.num_adapters > 1 else None)
            target = os.path.join(args.output_dir, name)
            targets.append((description, k, target, prepare_target(target, args.overwrite)))
    return targets


def try_adapter(adapter_dir, texts, base_model):
    """Load the written adapter with plain PEFT and classify ``texts``."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from text2lora.hub import resolve_model

    base_path = resolve_model(base_model)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    base = AutoModelForSequenceClassification.from_pretrained(base_path, num_labels=2)
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    with torch.no_grad():
        enc = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        probs = torch.softmax(model(**enc).logits, -1)[:, 1].tolist()
    return probs


def load_lines(target, base_model):
    """The lines that load the written adapter with plain PEFT, offline too (printed after generation)."""
    return [
        "from peft import PeftModel",
        "from transformers import AutoModelForSequenceClassification",
        "from text2lora import resolve_model  # the packaged copy of the base, so no network is needed",
        f"base = AutoModelForSequenceClassification.from_pretrained(resolve_model({base_model!r}))",
        f"model = PeftModel.from_pretrained(base, {target!r})",
    ]


def main(argv=None):
    args = parse_args(argv)
    validate(args)
    targets = output_targets(args)
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    from text2lora.embedding import overlong_texts

    start = time.perf_counter()
    pipe = load_generator(args.generator, args.device, scheduler=args.scheduler)
    generator = torch.Generator(device=args.device).manual_seed(args.seed)
    out = pipe(args.task, num_inference_steps=args.num_inference_steps, guidance_scale=args.guidance_scale,
               num_adapters_per_task=args.num_adapters, generator=generator, method=args.method,
               snap_to_seen_tasks=False if args.no_snap else None)
    written = []
    peft_model = pipe.peft_model()
    for i, (adapter, (description, k, target, replaced)) in enumerate(zip(out.adapters, targets)):
        config = {"description": description, "generator": args.generator or "text2lora (shipped default)",
                  "method": args.method, "scheduler": pipe.scheduler.__class__.__name__,
                  "num_inference_steps": args.num_inference_steps,
                  "guidance_scale": args.guidance_scale, "seed": args.seed, "sample_index": k}
        snapped = out.snapped_tasks[i] if out.snapped_tasks is not None else None
        if snapped is not None:
            config["snapped_to_task"] = snapped
        pipe.save_adapter(adapter, target, description=description, generation_config=config, peft_model=peft_model,
                          overwrite=args.overwrite)
        written.append((description, target, snapped, replaced))
    seconds = time.perf_counter() - start
    base = pipe.adapter_spec.base_model
    for description in overlong_texts(args.task, pipe.embedder_model):
        print(f"note: the embedder reads only the first {pipe.embedder_model.max_seq_length} tokens of "
              f"{shorten(description, 60)!r}; the rest of it was ignored.", file=sys.stderr)
    for description, target, snapped, replaced in written:
        matched = f" (conditioned on the seen task {snapped!r}; --no_snap to turn off)" if snapped else ""
        action = "replaced" if replaced else "wrote"
        print(f"{action} adapter for {shorten(description, 80)!r}{matched}: {target}")
    print(f"({len(written)} adapter(s) in {seconds:.2f}s)")
    print("load it with plain PEFT:")
    for line in load_lines(written[0][1], base):
        print(f"  {line}")
    if args.try_text:
        for description, target, _, _ in written:
            probs = try_adapter(target, args.try_text, base)
            for text, p in zip(args.try_text, probs):
                verdict = "matches" if p >= 0.5 else "does not match"
                print(f"[{shorten(description, 60)}] {text!r} -> label {int(p >= 0.5)} ({verdict}, p={p:.3f})")
    if args.push_to_hub:
        from text2lora.hub.cards import push_adapter_to_hub

        print(f"pushed: {push_adapter_to_hub(written[0][1], args.hub_model_id, private=args.private)}")
    return written


def shorten(text, width):
    """``text`` on one line, cut to ``width`` characters with an ellipsis when longer."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


if __name__ == "__main__":
    from text2lora.cli import run_cli

    run_cli(main)
