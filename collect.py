"""Collect a zoo of LoRA adapters with PEFT, one per task.

    python collect.py --output_dir zoo-run                      # the whole shipped suite
    python collect.py --output_dir zoo-run --tasks mr_positive trec_location
    accelerate launch --num_processes 2 collect.py --output_dir zoo-run   # shards tasks over processes
    python collect.py --output_dir zoo-run --pack zoos/minilm-default     # also write the compact fp16 zoo

Re-running skips finished tasks; a killed run loses at most the task in progress.
"""

import argparse
import logging
import os
import time

from text2lora.adapters import AdapterSpec
from text2lora.hub import DEFAULT_BASE_MODEL
from text2lora.training.collection import TrainingSettings, ZooCollector, write_index


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output_dir", required=True, help="Zoo directory (created; resumed if it exists).")
    p.add_argument("--tasks", nargs="*", default=None, help="Shipped task names (default: every task).")
    p.add_argument("--split", choices=["seen", "unseen"], default=None, help="Only seen or unseen tasks.")
    p.add_argument("--limit", type=int, default=None, help="Collect only the first N tasks.")
    p.add_argument("--base_model", default=DEFAULT_BASE_MODEL)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--lora_alpha", type=int, default=16)
    p.add_argument("--target_modules", nargs="+", default=["query", "value"])
    p.add_argument("--init_seed", type=int, default=0, help="Shared init of LoRA A and the head for every task.")
    p.add_argument("--max_length", type=int, default=64)
    p.add_argument("--learning_rate", type=float, default=2e-3)
    p.add_argument("--head_learning_rate", type=float, default=1e-2)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--max_train_examples", type=int, default=256)
    p.add_argument("--train_seed", type=int, default=0)
    p.add_argument("--num_checkpoints", type=int, default=1, help="Checkpoints kept per task (the last K).")
    p.add_argument("--checkpoint_interval", type=int, default=1, help="Steps between kept checkpoints.")
    p.add_argument("--extra_steps", type=int, default=0, help="Steps trained after the epochs.")
    p.add_argument("--embedder", default=DEFAULT_BASE_MODEL, help="For the zero-shot baseline ('none' skips it).")
    p.add_argument("--pack", default=None, help="Also write the compact fp16 zoo to this directory.")
    p.add_argument("--push_to_hub", action="store_true", help="Upload the packed zoo as a dataset repo.")
    p.add_argument("--hub_model_id", default=None, help="Dataset repo id for --push_to_hub.")
    p.add_argument("--private", action="store_true")
    p.add_argument("--no_progress", action="store_true")
    p.add_argument("--refresh_descriptions", action="store_true",
                   help="Only rewrite the descriptions in OUTPUT_DIR/index.jsonl from the suite (after paraphrases "
                        "were added to it), then exit; no training.")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from text2lora.fileio import check_output_dir

    check_output_dir(args.output_dir)
    if args.pack:
        check_output_dir(args.pack)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.refresh_descriptions:
        from text2lora.data.zoo import refresh_descriptions

        changed = refresh_descriptions(args.output_dir)
        print(f"refreshed the descriptions of {changed} rows: {args.output_dir}/index.jsonl")
        return
    import torch
    from accelerate import PartialState

    from text2lora.data.tasks import list_tasks, load_task

    state = PartialState(cpu=not torch.cuda.is_available())
    if args.tasks:
        names = list(args.tasks)
        for name in names:
            load_task(name)  # unknown names fail here, before anything is written
    else:
        names = list_tasks(split=args.split)
    if args.limit:
        names = names[: args.limit]
    if args.push_to_hub and not (args.pack and args.hub_model_id):
        raise ValueError("--push_to_hub needs --pack DIR and --hub_model_id NAME.")

    spec = AdapterSpec(base_model=args.base_model, r=args.rank, lora_alpha=args.lora_alpha,
                       target_modules=args.target_modules, init_seed=args.init_seed, max_length=args.max_length)
    settings = TrainingSettings(
        learning_rate=args.learning_rate, head_learning_rate=args.head_learning_rate, epochs=args.epochs,
        batch_size=args.batch_size, max_train_examples=args.max_train_examples, train_seed=args.train_seed,
        num_checkpoints=args.num_checkpoints, checkpoint_interval=args.checkpoint_interval,
        extra_steps=args.extra_steps,
    )
    embedder = None if args.embedder == "none" else args.embedder
    entries = os.path.join(args.output_dir, "entries")
    fresh = not (os.path.isdir(entries) and os.listdir(entries))  # the wall time covers the whole zoo
    start = time.perf_counter()
    collector = ZooCollector(args.output_dir, spec, settings, embedder=embedder, device=str(state.device),
                             process_index=state.process_index, num_processes=state.num_processes)
    done = collector.collect(names, progress=not args.no_progress and state.is_local_main_process)
    state.wait_for_everyone()
    if state.is_main_process:
        rows = write_index(args.output_dir)
        seconds = time.perf_counter() - start
        print(f"collected {done} new tasks in {seconds:.1f}s; index has {rows} rows: {args.output_dir}/index.jsonl")
        from text2lora.data.zoo import pack_zoo, zoo_report

        report = zoo_report(args.output_dir, wall_seconds=seconds if fresh else None)
        print(f"median test accuracy: fine-tuned {report['median_fine_tuned_test_accuracy']:.3f}, zero-shot "
              f"{report['median_zero_shot_test_accuracy'] or float('nan'):.3f}; report: {args.output_dir}/report.md")
        if args.pack:
            pack_zoo(args.output_dir, args.pack)
            print(f"packed zoo: {args.pack}")
            if args.push_to_hub:
                from text2lora.hub.cards import push_zoo_to_hub

                url = push_zoo_to_hub(args.pack, args.hub_model_id, private=args.private)
                print(f"pushed: {url}")


if __name__ == "__main__":
    from text2lora.cli import run_cli

    run_cli(main)
