"""Generate a PEFT LoRA adapter from a task description.

    python generate.py --task "classify sentiment"
    python generate.py --task "detect angry tweets" --try "I hate waiting in line"
    python generate.py --task "detect spam" --labels "not spam" spam --try "win a free iphone now"
    python generate.py --task "find sports news" --task "spot spam" --num_adapters 2 --output_dir adapters

Each adapter is written to <output_dir>/<slug>[--<hash>]-<method>[-seed<seed>][-<i>] (the hash of the description is
added when the slug does not spell it exactly) with adapter_config.json, adapter_model.safetensors (PEFT's own save
path), generation_config.json (with the label names, id2label/label2id) and a README.md model card. An existing folder
is never replaced without --overwrite, and then only if it is an adapter text2lora wrote holding nothing else.
"""

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

from ..cli import check_choices, check_device, parse_dataclasses, run_cli


@dataclass
class GenerateArguments:
    """The flags of ``generate.py``. ``--task`` and ``--try`` are repeatable (``--task a --task b``)."""

    task: list[str] = field(metadata={"help": "Task description (repeatable).", "action": "extend"})
    generator: Optional[str] = field(default=None, metadata={
        "help": "Generator directory or Hub id (default: the shipped one)."})
    output_dir: str = field(default="generated-adapters", metadata={"help": "Folder of the adapter folders."})
    overwrite: bool = field(default=False, metadata={
        "help": "Replace adapter folders of the same name that text2lora wrote before (never other files)."})
    num_adapters: int = field(default=1, metadata={"help": "Adapters per task."})
    num_inference_steps: int = field(default=25, metadata={"help": "Sampling steps."})
    guidance_scale: float = field(default=1.0, metadata={"help": "Classifier-free guidance scale."})
    scheduler: Optional[str] = field(default=None, metadata={
        "help": "Swap the sampler (default: the one saved with the generator).", "choices": ["ddim", "dpm", "ddpm"]})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})
    method: str = field(default="auto", metadata={
        "help": "auto: the denoiser for descriptions close to a seen task, the head generator for new tasks (the "
                "generator's routing_threshold decides; see reports/evaluation.md); diffusion: always sample the "
                "denoiser; hypernetwork: always the head generator added by train_head.py.",
        "choices": ["auto", "diffusion", "hypernetwork"]})
    no_snap: bool = field(default=False, metadata={
        "help": "--method diffusion: condition on the description's own embedding instead of snapping it to the "
                "nearest seen task's anchor (the default when the generator has anchors)."})
    device: str = field(default="cpu", metadata={"help": "cpu, cuda, cuda:N or mps."})
    labels: Optional[list[str]] = field(default=None, metadata={
        "help": "Names of label 0 and label 1, e.g. --labels \"not spam\" spam (default: label 1 named after the seen "
                "task the description matched, or after the description; label 0 its complement)."})
    try_text: Optional[list[str]] = field(default=None, metadata={
        "help": "Classify this text with the generated adapter (repeatable).", "aliases": ["--try"],
        "action": "extend"})
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the adapter to the Hub."})
    hub_model_id: Optional[str] = field(default=None, metadata={
        "help": "Repo id for --push_to_hub (one task, one adapter)."})
    private: bool = field(default=False, metadata={"help": "Make the Hub repo private."})
    verbose: bool = field(default=False, metadata={
        "help": "Show the libraries' warnings, load reports and progress bars (hidden by default)."})

    def __post_init__(self):
        check_choices(self)
        for task in self.task:
            if not task or not task.strip():
                raise ValueError("--task must be a non-empty description, e.g. --task \"classify sentiment\".")
        if len(set(self.task)) != len(self.task):
            raise ValueError("The same --task was given twice.")
        if self.num_inference_steps < 1:
            raise ValueError(f"--num_inference_steps must be >= 1, got {self.num_inference_steps}.")
        if self.guidance_scale < 0:
            raise ValueError(f"--guidance_scale must be >= 0, got {self.guidance_scale}.")
        if self.num_adapters < 1:
            raise ValueError(f"--num_adapters must be >= 1, got {self.num_adapters}.")
        if self.no_snap and self.method != "diffusion":
            raise ValueError("--no_snap applies to --method diffusion only.")
        if self.labels is not None:
            from ..labels import check_labels

            self.labels = check_labels(self.labels, "--labels")
        if self.push_to_hub and (not self.hub_model_id or len(self.task) * self.num_adapters != 1):
            raise ValueError("--push_to_hub needs --hub_model_id and exactly one task with one adapter.")


def parse_args(argv=None):
    """The :class:`GenerateArguments` of ``argv`` (default: ``sys.argv[1:]``)."""
    (args,) = parse_dataclasses(GenerateArguments, argv, description=__doc__)
    return args


def output_targets(args):
    """(description, sample index, folder, replaced) for every adapter to write, checked before any work is done."""
    from ..fileio import check_output_location, prepare_target
    from ..pipelines import adapter_folder_name

    check_output_location(args.output_dir)
    targets = []
    for description in args.task:
        for k in range(args.num_adapters):
            name = adapter_folder_name(description, args.method, args.seed, k if args.num_adapters > 1 else None)
            target = os.path.join(args.output_dir, name)
            targets.append((description, k, target, prepare_target(target, args.overwrite)))
    return targets


def try_lines(adapter_dir, texts):
    """One line per text: the label the adapter gives it, with its probability and the other label's, e.g.
    ``'win a free iphone now' -> spam (p=0.81; not spam 0.19)`` (:mod:`text2lora.inference`)."""
    from ..inference import classify, load_classifier

    model, tokenizer = load_classifier(adapter_dir)
    lines = []
    for text, probs in zip(texts, classify(texts, model, tokenizer)):
        (name0, p0), (name1, p1) = probs.items()
        best, other = ((name1, p1), (name0, p0)) if p1 >= p0 else ((name0, p0), (name1, p1))
        lines.append(f"{text!r} -> {best[0]} (p={best[1]:.2f}; {other[0]} {other[1]:.2f})")
    return lines


def load_lines(target, base_model, labels=None):
    """The lines that load the written adapter with plain PEFT, offline too (printed after generation); with the
    adapter's ``labels`` ([name0, name1]) the base config gets ``id2label``/``label2id``, so ``transformers.pipeline``
    names them."""
    label_kwargs = ""
    if labels is not None:
        id2label = dict(enumerate(labels))
        label_kwargs = f", id2label={id2label!r}, label2id={ {name: i for i, name in id2label.items()}!r}"
    return [
        "from peft import PeftModel",
        "from transformers import AutoModelForSequenceClassification",
        "from text2lora import resolve_model  # the packaged copy of the base, so no network is needed",
        f"base = AutoModelForSequenceClassification.from_pretrained(resolve_model({base_model!r}){label_kwargs})",
        f"model = PeftModel.from_pretrained(base, {target!r})",
    ]


def generate_adapters(args, targets):
    """Sample the adapters and save each into its target folder with the generation config the pipeline recorded
    (so the card is the one the Python API writes); returns (description, folder, snapped task, replaced, labels,
    generation config) per adapter and the pipeline."""
    import torch

    from ..pipelines import load_generator

    pipe = load_generator(args.generator, args.device, scheduler=args.scheduler)
    generator = torch.Generator(device=args.device).manual_seed(args.seed)
    out = pipe(args.task, num_inference_steps=args.num_inference_steps, guidance_scale=args.guidance_scale,
               num_adapters_per_prompt=args.num_adapters, generator=generator, method=args.method,
               snap_to_seen_tasks=False if args.no_snap else None, labels=args.labels)
    written = []
    peft_model = pipe.peft_model()
    for i, (adapter, (description, _, target, replaced)) in enumerate(zip(out.adapters, targets)):
        pipe.save_adapter(adapter, target, generation_config=out.generation_configs[i], peft_model=peft_model,
                          overwrite=args.overwrite)
        snapped = out.snapped_tasks[i] if out.snapped_tasks is not None else None
        written.append((description, target, snapped, replaced, out.labels[i], out.generation_configs[i]))
    return written, pipe


def main(argv=None):
    """Generate and save the adapters the flags ask for, print where they are and how to load them; returns
    (description, folder, snapped task, replaced, [label 0 name, label 1 name], generation config) per adapter."""
    args = parse_args(argv)
    check_device(args.device)
    targets = output_targets(args)
    if not args.verbose:
        quiet_libraries()
    from ..embedding import overlong_texts

    start = time.perf_counter()
    written, pipe = generate_adapters(args, targets)
    seconds = time.perf_counter() - start
    base = pipe.adapter_spec.base_model
    for description in overlong_texts(args.task, pipe.embedder_model):
        print(f"note: the embedder reads only the first {pipe.embedder_model.max_seq_length} tokens of "
              f"{shorten(description, 60)!r}; the rest of it was ignored.", file=sys.stderr)
    for description, target, snapped, replaced, labels, config in written:
        matched = f" (conditioned on the seen task {snapped!r})" if snapped else ""
        routing = config.get("routing")
        if routing and config["method"] == "hypernetwork":
            matched = (f" (a new task: cosine {routing['similarity']:.2f} to the nearest seen task "
                       f"{routing['nearest_seen_task']!r} < {routing['threshold']}, so the head generator wrote it)")
        action = "replaced" if replaced else "wrote"
        print(f"{action} adapter for {shorten(description, 80)!r}{matched}: {target}")
        print(f"  labels: 0 = {labels[0]!r}, 1 = {labels[1]!r}")
    print(f"({len(written)} adapter(s) in {seconds:.2f}s)")
    print("load it with plain PEFT:")
    for line in load_lines(written[0][1], base, written[0][4]):
        print(f"  {line}")
    if args.try_text:
        for description, target, *_ in written:
            prefix = f"[{shorten(description, 60)}] " if len(written) > 1 else ""
            for line in try_lines(target, args.try_text):
                print(prefix + line)
    if args.push_to_hub:
        from ..hub.cards import push_adapter_to_hub

        print(f"pushed: {push_adapter_to_hub(written[0][1], args.hub_model_id, private=args.private)}")
    return written


def quiet_libraries():
    """Hide what the libraries print on a normal run and cannot be acted on: transformers' and diffusers' info
    logs, load reports and progress bars, and their deprecation warnings (``--verbose`` keeps them)."""
    import warnings

    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for logging_module in (transformers_logging, diffusers_logging):
        logging_module.set_verbosity_error()
        logging_module.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def shorten(text, width):
    """``text`` on one line, cut to ``width`` characters with an ellipsis when longer."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def run():
    """The ``text2lora-generate`` console script."""
    run_cli(main, one_shot=True)
