"""Conditioning designs for the head generator, compared on the probe's cached features (a research tool).

    PYTHONPATH=. python research/head_variant_probe.py --variant contrast \
        --output reports/ablations/head_variant_contrast.json

The shipped head generator is linear in the description embedding ``e`` (``w = scale*e + W e``, ``b = u.e + b0``;
see :class:`~text2lora.models.HeadHypernetwork`). Each variant adds one idea on top of it and is trained like the
shipped head (``train_head.py --auxiliary_tasks --max_train_steps 6000``: seen plus auxiliary tasks, class-balanced
logistic loss on 64 rows of 32 tasks per step, condition noise 0.5) on the features of ``research/head_probe.py``:

- ``linear``: the shipped form, the reference row;
- ``contrast``: subtract the training tasks' anchors the description is close to, ``w - beta*scale*ctx`` with
  ``ctx = softmax(tau * e.A) A`` (A: the normalized mean description embedding of each training task; the task's own
  anchor is masked in training, so ``ctx`` is made of *other* tasks, as it is for an unseen task). Idea: an unseen
  one-vs-rest task's negatives are its seen siblings (sst2_positive vs sst2_negative);
- ``memory``: ``contrast`` plus a learned map of ``ctx`` into ``w`` and ``b`` (retrieval-augmented head);
- ``standardized``: the score is standardized by the training texts' feature mean and covariance before the bias,
  so ``b`` is a threshold in standard deviations (idea: thresholds transfer better across tasks in those units);
- ``bias_mlp``: a small MLP (384-64-1, dropout 0.2) adds a nonlinear bias (the head's val-threshold gap is a bias
  problem: ``head, val threshold`` in reports/ablations/README.md).

``--text_condition_prob P`` (any variant; the row is named ``<variant>_text<100P>``) trains on conditions made of
positive example texts a share P of the time (description augmentation with the tasks' own texts).

Columns: ``head_on_val`` (the unseen tasks' val split: the one to select on), ``head`` and ``head_val_threshold``
(test split, a diagnosis), ``seen_head_on_val`` (the seen tasks' capped val rows, 2 held-out descriptions). About
2.5 min per variant on the 2-core CPU once the features are cached.
"""

import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

VARIANTS = ("linear", "contrast", "memory", "standardized", "bias_mlp")


class VariantHead(nn.Module):
    """The shipped linear head (``self.head``, a :class:`~text2lora.models.HeadHypernetwork`) plus one variant (see the
    module docstring). ``anchors``: (tasks, dim) training-task anchors; ``feature_mean`` / ``feature_cov``: statistics
    of the training texts' projected features."""

    def __init__(self, variant, anchors, feature_mean, feature_cov, dim=384, init_scale=20.0, init_threshold=0.2,
                 init_temperature=20.0):
        from text2lora.models import HeadHypernetwork

        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")
        self.variant = variant
        self.head = HeadHypernetwork(embedding_dim=dim, feature_dim=dim, init_scale=init_scale,
                                     init_threshold=init_threshold)
        if variant == "standardized":  # b0 is a threshold in standard deviations: 1 sd above the mean
            nn.init.constant_(self.head.bias.bias, -1.0)
        self.register_buffer("anchors", anchors.float())
        self.register_buffer("feature_mean", feature_mean.float())
        self.register_buffer("feature_cov", feature_cov.float())
        self.context_correction = nn.Linear(dim, dim, bias=False)
        self.context_bias = nn.Linear(dim, 1, bias=False)
        for layer in (self.context_correction, self.context_bias):
            nn.init.zeros_(layer.weight)
        self.beta = nn.Parameter(torch.tensor(0.0))
        self.log_temperature = nn.Parameter(torch.tensor(float(np.log(init_temperature))))
        self.alpha = nn.Parameter(torch.tensor(4.0))
        self.bias_mlp = nn.Sequential(nn.Linear(dim, 64), nn.GELU(), nn.Dropout(0.2), nn.Linear(64, 1))
        nn.init.zeros_(self.bias_mlp[-1].weight)
        nn.init.zeros_(self.bias_mlp[-1].bias)

    def context(self, condition, exclude=None):
        """Softmax-weighted mean of the anchors close to each condition; ``exclude`` (batch, tasks) masks anchors."""
        similarity = condition @ self.anchors.T * self.log_temperature.exp()
        if exclude is not None:
            similarity = similarity.masked_fill(exclude, float("-inf"))
        return torch.softmax(similarity, -1) @ self.anchors

    def forward(self, condition, exclude=None):
        """(w, b) for each condition, as :meth:`HeadHypernetwork.forward`."""
        w, b = self.head(condition)
        if self.variant in ("contrast", "memory"):
            ctx = self.context(condition, exclude)
            w = w - self.beta * self.head.scale * ctx
            if self.variant == "memory":
                w = w + self.context_correction(ctx)
                b = b + self.context_bias(ctx)[:, 0]
        elif self.variant == "standardized":
            spread = torch.sqrt(((w @ self.feature_cov) * w).sum(-1) + 1e-6)
            w = self.alpha * w / spread[:, None]
            b = b - w @ self.feature_mean
        elif self.variant == "bias_mlp":
            b = b + self.bias_mlp(condition)[:, 0]
        return w, b


def train_variant(model, features, task_rows, task_conditions, task_index, max_train_steps=6000, batch_tasks=32,
                  rows_per_task=64, learning_rate=1e-3, weight_decay=0.01, condition_noise=0.5, seed=0,
                  text_vectors=None, text_condition_prob=0.0, texts_per_condition=5):
    """The shipped head's loss and sampling (``text2lora.training.head_training.train_head_hypernetwork``), with each
    task's own anchor masked out of the variant's context. With probability ``text_condition_prob`` a task's condition
    is the normalized mean sentence embedding (``text_vectors``) of ``texts_per_condition`` of its positive training
    texts instead of a description: texts and descriptions share the embedder's space, so this is a far larger
    (if shifted) set of conditions."""
    from tqdm.auto import tqdm

    from text2lora.training.head_training import balanced_task_loss

    names = sorted(task_rows)
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max_train_steps)
    rows = {n: (torch.as_tensor(task_rows[n][0]), torch.as_tensor(task_rows[n][1]).float()) for n in names}
    model.train()
    for _ in tqdm(range(max_train_steps), desc=f"head variant {model.variant}"):
        picked = rng.sample(names, batch_tasks)
        condition = torch.stack([_text_condition(rows[n], text_vectors, texts_per_condition, np_rng)
                                 if text_condition_prob > 0 and rng.random() < text_condition_prob
                                 else task_conditions[n][rng.randrange(len(task_conditions[n]))] for n in picked])
        noise = nn.functional.normalize(torch.randn_like(condition), dim=-1) * condition_noise
        condition = nn.functional.normalize(condition + noise, dim=-1)
        exclude = torch.zeros(batch_tasks, len(task_index), dtype=torch.bool)
        exclude[torch.arange(batch_tasks), torch.tensor([task_index[n] for n in picked])] = True
        w, b = model(condition, exclude)
        loss = balanced_task_loss(features, [rows[n] for n in picked], w, b, rows_per_task, np_rng)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()


def _text_condition(task_rows, text_vectors, count, np_rng):
    """Normalized mean sentence embedding of ``count`` positive rows drawn from ``task_rows`` (row ids, labels)."""
    idx, labels = task_rows
    positives = idx[labels > 0]
    picked = positives[torch.from_numpy(np_rng.integers(0, len(positives), count))]
    return nn.functional.normalize(text_vectors[picked].mean(0), dim=-1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="linear", choices=VARIANTS)
    p.add_argument("--feature_cache", default="runs/probe/features.pt")
    p.add_argument("--feature_lora", default="runs/s6/gen_flora",
                   help="Generator directory whose feature LoRA the features use (as research/head_probe.py).")
    p.add_argument("--max_train_steps", type=int, default=6000)
    p.add_argument("--condition_noise", type=float, default=0.5)
    p.add_argument("--text_condition_prob", type=float, default=0.0,
                   help="Share of training conditions made of positive texts instead of a description.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=None, help="JSON with the summary and per-task rows.")
    args = p.parse_args(argv)

    from head_probe import fit_head_projection, load_probe_features

    from text2lora.data.tasks import list_tasks, load_task
    from text2lora.embedding import embed, task_anchors
    from text2lora.evaluation.metrics import balanced_accuracy, best_threshold
    from text2lora.models import HeadHypernetwork

    start = time.perf_counter()
    rows, mean, pool, training = load_probe_features(args.feature_cache, args.feature_lora, auxiliary_tasks=True)
    seen, unseen = list_tasks(split="seen"), list_tasks(split="unseen")
    tasks = {n: load_task(n) for n in training + unseen}
    features, _, fit_rows = fit_head_projection(HeadHypernetwork(embedding_dim=mean.shape[1],
                                                                 feature_dim=pool.shape[1]), rows, mean, pool, training)
    conditions = {n: torch.from_numpy(embed(tasks[n].descriptions)) for n in training}
    anchors = torch.from_numpy(task_anchors([conditions[n].numpy() for n in training]))
    model = VariantHead(args.variant, anchors, features[fit_rows].mean(0), torch.cov(features[fit_rows].T),
                        dim=mean.shape[1])
    train_variant(model, features, {n: rows[(n, "train")] for n in training}, conditions,
                  {n: i for i, n in enumerate(training)}, max_train_steps=args.max_train_steps,
                  condition_noise=args.condition_noise, seed=args.seed, text_vectors=mean,
                  text_condition_prob=args.text_condition_prob)

    per_task, seen_rows = [], []
    with torch.no_grad():
        for name in unseen:
            (vi, vy), (ti, ty) = rows[(name, "val")], rows[(name, "test")]
            w, b = model(torch.from_numpy(embed(tasks[name].heldout_descriptions)))
            scores = {"head_on_val": [], "head": [], "head_val_threshold": []}
            for j in range(len(w)):
                on_val, on_test = (features[vi] @ w[j] + b[j]).numpy(), (features[ti] @ w[j] + b[j]).numpy()
                scores["head_on_val"].append(balanced_accuracy(vy, on_val > 0))
                scores["head"].append(balanced_accuracy(ty, on_test > 0))
                scores["head_val_threshold"].append(balanced_accuracy(ty, on_test >= best_threshold(on_val, vy)))
            per_task.append({"task": name, "family": tasks[name].family,
                             **{k: float(np.mean(v)) for k, v in scores.items()}})
        for name in seen:
            vi, vy = rows[(name, "val")]
            w, b = model(torch.from_numpy(embed(tasks[name].heldout_descriptions[:2])))
            seen_rows.append(float(np.mean([balanced_accuracy(vy, (features[vi] @ w[j] + b[j]).numpy() > 0)
                                            for j in range(len(w))])))
    name = args.variant + (f"_text{round(100 * args.text_condition_prob)}" if args.text_condition_prob else "")
    summary = {"name": name, "settings": {k: v for k, v in vars(args).items() if k != "output"},
               "unseen_tasks": len(per_task),
               **{k: float(np.mean([r[k] for r in per_task])) for k in ("head_on_val", "head", "head_val_threshold")},
               "seen_head_on_val": float(np.mean(seen_rows)),
               "learned": {"beta": model.beta.item(), "temperature": model.log_temperature.exp().item(),
                           "alpha": model.alpha.item()},
               "seconds": time.perf_counter() - start}
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(f"{args.output}.tmp", "w") as f:
            json.dump({"summary": summary, "tasks": per_task}, f, indent=1)
        os.replace(f"{args.output}.tmp", args.output)
    return summary


if __name__ == "__main__":
    main()
