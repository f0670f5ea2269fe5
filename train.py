"""Train a text2lora generator: a diffusion model over the LoRA weights of a zoo, conditioned on descriptions.

    python train.py --zoo zoos/minilm-default --output_dir generator-run
    accelerate launch train.py --zoo zoos/minilm-default --output_dir generator-run --use_ema --snr_gamma 5

It follows diffusers' example training scripts: an ``Accelerator``, DDPMScheduler noise, Min-SNR weighting through
``compute_snr``, ``EMAModel``, ``save_state`` checkpoints with a total limit, and ``--resume_from_checkpoint latest``.
Only the zoo's seen tasks are used for training. The result is a ``Text2LoraPipeline`` in ``--output_dir``.
"""

import argparse
import json
import logging
import math
import os
import random
import shutil
import time

import numpy as np
import torch

logger = logging.getLogger("text2lora.train")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zoo", default="zoos/minilm-default", help="Zoo directory or Hub dataset id.")
    p.add_argument("--embedder", default="sentence-transformers/all-MiniLM-L6-v2")
    p.add_argument("--output_dir", default="text2lora-generator")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train_split", default="seen", choices=["seen", "all"],
                   help="Train on the zoo's seen tasks (default) or on every task.")
    p.add_argument("--tasks", nargs="*", default=None, help="Only these zoo tasks.")
    p.add_argument("--condition_type", default="text", choices=["text", "task_id"])
    p.add_argument("--token_size", type=int, default=512)
    p.add_argument("--hidden_size", type=int, default=192)
    p.add_argument("--num_layers", type=int, default=3)
    p.add_argument("--num_heads", type=int, default=4)
    p.add_argument("--mlp_ratio", type=float, default=2.0)
    p.add_argument("--latent_dim", type=int, default=130,
                   help="Latent diffusion over a PCA parameter autoencoder of this size (0: diffuse raw tokens). "
                        "Capped at the number of training adapters - 1, rounded to --latent_token_size.")
    p.add_argument("--latent_token_size", type=int, default=10)
    p.add_argument("--save_fp16", action="store_true", help="Store the final pipeline's weights in fp16.")
    p.add_argument("--train_batch_size", type=int, default=32)
    p.add_argument("--num_train_epochs", type=int, default=None)
    p.add_argument("--max_train_steps", type=int, default=4500)
    p.add_argument("--gradient_accumulation_steps", type=int, default=1)
    p.add_argument("--learning_rate", type=float, default=2e-3)
    p.add_argument("--lr_scheduler", default="cosine",
                   choices=["linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
                            "constant_with_warmup"])
    p.add_argument("--lr_warmup_steps", type=int, default=100)
    p.add_argument("--adam_weight_decay", type=float, default=0.0)
    p.add_argument("--max_grad_norm", type=float, default=1.0)
    p.add_argument("--mixed_precision", default=None, choices=["no", "fp16", "bf16"])
    p.add_argument("--prediction_type", default="sample", choices=["epsilon", "v_prediction", "sample"])
    p.add_argument("--num_train_timesteps", type=int, default=1000)
    p.add_argument("--beta_schedule", default="squaredcos_cap_v2")
    p.add_argument("--snr_gamma", type=float, default=0.0,
                   help="Min-SNR weighting gamma through diffusers' compute_snr (0 disables it; try 5 with epsilon or "
                        "v_prediction).")
    p.add_argument("--use_ema", action="store_true")
    p.add_argument("--ema_decay", type=float, default=0.999)
    p.add_argument("--cond_dropout_prob", type=float, default=0.1, help="Null-condition rate, for CFG.")
    p.add_argument("--condition_mix", type=float, default=0.5,
                   help="Probability that a training condition is a random convex mix (Dirichlet(1)) of the task's "
                        "description embeddings instead of one of them.")
    p.add_argument("--condition_noise", type=float, default=0.2,
                   help="Norm of the Gaussian noise added to each (unit) training condition before re-normalizing.")
    p.add_argument("--anchor_condition_prob", type=float, default=0.25,
                   help="Probability that a training condition is the task's condition anchor (the normalized mean of "
                        "its description embeddings, which the pipeline snaps descriptions to), with no noise.")
    p.add_argument("--descriptions_per_task", type=int, default=None,
                   help="Use only the first N training descriptions of each task (default: all).")
    p.add_argument("--checkpointing_steps", type=int, default=500)
    p.add_argument("--checkpoints_total_limit", type=int, default=2)
    p.add_argument("--resume_from_checkpoint", default=None, help="A checkpoint folder, or 'latest'.")
    p.add_argument("--validation_tasks", nargs="*", default=None,
                   help="Zoo tasks whose held-out descriptions are sampled at validation (default: 8 seen tasks).")
    p.add_argument("--validation_steps", type=int, default=0, help="Validate every N steps (0: only at the end).")
    p.add_argument("--num_inference_steps", type=int, default=25)
    p.add_argument("--push_to_hub", action="store_true")
    p.add_argument("--hub_model_id", default=None)
    p.add_argument("--hub_private", action="store_true")
    p.add_argument("--dataloader_num_workers", type=int, default=0)
    args = p.parse_args(argv)
    if not 0.0 <= args.condition_mix <= 1.0 or args.condition_noise < 0 or not 0.0 <= args.anchor_condition_prob <= 1.0:
        p.error("--condition_mix and --anchor_condition_prob must be in [0, 1] and --condition_noise >= 0")
    if args.checkpointing_steps < 1 or args.max_train_steps < 1 or args.train_batch_size < 1:
        p.error("--checkpointing_steps, --max_train_steps and --train_batch_size must be >= 1")
    if args.push_to_hub and not args.hub_model_id:
        p.error("--push_to_hub needs --hub_model_id")
    return args


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
            from text2lora.embedding import task_anchors

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
    from text2lora.embedding import embed

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


def main(argv=None):
    args = parse_args(argv)
    from text2lora.fileio import check_output_dir

    check_output_dir(args.output_dir)
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel, compute_snr
    from tqdm.auto import tqdm

    from text2lora.data.zoo import Zoo
    from text2lora.models import LoraDenoiser
    from text2lora.training.checkpoints import (
        checkpoint_step,
        latest_checkpoint,
        remove_interrupted_saves,
        save_checkpoint,
    )

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        project_config=ProjectConfiguration(project_dir=args.output_dir,
                                            logging_dir=os.path.join(args.output_dir, "logs")),
        cpu=not torch.cuda.is_available(),
    )
    logger.info(accelerator.state)
    set_seed(args.seed)

    # Data (loaded first: a bad --zoo writes nothing).
    zoo = Zoo.load(args.zoo)
    if accelerator.is_main_process:
        os.makedirs(args.output_dir, exist_ok=True)
    zoo, tasks, task_ids, conditions = build_training_data(zoo, args, args.embedder)
    anchors = condition_anchors(zoo, tasks, conditions) if args.condition_type == "text" else None
    from text2lora.data.layout import LoraLayout

    layout = LoraLayout(zoo.layout.keys, zoo.layout.shapes, token_size=args.token_size)
    vectors = zoo.vectors
    latent_dim = 0
    if args.latent_dim:
        cap = max(1, len(vectors) - 1)
        latent_dim = min(args.latent_dim, cap)
        latent_dim = max(args.latent_token_size, latent_dim - latent_dim % args.latent_token_size)

    denoiser = LoraDenoiser(
        layout=layout.to_dict(), adapter_spec=zoo.spec.to_dict(), condition_type=args.condition_type,
        condition_dim=conditions[0].shape[-1] if args.condition_type == "text" else 384,
        num_tasks=len(tasks) if args.condition_type == "task_id" else 0, hidden_size=args.hidden_size,
        num_layers=args.num_layers, num_heads=args.num_heads, mlp_ratio=args.mlp_ratio, latent_dim=latent_dim,
        latent_token_size=args.latent_token_size,
    )
    denoiser.fit_normalization(vectors)
    tokens = denoiser.encode(vectors)
    noise_scheduler = DDPMScheduler(num_train_timesteps=args.num_train_timesteps, beta_schedule=args.beta_schedule,
                                    clip_sample=False, prediction_type=args.prediction_type)
    ema = None
    if args.use_ema:
        ema = EMAModel(denoiser.parameters(), decay=args.ema_decay, model_cls=LoraDenoiser,
                       model_config=denoiser.config)

    # Save/load hooks, as in diffusers' training scripts: the model in diffusers format, plus the EMA weights.
    def save_model_hook(models, weights, output_dir):
        if accelerator.is_main_process:
            if ema is not None:
                ema.save_pretrained(os.path.join(output_dir, "denoiser_ema"))
            for model in models:
                accelerator.unwrap_model(model).save_pretrained(os.path.join(output_dir, "denoiser"))
                weights.pop()

    def load_model_hook(models, input_dir):
        if ema is not None:
            loaded = EMAModel.from_pretrained(os.path.join(input_dir, "denoiser_ema"), LoraDenoiser)
            ema.load_state_dict(loaded.state_dict())
            del loaded
        for _ in range(len(models)):
            model = models.pop()
            loaded = LoraDenoiser.from_pretrained(input_dir, subfolder="denoiser")
            model.register_to_config(**loaded.config)
            model.load_state_dict(loaded.state_dict())
            del loaded

    accelerator.register_save_state_pre_hook(save_model_hook)
    accelerator.register_load_state_pre_hook(load_model_hook)

    trainable = [p for p in denoiser.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=args.adam_weight_decay)
    dataset = ZooDataset(tokens, conditions, seed=args.seed + accelerator.process_index, mix=args.condition_mix,
                         noise=args.condition_noise, anchor=args.anchor_condition_prob)
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=args.train_batch_size, shuffle=True, drop_last=False,
                                             num_workers=args.dataloader_num_workers)
    steps_per_epoch = math.ceil(len(dataloader) / args.gradient_accumulation_steps)
    if args.num_train_epochs is not None:
        args.max_train_steps = args.num_train_epochs * steps_per_epoch
    num_epochs = math.ceil(args.max_train_steps / steps_per_epoch)
    lr_scheduler = get_scheduler(args.lr_scheduler, optimizer=optimizer,
                                 num_warmup_steps=args.lr_warmup_steps * accelerator.num_processes,
                                 num_training_steps=args.max_train_steps * accelerator.num_processes)
    denoiser, optimizer, dataloader, lr_scheduler = accelerator.prepare(denoiser, optimizer, dataloader, lr_scheduler)
    if ema is not None:
        ema.to(accelerator.device)

    global_step, first_epoch = 0, 0
    if accelerator.is_main_process:
        removed = remove_interrupted_saves(args.output_dir)
        if removed:
            logger.info("Removed interrupted checkpoint saves: %s", ", ".join(removed))
    if args.resume_from_checkpoint:
        path = args.resume_from_checkpoint
        if path == "latest":
            path = latest_checkpoint(args.output_dir)
        if path is None:
            logger.info("No complete checkpoint to resume from; starting a new run.")
        else:
            if not os.path.isdir(path):
                raise ValueError(f"Checkpoint '{path}' does not exist.")
            global_step = checkpoint_step(path)
            accelerator.load_state(path)
            first_epoch = global_step // steps_per_epoch
            logger.info("Resumed from %s at step %d", path, global_step)

    logger.info("***** Training: %d adapters of %d tasks, %d params in %d tokens, %d steps *****",
                len(dataset), len(tasks), layout.num_params, layout.num_tokens, args.max_train_steps)
    noise_scheduler.alphas_cumprod.to(accelerator.device)
    progress = tqdm(range(args.max_train_steps), initial=global_step, desc="Steps",
                    disable=not accelerator.is_local_main_process)
    history, start = [], time.perf_counter()
    for _epoch in range(first_epoch, num_epochs):
        denoiser.train()
        for batch in dataloader:
            with accelerator.accumulate(denoiser):
                clean = batch["tokens"]
                noise = torch.randn_like(clean)
                bsz = clean.shape[0]
                timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (bsz,), device=clean.device)
                noisy = noise_scheduler.add_noise(clean, noise, timesteps)
                if args.prediction_type == "epsilon":
                    target = noise
                elif args.prediction_type == "v_prediction":
                    target = noise_scheduler.get_velocity(clean, noise, timesteps)
                else:
                    target = clean
                drop = torch.rand(bsz, device=clean.device) < args.cond_dropout_prob
                pred = denoiser(noisy, timesteps, batch["condition"], drop_mask=drop).sample
                if args.snr_gamma and args.snr_gamma > 0:
                    snr = compute_snr(noise_scheduler, timesteps)
                    weights = torch.stack([snr, args.snr_gamma * torch.ones_like(snr)], dim=1).min(dim=1)[0]
                    if args.prediction_type == "epsilon":
                        weights = weights / snr
                    elif args.prediction_type == "v_prediction":
                        weights = weights / (snr + 1)
                    loss = torch.nn.functional.mse_loss(pred.float(), target.float(), reduction="none")
                    loss = (loss.mean(dim=list(range(1, loss.ndim))) * weights).mean()
                else:
                    loss = torch.nn.functional.mse_loss(pred.float(), target.float())
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(trainable, args.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad(set_to_none=True)

            if accelerator.sync_gradients:
                if ema is not None:
                    ema.step(accelerator.unwrap_model(denoiser).parameters())
                global_step += 1
                progress.update(1)
                loss_value = accelerator.gather(loss.detach()[None]).mean().item()
                progress.set_postfix(loss=f"{loss_value:.4f}", lr=lr_scheduler.get_last_lr()[0])
                history.append({"step": global_step, "loss": loss_value})
                if global_step % args.checkpointing_steps == 0:
                    save_checkpoint(accelerator, args.output_dir, global_step, args.checkpoints_total_limit)
                if args.validation_steps and global_step % args.validation_steps == 0 and accelerator.is_main_process:
                    pipe = make_pipeline(accelerator.unwrap_model(denoiser), ema, noise_scheduler, args, anchors)
                    log_validation(pipe, zoo, args, global_step)
            if global_step >= args.max_train_steps:
                break
        if global_step >= args.max_train_steps:
            break

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        pipe = make_pipeline(accelerator.unwrap_model(denoiser), ema, noise_scheduler, args, anchors)
        save_pipeline(pipe, args, zoo, tasks, history, time.perf_counter() - start)
        if args.validation_tasks is None or args.validation_tasks:
            log_validation(pipe, zoo, args, global_step, write=True)
        if args.push_to_hub:
            from text2lora.hub.cards import push_generator_to_hub

            url = push_generator_to_hub(args.output_dir, args.hub_model_id, private=args.hub_private)
            logger.info("Pushed the generator to %s", url)
    accelerator.end_training()
    return args.output_dir


def condition_anchors(zoo, tasks, conditions):
    """(task names, anchors): per training task, the normalized mean of its training-description embeddings, which the
    pipeline snaps descriptions to (``snap_to_seen_tasks``)."""
    from text2lora.embedding import task_anchors

    per_task = {}
    for row, vectors in zip(zoo.rows, conditions):
        per_task.setdefault(row["task"], vectors)
    return tasks, task_anchors([per_task[t].numpy() for t in tasks])


def make_pipeline(denoiser, ema, noise_scheduler, args, anchors=None):
    from diffusers import DDIMScheduler

    from text2lora.models import LoraDenoiser
    from text2lora.pipelines import Text2LoraPipeline

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
    tmp = os.path.join(args.output_dir, ".tmp-pipeline")
    shutil.rmtree(tmp, ignore_errors=True)
    if args.save_fp16:
        pipe.denoiser.to(torch.float16)
    pipe.save_pretrained(tmp)
    pipe.denoiser.to(torch.float32)
    for item in os.listdir(tmp):
        target = os.path.join(args.output_dir, item)
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.replace(os.path.join(tmp, item), target)
    os.rmdir(tmp)
    pipe.layout.save(os.path.join(args.output_dir, "layout.json"))
    info = {"zoo": os.fspath(args.zoo), "train_tasks": tasks, "training_args": vars(args),
            "train_seconds": seconds, "final_loss": float(np.mean([h["loss"] for h in history[-50:]]))
            if history else None, "loss_history": history[:: max(1, len(history) // 200)]}
    write_generator_card(pipe, args, zoo, tasks)
    with open(os.path.join(args.output_dir, "training_info.json.tmp"), "w") as f:
        json.dump(info, f, indent=1)
    os.replace(os.path.join(args.output_dir, "training_info.json.tmp"),
               os.path.join(args.output_dir, "training_info.json"))
    logger.info("Saved the pipeline to %s", args.output_dir)


def write_generator_card(pipe, args, zoo, tasks, evaluation=None):
    """README.md model card of the generator folder (rendered from hub_cards/generator_card.md)."""
    from text2lora.hub.cards import render_generator_card

    keys = ("learning_rate", "max_train_steps", "train_batch_size", "prediction_type", "snr_gamma", "use_ema",
            "cond_dropout_prob", "condition_mix", "condition_noise", "anchor_condition_prob", "latent_dim",
            "token_size", "hidden_size", "num_layers", "num_heads", "seed")
    card = render_generator_card({
        "generator_id": args.hub_model_id, "zoo": os.fspath(args.zoo), "base_model": zoo.spec.base_model,
        "embedder": args.embedder, "num_seen_tasks": len(tasks), "scheduler": pipe.scheduler.__class__.__name__,
        "training": {k: getattr(args, k) for k in keys}, "evaluation": evaluation,
    })
    with open(os.path.join(args.output_dir, "README.md.tmp"), "w") as f:
        f.write(card)
    os.replace(os.path.join(args.output_dir, "README.md.tmp"), os.path.join(args.output_dir, "README.md"))


def log_validation(pipe, zoo, args, step, write=False):
    """Sample adapters from held-out descriptions of validation tasks and measure real val accuracy."""
    from text2lora.adapters import AdapterScorer
    from text2lora.data.tasks import load_task

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
            with open(os.path.join(args.output_dir, "validation.json"), "w") as f:
                json.dump({"step": step, "median_ratio": ratio, "tasks": results}, f, indent=1)
    return results


if __name__ == "__main__":
    from text2lora.cli import run_cli

    run_cli(main)
