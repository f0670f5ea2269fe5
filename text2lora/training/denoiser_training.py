"""Train a text2lora generator: a diffusion model over the LoRA weights of a zoo, conditioned on descriptions.

It follows diffusers' example training scripts: an ``Accelerator``, DDPMScheduler noise, Min-SNR weighting through
``compute_snr``, ``EMAModel``, ``save_state`` checkpoints with a total limit, and resuming from the latest complete
checkpoint. Only the zoo's seen tasks are used for training (by default). The result is a ``Text2LoraPipeline`` in
``args.output_dir``. ``train.py`` (``text2lora-train``) is the command line of :func:`train_denoiser`.
"""

import dataclasses
import logging
import math
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from ..cli import check_choices
from ..data.zoo import DEFAULT_ZOO
from ..fileio import TEMP_PREFIX, swap_in, write_json_atomic, write_text_atomic
from .denoising import denoising_loss

logger = logging.getLogger(__name__)

LR_SCHEDULERS = ["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"]


@dataclass
class DenoiserTrainingArguments:
    """The settings of one generator training run: one field per ``train.py`` flag."""

    zoo: str = field(default=DEFAULT_ZOO, metadata={"help": "Zoo directory or Hub dataset id."})
    embedder: str = field(default="sentence-transformers/all-MiniLM-L6-v2",
                          metadata={"help": "Sentence-transformers model that embeds the descriptions."})
    output_dir: str = field(default="text2lora-generator", metadata={"help": "Where the pipeline is written."})
    seed: int = field(default=0, metadata={"help": "Seed of the run."})
    train_split: str = field(default="seen", metadata={
        "help": "Train on the zoo's seen tasks (default) or on every task.", "choices": ["seen", "all"]})
    tasks: Optional[list[str]] = field(default=None, metadata={"help": "Only these zoo tasks.", "nargs": "*"})
    condition_type: str = field(default="text", metadata={
        "help": "Condition on description embeddings or on task ids.", "choices": ["text", "task_id"]})
    token_size: int = field(default=512, metadata={"help": "Parameters per token of the raw weight layout."})
    hidden_size: int = field(default=192, metadata={"help": "Width of the denoiser."})
    num_layers: int = field(default=3, metadata={"help": "Transformer blocks of the denoiser."})
    num_heads: int = field(default=4, metadata={"help": "Attention heads of the denoiser."})
    mlp_ratio: float = field(default=2.0, metadata={"help": "MLP width / hidden size."})
    latent_dim: int = field(default=130, metadata={
        "help": "Latent diffusion over a PCA parameter autoencoder of this size (0: diffuse raw tokens). Capped at the "
                "number of training adapters - 1, rounded to --latent_token_size."})
    latent_token_size: int = field(default=10, metadata={"help": "Latent values per token."})
    save_fp16: bool = field(default=False, metadata={"help": "Store the final pipeline's weights in fp16."})
    train_batch_size: int = field(default=32, metadata={"help": "Adapters per batch (per process)."})
    num_train_epochs: Optional[int] = field(default=None, metadata={
        "help": "Train for this many epochs (overrides --max_train_steps)."})
    max_train_steps: int = field(default=4500, metadata={"help": "Optimizer steps of the run."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Batches per optimizer step."})
    learning_rate: float = field(default=2e-3, metadata={"help": "AdamW learning rate."})
    lr_scheduler: str = field(default="cosine", metadata={"help": "Learning-rate schedule.",
                                                          "choices": LR_SCHEDULERS})
    lr_warmup_steps: int = field(default=100, metadata={"help": "Warmup steps of the schedule."})
    adam_weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    mixed_precision: Optional[str] = field(default=None, metadata={
        "help": "Accelerate's mixed precision (default: its configuration).", "choices": ["no", "fp16", "bf16"]})
    prediction_type: str = field(default="sample", metadata={
        "help": "What the denoiser predicts.", "choices": ["epsilon", "v_prediction", "sample"]})
    num_train_timesteps: int = field(default=1000, metadata={"help": "Diffusion timesteps of the noise schedule."})
    beta_schedule: str = field(default="squaredcos_cap_v2", metadata={"help": "DDPMScheduler beta schedule."})
    snr_gamma: float = field(default=0.0, metadata={
        "help": "Min-SNR weighting gamma through diffusers' compute_snr (0 disables it; try 5 with epsilon or "
                "v_prediction)."})
    use_ema: bool = field(default=False, metadata={"help": "Keep an EMA of the weights and save it."})
    ema_decay: float = field(default=0.999, metadata={"help": "EMA decay."})
    cond_dropout_prob: float = field(default=0.1, metadata={"help": "Null-condition rate, for CFG."})
    condition_mix: float = field(default=0.5, metadata={
        "help": "Probability that a training condition is a random convex mix (Dirichlet(1)) of the task's "
                "description embeddings instead of one of them."})
    condition_noise: float = field(default=0.2, metadata={
        "help": "Norm of the Gaussian noise added to each (unit) training condition before re-normalizing."})
    anchor_condition_prob: float = field(default=0.25, metadata={
        "help": "Probability that a training condition is the task's condition anchor (the normalized mean of its "
                "description embeddings, which the pipeline snaps descriptions to), with no noise."})
    descriptions_per_task: Optional[int] = field(default=None, metadata={
        "help": "Use only the first N training descriptions of each task (default: all)."})
    checkpointing_steps: int = field(default=500, metadata={"help": "Save a checkpoint every N steps."})
    checkpoints_total_limit: int = field(default=2, metadata={"help": "Complete checkpoints kept (the newest)."})
    resume_from_checkpoint: Optional[str] = field(default=None, metadata={"help": "A checkpoint folder, or 'latest'."})
    validation_tasks: Optional[list[str]] = field(default=None, metadata={
        "help": "Zoo tasks whose held-out descriptions are sampled at validation (default: 8 seen tasks; the flag "
                "alone: no validation).", "nargs": "*"})
    validation_steps: int = field(default=0, metadata={"help": "Validate every N steps (0: only at the end)."})
    num_inference_steps: int = field(default=25, metadata={"help": "Sampling steps at validation."})
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the generator to the Hub."})
    hub_model_id: Optional[str] = field(default=None, metadata={"help": "Repo id for --push_to_hub."})
    hub_private: bool = field(default=False, metadata={"help": "Make the Hub repo private."})
    dataloader_num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes."})

    def __post_init__(self):
        self.zoo, self.output_dir = os.fspath(self.zoo), os.fspath(self.output_dir)  # paths are recorded as JSON
        check_choices(self)
        if (not 0.0 <= self.condition_mix <= 1.0 or self.condition_noise < 0
                or not 0.0 <= self.anchor_condition_prob <= 1.0):
            raise ValueError("--condition_mix and --anchor_condition_prob must be in [0, 1] and --condition_noise >= 0")
        if self.checkpointing_steps < 1 or self.max_train_steps < 1 or self.train_batch_size < 1:
            raise ValueError("--checkpointing_steps, --max_train_steps and --train_batch_size must be >= 1")
        if self.push_to_hub and not self.hub_model_id:
            raise ValueError("--push_to_hub needs --hub_model_id")


class ZooDataset(torch.utils.data.Dataset):
    """(normalized parameter tokens, condition) pairs: one item per adapter, a random training description each
    time (or the task id).

    Condition augmentation (text conditions only) makes the description -> adapter map smooth around each task:
    with probability ``mix`` the condition is a random convex combination of the task's description embeddings,
    and ``noise`` (a norm) adds an isotropic Gaussian perturbation; the result is re-normalized to unit length,
    like the embedder's outputs. With probability ``anchor`` the condition is instead the task's anchor (the normalized
    mean of its description embeddings), exactly what a snapped description is conditioned on.
    """

    def __init__(self, tokens, conditions, seed=0, mix=0.0, noise=0.0, anchor=0.0):
        self.tokens = tokens  # (N, num_tokens, token_size), normalized
        self.conditions = conditions  # list of (n_desc, dim) tensors, or an (N,) long tensor of task ids
        self.rng = random.Random(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.mix = mix
        self.noise = noise
        self.anchor = anchor
        self.anchors = None
        if anchor and not isinstance(conditions, torch.Tensor):  # text conditions: the pipeline's own anchors
            from ..embedding import task_anchors

            self.anchors = torch.from_numpy(task_anchors([c.numpy() for c in conditions]))

    def __len__(self):
        return len(self.tokens)

    def __getitem__(self, i):
        cond = self.conditions[i]
        if self.anchors is not None and self.rng.random() < self.anchor:
            cond = self.anchors[i]
        elif cond.dim() == 2 and cond.shape[0] > 0:
            if self.mix and cond.shape[0] > 1 and self.rng.random() < self.mix:
                # Dirichlet(1, ..., 1) weights: normalized Exponential(1) draws.
                weights = -torch.rand(cond.shape[0], generator=self.generator).clamp_min(1e-12).log()
                cond = (weights / weights.sum()) @ cond
            else:
                cond = cond[self.rng.randrange(cond.shape[0])]
            if self.noise:
                direction = torch.randn(cond.shape, generator=self.generator)
                cond = cond + self.noise * direction / direction.norm()
            if self.mix or self.noise:
                cond = cond / cond.norm().clamp_min(1e-8)
        return {"tokens": self.tokens[i], "condition": cond}


def build_training_data(zoo, args, embedder):
    """(the zoo restricted to the training tasks, task names, {task: id}, conditions). Conditions are one (n, dim)
    tensor of description embeddings per adapter for text conditions, else an (N,) tensor of task ids. Reads
    ``args.tasks``, ``args.train_split``, ``args.condition_type`` and ``args.descriptions_per_task``."""
    from ..embedding import embed

    if args.tasks:
        tasks = list(args.tasks)
        missing = [t for t in tasks if t not in set(zoo.task_names())]
        if missing:
            raise ValueError(f"Tasks not in the zoo: {missing}")
    else:
        tasks = zoo.task_names(split=None if args.train_split == "all" else "seen")
    if not tasks:
        raise ValueError("No training tasks: the zoo has no seen tasks.")
    zoo = zoo.subset(tasks)
    task_ids = {t: i for i, t in enumerate(tasks)}
    if args.condition_type == "text":
        texts, spans = [], []
        for r in zoo.rows:
            desc = list(r["descriptions"])[: args.descriptions_per_task or None]
            if not desc:
                raise ValueError(f"Task '{r['task']}' has no training descriptions.")
            spans.append((len(texts), len(texts) + len(desc)))
            texts.extend(desc)
        vectors = torch.from_numpy(embed(texts, embedder))
        conditions = [vectors[a:b] for a, b in spans]
    else:
        conditions = torch.tensor([task_ids[r["task"]] for r in zoo.rows])
    return zoo, tasks, task_ids, conditions


def condition_anchors(zoo, tasks, conditions):
    """(task names, anchors): per training task, the normalized mean of its training-description embeddings, which the
    pipeline snaps descriptions to (``snap_to_seen_tasks``)."""
    from ..embedding import task_anchors

    per_task = {}
    for row, vectors in zip(zoo.rows, conditions):
        per_task.setdefault(row["task"], vectors)
    return tasks, task_anchors([per_task[t].numpy() for t in tasks])


def build_denoiser(zoo, tasks, conditions, args):
    """A new ``LoraDenoiser`` for the zoo's layout, configured by ``args``, its normalization fitted to the zoo."""
    from ..data.layout import LoraLayout
    from ..models import LoraDenoiser

    layout = LoraLayout(zoo.layout.keys, zoo.layout.shapes, token_size=args.token_size)
    latent_dim = 0
    if args.latent_dim:
        latent_dim = min(args.latent_dim, max(1, len(zoo.vectors) - 1))
        latent_dim = max(args.latent_token_size, latent_dim - latent_dim % args.latent_token_size)
    text = args.condition_type == "text"
    denoiser = LoraDenoiser(
        layout=layout.to_dict(), adapter_spec=zoo.spec.to_dict(), condition_type=args.condition_type,
        condition_dim=conditions[0].shape[-1] if text else 384, num_tasks=0 if text else len(tasks),
        hidden_size=args.hidden_size, num_layers=args.num_layers, num_heads=args.num_heads, mlp_ratio=args.mlp_ratio,
        latent_dim=latent_dim, latent_token_size=args.latent_token_size,
    )
    denoiser.fit_normalization(zoo.vectors)
    return denoiser


@dataclass
class TrainingRun:
    """What a training run holds once set up: the prepared model, optimizer, data and schedulers, and its progress."""

    args: DenoiserTrainingArguments
    accelerator: object
    zoo: object
    tasks: list
    anchors: Optional[tuple]
    denoiser: torch.nn.Module
    ema: object
    noise_scheduler: object
    trainable: list
    optimizer: torch.optim.Optimizer
    lr_scheduler: object
    dataloader: torch.utils.data.DataLoader
    steps_per_epoch: int
    global_step: int = 0
    history: list = field(default_factory=list)


def setup_training(args):
    """Build the accelerator, data, denoiser, EMA, optimizer and schedulers of a run (``accelerator.prepare``d)."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel

    from ..data.zoo import Zoo
    from ..models import LoraDenoiser
    from .checkpoints import register_checkpoint_hooks

    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps, mixed_precision=args.mixed_precision,
        project_config=ProjectConfiguration(project_dir=args.output_dir,
                                            logging_dir=os.path.join(args.output_dir, "logs")),
        cpu=not torch.cuda.is_available(),
    )
    logger.info(accelerator.state)
    set_seed(args.seed)
    zoo = Zoo.load(args.zoo)  # loaded first: a bad zoo writes nothing
    if accelerator.is_main_process:
        os.makedirs(args.output_dir, exist_ok=True)
    zoo, tasks, _, conditions = build_training_data(zoo, args, args.embedder)
    anchors = condition_anchors(zoo, tasks, conditions) if args.condition_type == "text" else None
    denoiser = build_denoiser(zoo, tasks, conditions, args)
    tokens = denoiser.encode(zoo.vectors)
    noise_scheduler = DDPMScheduler(num_train_timesteps=args.num_train_timesteps, beta_schedule=args.beta_schedule,
                                    clip_sample=False, prediction_type=args.prediction_type)
    ema = None
    if args.use_ema:
        ema = EMAModel(denoiser.parameters(), decay=args.ema_decay, model_cls=LoraDenoiser,
                       model_config=denoiser.config)
    register_checkpoint_hooks(accelerator, ema)  # checkpoints hold the denoiser (and EMA) in diffusers format

    trainable = [p for p in denoiser.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=args.adam_weight_decay)
    dataset = ZooDataset(tokens, conditions, seed=args.seed + accelerator.process_index, mix=args.condition_mix,
                         noise=args.condition_noise, anchor=args.anchor_condition_prob)
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=args.train_batch_size, shuffle=True, drop_last=False,
                                             num_workers=args.dataloader_num_workers)
    steps_per_epoch = math.ceil(len(dataloader) / args.gradient_accumulation_steps)
    if args.num_train_epochs is not None:
        args = dataclasses.replace(args, max_train_steps=args.num_train_epochs * steps_per_epoch)
    lr_scheduler = get_scheduler(args.lr_scheduler, optimizer=optimizer,
                                 num_warmup_steps=args.lr_warmup_steps * accelerator.num_processes,
                                 num_training_steps=args.max_train_steps * accelerator.num_processes)
    denoiser, optimizer, dataloader, lr_scheduler = accelerator.prepare(denoiser, optimizer, dataloader, lr_scheduler)
    if ema is not None:
        ema.to(accelerator.device)
    logger.info("***** Training: %d adapters of %d tasks, %d params in %d tokens, %d steps *****", len(dataset),
                len(tasks), zoo.layout.num_params, accelerator.unwrap_model(denoiser).layout.num_tokens,
                args.max_train_steps)
    return TrainingRun(args, accelerator, zoo, tasks, anchors, denoiser, ema, noise_scheduler, trainable, optimizer,
                       lr_scheduler, dataloader, steps_per_epoch)


def resume(run):
    """Remove interrupted checkpoint saves and, with ``resume_from_checkpoint``, load the state of that checkpoint
    (``"latest"``: the newest complete one). Sets ``run.global_step``; returns the first epoch to run."""
    from .checkpoints import checkpoint_step, latest_checkpoint, remove_interrupted_saves

    args, accelerator = run.args, run.accelerator
    if accelerator.is_main_process:
        removed = remove_interrupted_saves(args.output_dir)
        if removed:
            logger.info("Removed interrupted checkpoint saves: %s", ", ".join(removed))
    if not args.resume_from_checkpoint:
        return 0
    path = args.resume_from_checkpoint
    if path == "latest":
        path = latest_checkpoint(args.output_dir)
    if path is None:
        logger.info("No complete checkpoint to resume from; starting a new run.")
        return 0
    if not os.path.isdir(path):
        raise ValueError(f"Checkpoint '{path}' does not exist.")
    run.global_step = checkpoint_step(path)
    accelerator.load_state(path)
    logger.info("Resumed from %s at step %d", path, run.global_step)
    return run.global_step // run.steps_per_epoch


def training_step(run, batch):
    """One forward/backward pass on ``batch`` (an optimizer step when gradients sync); returns the loss."""
    args, accelerator = run.args, run.accelerator
    with accelerator.accumulate(run.denoiser):
        loss = denoising_loss(run.denoiser, run.noise_scheduler, batch["tokens"], batch["condition"],
                              args.prediction_type, args.snr_gamma, args.cond_dropout_prob)
        accelerator.backward(loss)
        if accelerator.sync_gradients:
            accelerator.clip_grad_norm_(run.trainable, args.max_grad_norm)
        run.optimizer.step()
        run.lr_scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)
    return loss


def end_of_step(run, loss, progress):
    """After an optimizer step: the EMA update, the step count, the loss history, checkpoints and validation."""
    from .checkpoints import save_checkpoint

    args, accelerator = run.args, run.accelerator
    if run.ema is not None:
        run.ema.step(accelerator.unwrap_model(run.denoiser).parameters())
    run.global_step += 1
    progress.update(1)
    loss_value = accelerator.gather(loss.detach()[None]).mean().item()
    progress.set_postfix(loss=f"{loss_value:.4f}", lr=run.lr_scheduler.get_last_lr()[0])
    run.history.append({"step": run.global_step, "loss": loss_value})
    if run.global_step % args.checkpointing_steps == 0:
        save_checkpoint(accelerator, args.output_dir, run.global_step, args.checkpoints_total_limit)
    if args.validation_steps and run.global_step % args.validation_steps == 0 and accelerator.is_main_process:
        log_validation(current_pipeline(run), run.zoo, args, run.global_step)


def current_pipeline(run):
    """The run's denoiser (EMA weights when kept) as a ``Text2LoraPipeline``."""
    return make_pipeline(run.accelerator.unwrap_model(run.denoiser), run.ema, run.noise_scheduler, run.args,
                         run.anchors)


def train_denoiser(args: DenoiserTrainingArguments) -> str:
    """Train a generator as ``args`` says and save it as a ``Text2LoraPipeline``; returns ``args.output_dir``.

    Run it on every process of an ``accelerate launch``; only the main process writes the pipeline.
    """
    from tqdm.auto import tqdm

    from ..fileio import check_output_dir

    check_output_dir(args.output_dir)
    run = setup_training(args)
    first_epoch = resume(run)
    args, accelerator = run.args, run.accelerator
    num_epochs = math.ceil(args.max_train_steps / run.steps_per_epoch)
    progress = tqdm(range(args.max_train_steps), initial=run.global_step, desc="Steps",
                    disable=not accelerator.is_local_main_process)
    start = time.perf_counter()
    for _epoch in range(first_epoch, num_epochs):
        run.denoiser.train()
        for batch in run.dataloader:
            loss = training_step(run, batch)
            if accelerator.sync_gradients:
                end_of_step(run, loss, progress)
            if run.global_step >= args.max_train_steps:
                break
        if run.global_step >= args.max_train_steps:
            break

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        pipe = current_pipeline(run)
        save_pipeline(pipe, args, run.zoo, run.tasks, run.history, time.perf_counter() - start)
        if args.validation_tasks is None or args.validation_tasks:
            log_validation(pipe, run.zoo, args, run.global_step, write=True)
        if args.push_to_hub:
            from ..hub.cards import push_generator_to_hub

            url = push_generator_to_hub(args.output_dir, args.hub_model_id, private=args.hub_private)
            logger.info("Pushed the generator to %s", url)
    accelerator.end_training()
    return args.output_dir


def make_pipeline(denoiser, ema, noise_scheduler, args, anchors=None):
    """A ``Text2LoraPipeline`` with a copy of ``denoiser`` (EMA weights when ``ema`` is given), condition anchors and
    a DDIM scheduler built from the training noise scheduler."""
    from diffusers import DDIMScheduler

    from ..models import LoraDenoiser
    from ..pipelines import Text2LoraPipeline

    model = LoraDenoiser.from_config(denoiser.config)
    model.load_state_dict(denoiser.state_dict())
    if ema is not None:
        ema.copy_to(model.parameters())
    if anchors is not None:
        model.set_condition_anchors(*anchors)
    model.eval()
    scheduler = DDIMScheduler.from_config(noise_scheduler.config)
    return Text2LoraPipeline(denoiser=model, scheduler=scheduler, embedder=args.embedder)


def save_pipeline(pipe, args, zoo, tasks, history, seconds):
    """Write the pipeline, its model card and ``training_info.json`` into ``args.output_dir`` (beside the
    checkpoints)."""
    tmp = os.path.join(args.output_dir, f"{TEMP_PREFIX}pipeline")
    shutil.rmtree(tmp, ignore_errors=True)
    if args.save_fp16:
        pipe.denoiser.to(torch.float16)
    pipe.save_pretrained(tmp)
    pipe.denoiser.to(torch.float32)
    for item in os.listdir(tmp):  # the pipeline's own components (model_index.json, denoiser/, scheduler/)
        swap_in(os.path.join(tmp, item), os.path.join(args.output_dir, item))
    os.rmdir(tmp)
    final_loss = float(np.mean([h["loss"] for h in history[-50:]])) if history else None
    info = {"zoo": os.fspath(args.zoo), "train_tasks": tasks, "training_args": dataclasses.asdict(args),
            "train_seconds": seconds, "final_loss": final_loss,
            "loss_history": history[:: max(1, len(history) // 200)]}
    write_generator_card(pipe, args, zoo, tasks)
    write_json_atomic(os.path.join(args.output_dir, "training_info.json"), info)
    logger.info("Saved the pipeline to %s", args.output_dir)


def write_generator_card(pipe, args, zoo, tasks, evaluation=None):
    """README.md model card of the generator folder ``args.output_dir`` (rendered from
    ``text2lora/hub/templates/generator_card.md``)."""
    from ..hub.cards import render_generator_card

    keys = ("learning_rate", "max_train_steps", "train_batch_size", "prediction_type", "snr_gamma", "use_ema",
            "cond_dropout_prob", "condition_mix", "condition_noise", "anchor_condition_prob", "latent_dim",
            "token_size", "hidden_size", "num_layers", "num_heads", "seed")
    card = render_generator_card({
        "generator_id": args.hub_model_id, "zoo": os.fspath(args.zoo), "base_model": zoo.spec.base_model,
        "embedder": args.embedder, "num_seen_tasks": len(tasks), "scheduler": pipe.scheduler.__class__.__name__,
        "training": {k: getattr(args, k) for k in keys}, "evaluation": evaluation,
    })
    write_text_atomic(os.path.join(args.output_dir, "README.md"), card)


def log_validation(pipe, zoo, args, step, write=False):
    """Sample adapters from held-out descriptions of validation tasks and measure real val accuracy."""
    from ..adapters import AdapterScorer
    from ..data.tasks import load_task

    names = args.validation_tasks
    if names is None:
        seen = zoo.task_names()
        names = seen[:: max(1, len(seen) // 8)][:8]
    if args.condition_type != "text":
        return None
    scorer = AdapterScorer(zoo.spec)
    results = []
    generator = torch.Generator().manual_seed(args.seed)
    for name in names:
        try:
            task = load_task(name)
        except ValueError:
            continue
        desc = (task.heldout_descriptions or task.descriptions)[0]
        adapter = pipe(desc, num_inference_steps=args.num_inference_steps, generator=generator).adapters[0]
        gen = scorer.score(adapter, task, "val")
        ref = scorer.score(zoo.layout.unflatten(zoo.task_vector(name)), task, "val")
        results.append({"task": name, "description": desc, "generated_val": gen, "fine_tuned_val": ref})
        logger.info("step %d validation %s: generated %.3f fine-tuned %.3f", step, name, gen, ref)
    if results:
        ratio = float(np.median([r["generated_val"] / r["fine_tuned_val"] for r in results]))
        logger.info("step %d validation median ratio generated/fine-tuned: %.3f", step, ratio)
        if write:
            write_json_atomic(os.path.join(args.output_dir, "validation.json"),
                              {"step": step, "median_ratio": ratio, "tasks": results})
    return results
