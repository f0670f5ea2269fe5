"""Collect a zoo of LoRA adapters with PEFT, one per task.

    python collect.py --output_dir zoo-run                      # the whole shipped suite
    python collect.py --output_dir zoo-run --tasks mr_positive trec_location
    accelerate launch --num_processes 2 collect.py --output_dir zoo-run   # shards tasks over processes
    python collect.py --output_dir zoo-run --pack zoos/minilm-default     # also write the compact fp16 zoo

Re-running skips finished tasks; a killed run loses at most the task in progress. The adapter flags are the fields of
``text2lora.adapters.AdapterSpec`` (``--rank`` is ``--r``), the training flags those of
``text2lora.training.collection.TrainingSettings``.
"""

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Optional

from ..adapters import AdapterSpec
from ..cli import check_choices, parse_dataclasses, run_cli
from ..data.zoo import pack_zoo, write_index, zoo_report
from ..hub import DEFAULT_BASE_MODEL
from ..training.collection import TrainingSettings, ZooCollector


@dataclass
class CollectArguments:
    """The flags of ``collect.py`` that are neither adapter nor training settings."""

    output_dir: str = field(metadata={"help": "Zoo directory (created; resumed if it exists)."})
    tasks: Optional[list[str]] = field(default=None, metadata={
        "help": "Shipped task names (default: every task).", "nargs": "*"})
    split: Optional[str] = field(default=None, metadata={
        "help": "Only the tasks of one split (default: seen and unseen; unseen_dataset: the held-out datasets' tasks, "
                "collected for evaluation only).", "choices": ["seen", "unseen", "unseen_dataset"]})
    limit: Optional[int] = field(default=None, metadata={"help": "Collect only the first N tasks."})
    embedder: str = field(default=DEFAULT_BASE_MODEL, metadata={
        "help": "For the zero-shot baseline ('none' skips it)."})
    pack: Optional[str] = field(default=None, metadata={"help": "Also write the compact fp16 zoo to this directory."})
    extend: Optional[str] = field(default=None, metadata={
        "help": "Append the collected tasks to this packed zoo (same recipe; e.g. the adapters of newly held-out "
                "datasets) instead of packing a new one."})
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the packed zoo as a dataset repo."})
    hub_model_id: Optional[str] = field(default=None, metadata={"help": "Dataset repo id for --push_to_hub."})
    private: bool = field(default=False, metadata={"help": "Make the dataset repo private."})
    no_progress: bool = field(default=False, metadata={"help": "No progress bars."})
    refresh_descriptions: bool = field(default=False, metadata={
        "help": "Only rewrite the descriptions in OUTPUT_DIR/index.jsonl from the suite (after paraphrases were added "
                "to it), then exit; no training."})

    def __post_init__(self):
        check_choices(self)
        if self.push_to_hub and not (self.pack and self.hub_model_id):
            raise ValueError("--push_to_hub needs --pack DIR and --hub_model_id NAME.")
        if self.extend and self.pack:
            raise ValueError("Give --pack (a new packed zoo) or --extend (append to one), not both.")


def parse_args(argv=None):
    """(CollectArguments, AdapterSpec, TrainingSettings) of ``argv`` (default: ``sys.argv[1:]``)."""
    return parse_dataclasses([CollectArguments, AdapterSpec, TrainingSettings], argv, description=__doc__)


def task_names(args):
    """The shipped tasks to collect; unknown names fail here, before anything is written."""
    from ..data.tasks import list_tasks, load_task

    if args.tasks:
        names = list(args.tasks)
        for name in names:
            load_task(name)
    else:
        names = list_tasks(split=args.split)
    return names[: args.limit] if args.limit else names


def main(argv=None):
    """Collect (or resume) the zoo the flags describe; print what was done."""
    args, spec, settings = parse_args(argv)
    from ..fileio import check_output_dir

    check_output_dir(args.output_dir)
    if args.pack:
        check_output_dir(args.pack)
    if args.extend:
        from ..data.zoo import is_packed_zoo

        if not is_packed_zoo(args.extend):
            raise ValueError(f"--extend '{args.extend}' is not a packed text2lora zoo.")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.refresh_descriptions:
        from ..data.zoo import refresh_descriptions

        changed = refresh_descriptions(args.output_dir)
        print(f"refreshed the descriptions of {changed} rows: {args.output_dir}/index.jsonl")
        return
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    names = task_names(args)
    if args.extend:  # before hours of training: extend_packed_zoo refuses tasks the packed zoo has
        from ..data.zoo import Zoo

        present = sorted(set(names) & set(Zoo.load(args.extend).task_names()))
        if present:
            raise ValueError(f"--extend '{args.extend}' already has {len(present)} of these tasks "
                             f"({', '.join(present[:3])}); collect only new ones (--tasks).")
    embedder = None if args.embedder == "none" else args.embedder
    entries = os.path.join(args.output_dir, "entries")
    fresh = not (os.path.isdir(entries) and os.listdir(entries))  # the wall time covers the whole zoo
    start = time.perf_counter()
    collector = ZooCollector(args.output_dir, spec, settings, embedder=embedder, device=str(state.device),
                             process_index=state.process_index, num_processes=state.num_processes)
    done = collector.collect(names, progress=not args.no_progress and state.is_local_main_process)
    state.wait_for_everyone()
    if state.is_main_process:
        finish(args, done, time.perf_counter() - start, fresh)


def finish(args, done, seconds, fresh):
    """On the main process: write the index and the report, pack and push the zoo as asked, and print each step."""
    rows = write_index(args.output_dir)
    print(f"collected {done} new tasks in {seconds:.1f}s; index has {rows} rows: {args.output_dir}/index.jsonl")
    report = zoo_report(args.output_dir, wall_seconds=seconds if fresh else None)
    print(f"median test accuracy: fine-tuned {report['median_fine_tuned_test_accuracy']:.3f}, zero-shot "
          f"{report['median_zero_shot_test_accuracy'] or float('nan'):.3f}; report: {args.output_dir}/report.md")
    if args.extend:
        from ..data.zoo import extend_packed_zoo

        extend_packed_zoo(args.extend, args.output_dir)
        print(f"appended {rows} rows to the packed zoo: {args.extend}")
    if args.pack:
        pack_zoo(args.output_dir, args.pack)
        print(f"packed zoo: {args.pack}")
        if args.push_to_hub:
            from ..hub.cards import push_zoo_to_hub

            url = push_zoo_to_hub(args.pack, args.hub_model_id, private=args.private)
            print(f"pushed: {url}")


def run():
    """The ``text2lora-collect`` console script."""
    run_cli(main)
