"""Training data and loop for :class:`~text2lora.models.HeadHypernetwork` (the task-loss head generator).

The base model is frozen and the LoRA weights are the same for every task (zero, or one shared "feature LoRA" from
:func:`train_feature_lora`), so every text has one feature vector (the classifier's input) whatever the task: features
are computed once, then training is cheap matrix algebra over the training tasks' labelled rows.
"""

import random
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ..adapters import adapter_state_dict, batches, build_peft_model, load_adapter_weights, load_base, tokenize


def classifier_features(spec, texts, pairs=None, batch_size=128, device="cpu", progress=True, model=None,
                        tokenizer=None, lora_state=None):
    """Input of the base model's classifier head (``spec.modules_to_save[0]``) for every row: with no adapter, or
    with the LoRA weights ``lora_state`` (PEFT keys, e.g. from :func:`train_feature_lora`).

    ``pairs`` may mix sentence pairs and ``None`` (single texts), as :func:`~text2lora.adapters.tokenize` allows.
    Returns a float32 tensor (len(texts), in_features). The head must be an ``nn.Linear`` with ``num_labels``
    outputs, which is what :class:`~text2lora.models.HeadHypernetwork` writes.
    """
    from tqdm.auto import tqdm

    if lora_state is not None and model is None:
        model, tokenizer = build_peft_model(spec, tokenizer=tokenizer)
        load_adapter_weights(model, {**adapter_state_dict(model), **lora_state})  # the head is not read
    model, tokenizer = load_base(spec, model, tokenizer)
    head = classifier_module(model, spec)
    model.to(device).eval()
    encodings = tokenize(tokenizer, texts, pairs, spec.max_length)
    lengths = [len(x) for x in encodings["input_ids"]]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    out = torch.zeros(len(lengths), classifier_linear(head).in_features)
    with capture_input(head) as captured, torch.no_grad(), tqdm(total=len(order), desc="base features",
                                                                 disable=not progress) as bar:
        for idx, batch in batches(encodings, batch_size, tokenizer, order):
            model(**{k: v.to(device) for k, v in batch.items()})
            out[idx] = captured["x"].float().cpu()
            bar.update(len(idx))
    return out


@contextmanager
def capture_input(module):
    """While active, the dict it yields holds ``module``'s latest input under "x" (a forward hook)."""
    captured = {}
    hook = module.register_forward_hook(lambda mod, inputs, output: captured.__setitem__("x", inputs[0]))
    try:
        yield captured
    finally:
        hook.remove()


def classifier_module(model, spec):
    """The base model's classifier head, checked to be a Linear layer with ``spec.num_labels`` outputs (in a
    ``PeftModel``: PEFT's modules_to_save wrapper around it, whose input is the same)."""
    name = spec.modules_to_save[0] if spec.modules_to_save else None
    modules = dict(model.named_modules())
    module = modules.get(name)
    wrapper = None
    if module is None and name is not None:  # a PeftModel: base_model.model.<name> wraps the original Linear
        wrapper = modules.get(f"base_model.model.{name}")
        module = getattr(wrapper, "original_module", None)
    if not isinstance(module, nn.Linear) or module.out_features != spec.num_labels:
        raise ValueError(f"The head generator needs the base's '{name}' to be an nn.Linear with {spec.num_labels} "
                         f"outputs; '{spec.base_model}' has {type(module).__name__}.")
    return module if wrapper is None else wrapper


def classifier_linear(module):
    """The ``nn.Linear`` of :func:`classifier_module`'s result (itself, or the one PEFT's wrapper holds)."""
    return getattr(module, "original_module", module)


def train_feature_lora(spec, texts, pairs, sentence_vectors, max_train_steps=600, batch_size=32, learning_rate=1e-3,
                       seed=0, device="cpu", progress=True):
    """One LoRA for every task (the "feature LoRA"): trained so that the classifier's input linearly predicts the
    embedder's sentence embedding of each text (squared error; the linear map is learned with it, starting from the
    least-squares fit). The base's pooler only sees the first token, the sentence embedding pools every token: this
    moves the head generator's features towards the space its description embeddings live in.

    LoRA starts from the zoo's initialization (``spec.init_seed``) and no labels are used. Returns (LoRA weights as a
    PEFT state dict without the classifier, loss per step).
    """
    from tqdm.auto import tqdm

    if len(texts) < 2:
        raise ValueError("The feature LoRA needs at least 2 texts.")
    peft_model, tokenizer = build_peft_model(spec)
    peft_model.to(device).eval()  # eval: no dropout; LoRA still gets gradients
    head = classifier_module(peft_model, spec)
    for name, param in peft_model.named_parameters():
        param.requires_grad_("lora_" in name)
    target = torch.as_tensor(sentence_vectors).float().to(device)
    initial = classifier_features(spec, texts[:4096], None if pairs is None else pairs[:4096], device=device,
                                  progress=False, model=peft_model, tokenizer=tokenizer)
    projection, _ = fit_projection(initial, target[:4096].cpu())
    linear = nn.Linear(projection.shape[0] - 1, projection.shape[1]).to(device)
    with torch.no_grad():
        linear.weight.copy_(projection[:-1].T)
        linear.bias.copy_(projection[-1])
    encodings = tokenize(tokenizer, texts, pairs, spec.max_length)
    params = [p for p in peft_model.parameters() if p.requires_grad] + list(linear.parameters())
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max_train_steps)
    rng = random.Random(seed)
    losses = []
    with capture_input(head) as captured:
        for _ in tqdm(range(max_train_steps), desc="feature LoRA", disable=not progress):
            idx = rng.sample(range(len(texts)), min(batch_size, len(texts)))
            _, batch = next(batches(encodings, len(idx), tokenizer, idx))
            peft_model(**{k: v.to(device) for k, v in batch.items()})
            loss = ((linear(captured["x"]) - target[idx]) ** 2).sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
    state = {k: v for k, v in adapter_state_dict(peft_model).items() if "lora_" in k}
    return state, losses


def fit_projection(features, sentence_vectors):
    """Least-squares map [features, 1] -> sentence embeddings. Returns (projection (d+1, e), R^2)."""
    x = torch.cat([features, torch.ones(len(features), 1)], dim=1).double()
    y = torch.as_tensor(sentence_vectors).double()
    projection = torch.linalg.lstsq(x, y).solution
    residual = ((x @ projection - y) ** 2).sum()
    r2 = 1.0 - float(residual / ((y - y.mean(0)) ** 2).sum())
    return projection.float(), r2


def balanced_rows(labels, per_class, seed):
    """Indices of at most ``per_class`` rows of each label, drawn with ``seed`` (sorted)."""
    rng = random.Random(seed)
    idx = list(range(len(labels)))
    rng.shuffle(idx)
    picked = [i for i in idx if labels[i] == 1][:per_class] + [i for i in idx if labels[i] == 0][:per_class]
    return sorted(picked)


def balanced_task_loss(features, task_rows, w, b, rows_per_task, np_rng):
    """Mean over tasks of a class-balanced logistic loss: task ``i`` (``task_rows[i]``: row-index tensor, float labels)
    scores ``rows_per_task`` of its rows, drawn with ``np_rng``, with the head ``(w[i], b[i])`` on ``features``."""
    loss = 0.0
    for i, (idx, labels) in enumerate(task_rows):
        pick = torch.from_numpy(np_rng.integers(0, len(idx), rows_per_task))
        target = labels[pick]
        logit = features[idx[pick]] @ w[i] + b[i]
        positive_share = target.mean().clamp(0.05, 0.95)
        weight = torch.where(target > 0, 1 - positive_share, positive_share) * 2
        loss = loss + nn.functional.binary_cross_entropy_with_logits(logit, target, weight=weight)
    return loss / len(task_rows)


def train_head_hypernetwork(model, features, task_rows, task_conditions, max_train_steps=3000, batch_tasks=32,
                            rows_per_task=64, learning_rate=1e-3, weight_decay=0.01, condition_noise=0.5, seed=0,
                            progress=True):
    """Train ``model`` in place with a class-balanced logistic loss on the seen tasks' rows.

    ``features``: projected features (n, embedding_dim) of every row; ``task_rows``: task -> (row indices, labels);
    ``task_conditions``: task -> description embeddings (k, embedding_dim). Each step draws ``batch_tasks`` tasks,
    one description each (perturbed by a random direction of norm ``condition_noise``, then re-normalized) and
    ``rows_per_task`` rows of each. Returns the loss per step.
    """
    from tqdm.auto import tqdm

    if not task_rows:
        raise ValueError("The head generator needs at least one training task.")
    names = sorted(task_rows)
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    batch_tasks = min(batch_tasks, len(names))
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max_train_steps)
    rows = {n: (torch.as_tensor(task_rows[n][0]), torch.as_tensor(task_rows[n][1]).float()) for n in names}
    conditions = {n: torch.as_tensor(task_conditions[n]).float() for n in names}
    losses = []
    model.train()
    for _ in tqdm(range(max_train_steps), desc="head generator", disable=not progress):
        picked = rng.sample(names, batch_tasks)
        condition = torch.stack([conditions[n][rng.randrange(len(conditions[n]))] for n in picked])
        if condition_noise > 0:
            noise = nn.functional.normalize(torch.randn_like(condition), dim=-1) * condition_noise
            condition = nn.functional.normalize(condition + noise, dim=-1)
        w, b = model(condition)
        loss = balanced_task_loss(features, [rows[n] for n in picked], w, b, rows_per_task, np_rng)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def initial_lora_state(spec):
    """The LoRA weights of a freshly built adapter (``spec.init_seed``; B = 0, so the base is unchanged)."""
    peft_model, _ = build_peft_model(spec)
    return {k: v for k, v in adapter_state_dict(peft_model).items() if "lora_" in k}


def train_multitask_lora(head, spec, texts, pairs, task_rows, task_conditions, lora_state=None, max_train_steps=400,
                         batch_tasks=16, rows_per_task=4, learning_rate=1e-3, head_learning_rate=1e-4,
                         condition_noise=0.5, seed=0, device="cpu", progress=True):
    """Train one LoRA shared by every task together with ``head`` (a ``HeadHypernetwork``), with the task loss through
    the base: the multi-task, description-conditioned model (Text-to-LoRA's multi-task baseline in PEFT form).

    Each step draws ``batch_tasks`` tasks, one training description each (perturbed by ``condition_noise`` like
    :func:`train_head_hypernetwork`), and ``rows_per_task`` rows of each (half positive, half negative); the texts go
    through the base with the LoRA, the classifier's input is projected with the head's fixed projection and scored by
    the head of each task's description (logistic loss). ``task_rows``: task -> (row indices into ``texts``, 0/1
    labels); ``task_conditions``: task -> description embeddings (k, embedding_dim). LoRA starts from ``lora_state``
    (e.g. the feature LoRA) or from the adapter's initialization. Returns (LoRA weights as a PEFT state dict without
    the classifier, loss per step); ``head`` is trained in place.
    """
    from tqdm.auto import tqdm

    if not task_rows:
        raise ValueError("Multi-task training needs at least one training task.")
    if rows_per_task < 2:
        raise ValueError(f"rows_per_task must be >= 2 (one row of each label), got {rows_per_task}.")
    names = sorted(task_rows)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    peft_model, tokenizer = build_peft_model(spec)
    if lora_state is not None:
        load_adapter_weights(peft_model, {**adapter_state_dict(peft_model), **lora_state})
    peft_model.to(device).eval()  # eval: no dropout; LoRA still gets gradients
    head.to(device).train()
    classifier = classifier_module(peft_model, spec)
    for name, param in peft_model.named_parameters():
        param.requires_grad_("lora_" in name)
    by_label = {}
    for n in names:
        idx, labels = (np.asarray(a) for a in task_rows[n])
        positives, negatives = idx[labels == 1].tolist(), idx[labels == 0].tolist()
        if not positives or not negatives:
            raise ValueError(f"Task '{n}' needs training rows of both labels for multi-task training.")
        by_label[n] = (positives, negatives)
    conditions = {n: torch.as_tensor(task_conditions[n]).float() for n in names}
    encodings = tokenize(tokenizer, texts, pairs, spec.max_length)
    lora_params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": lora_params, "lr": learning_rate},
                                   {"params": list(head.parameters()), "lr": head_learning_rate}], weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max_train_steps)
    batch_tasks = min(batch_tasks, len(names))
    half = rows_per_task // 2
    losses = []
    with capture_input(classifier) as captured:
        for _ in tqdm(range(max_train_steps), desc="multi-task LoRA", disable=not progress):
            picked = rng.sample(names, batch_tasks)
            rows, targets, owner = [], [], []
            for i, n in enumerate(picked):
                positives, negatives = by_label[n]
                chosen = [rng.choice(positives) for _ in range(half)] + [rng.choice(negatives) for _ in range(half)]
                rows += chosen
                targets += [1.0] * half + [0.0] * half
                owner += [i] * len(chosen)
            condition = torch.stack([conditions[n][rng.randrange(len(conditions[n]))] for n in picked])
            if condition_noise > 0:
                noise = nn.functional.normalize(torch.randn_like(condition), dim=-1) * condition_noise
                condition = nn.functional.normalize(condition + noise, dim=-1)
            _, batch = next(batches(encodings, len(rows), tokenizer, rows))
            peft_model(**{k: v.to(device) for k, v in batch.items()})
            features = head.project(captured["x"].float())
            w, b = head(condition.to(device))
            owner_index = torch.tensor(owner, device=device)
            logits = (features * w[owner_index]).sum(-1) + b[owner_index]
            loss = nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(targets, device=device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
    head.eval()
    state = {k: v for k, v in adapter_state_dict(peft_model).items() if "lora_" in k}
    return state, losses
