"""LoraDenoiser: a transformer over parameter tokens, conditioned on a description embedding and the timestep."""

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from ..data.layout import LoraLayout


class LoraDenoiserOutput(BaseOutput):
    """``sample``: the model output for the noisy tokens, shape (batch, num_tokens, token_size)."""

    sample: torch.Tensor


class AdaLNBlock(nn.Module):
    """Pre-norm transformer block whose norms are modulated by the condition (adaLN-Zero, as in DiT)."""

    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0, dropout=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = nn.MultiheadAttention(hidden_size, num_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        inner = int(hidden_size * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden_size, inner), nn.GELU(approximate="tanh"), nn.Dropout(dropout),
                                 nn.Linear(inner, hidden_size))
        self.modulation = nn.Linear(hidden_size, 6 * hidden_size)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    # Sequences longer than this go through scaled_dot_product_attention; shorter ones through nn.MultiheadAttention,
    # whose fused inference kernel is faster for a few tokens (the shipped latent generator has 13).
    sdpa_min_tokens = 256

    def attention(self, h):
        """Self-attention with ``self.attn``'s weights. Long sequences use ``scaled_dot_product_attention``, whose
        fused kernels never hold the (tokens x tokens) score matrix, so memory stays linear in the number of tokens;
        both paths compute the same function."""
        batch, length, width = h.shape
        if length < self.sdpa_min_tokens:
            return self.attn(h, h, h, need_weights=False)[0]
        heads = self.attn.num_heads
        qkv = nn.functional.linear(h, self.attn.in_proj_weight, self.attn.in_proj_bias)
        q, k, v = (x.view(batch, length, heads, width // heads).transpose(1, 2) for x in qkv.chunk(3, dim=-1))
        out = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=self.attn.dropout if self.training else 0.0)
        return self.attn.out_proj(out.transpose(1, 2).reshape(batch, length, width))

    def forward(self, x, cond):
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(nn.functional.silu(cond))[:, None].chunk(6, -1)
        h = self.norm1(x) * (1 + scale1) + shift1
        x = x + gate1 * self.attention(h)
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


class LoraDenoiser(ModelMixin, ConfigMixin):
    """Denoiser over LoRA weights cut into parameter tokens (see :class:`~text2lora.data.layout.LoraLayout`).

    Each token gets a linear projection plus learned embeddings of its index, layer, module and kind (A/B/head).
    The condition, a description embedding (``condition_type="text"``) or a task id (``"task_id"``), is added to
    the timestep embedding and modulates every block's norms. A learned null condition serves classifier-free
    guidance. ``param_mean``/``param_std`` hold the zoo's normalization statistics (as PriorTransformer keeps
    ``clip_mean``/``clip_std``): the model works in normalized space and :meth:`denormalize` maps samples back.

    A text denoiser can also hold **condition anchors** (``anchor_tasks`` in its config, ``anchor_embeddings`` in its
    weights): one unit vector per training task, the normalized mean of that task's training-description embeddings,
    written by ``train.py`` (:meth:`set_condition_anchors`). :meth:`snap_condition` maps a description embedding to
    the anchor of the task it is closest to, so a paraphrase of a seen task conditions the model where it was trained.

    Args:
        layout (`dict`):
            The adapters' weight layout, ``LoraLayout.to_dict()``: ordered keys, shapes and the token size.
        adapter_spec (`dict`, *optional*):
            ``AdapterSpec.to_dict()`` of the zoo (base model, LoRA settings, init seed), so the pipeline can write
            adapters that load on the right base.
        condition_type (`str`, defaults to `"text"`):
            ``"text"``: condition on description embeddings; ``"task_id"``: on task indices (the paper's questions 1
            and 2).
        condition_dim (`int`, defaults to 384):
            Size of a description embedding (the sentence-transformers model's output).
        num_tasks (`int`, defaults to 0):
            Number of task ids, for ``condition_type="task_id"``.
        hidden_size (`int`, defaults to 256):
            Width of the transformer.
        num_layers (`int`, defaults to 4):
            Number of adaLN-Zero transformer blocks.
        num_heads (`int`, defaults to 4):
            Attention heads per block; must divide ``hidden_size``.
        mlp_ratio (`float`, defaults to 4.0):
            Hidden size of each block's MLP, as a multiple of ``hidden_size``.
        dropout (`float`, defaults to 0.0):
            Dropout in attention and MLP.
        latent_dim (`int`, defaults to 0):
            Size of the PCA latent the model diffuses in (0: diffuse raw parameter tokens).
        latent_token_size (`int`, defaults to 10):
            Values per latent token; ``latent_dim`` must be a multiple of it.
        condition_skip (`bool`, defaults to `True`):
            Latent mode only: a zero-initialized MLP from the condition straight to the output, so the conditional
            mean does not have to pass through the norm modulation.
        anchor_tasks (`list`, *optional*):
            Names of the training tasks whose condition anchors the model holds (see above).
    """

    @register_to_config
    def __init__(
        self,
        layout: dict = None,
        adapter_spec: dict = None,
        condition_type: str = "text",
        condition_dim: int = 384,
        num_tasks: int = 0,
        hidden_size: int = 256,
        num_layers: int = 4,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        latent_dim: int = 0,
        latent_token_size: int = 10,
        condition_skip: bool = True,
        anchor_tasks: list = None,
    ):
        super().__init__()
        if layout is None:
            raise ValueError("LoraDenoiser needs a layout (LoraLayout.to_dict()).")
        if condition_type not in ("text", "task_id"):
            raise ValueError(f"condition_type must be 'text' or 'task_id', got {condition_type!r}.")
        if condition_type == "task_id" and num_tasks < 1:
            raise ValueError("condition_type='task_id' needs num_tasks >= 1.")
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads}).")
        if latent_dim < 0 or (latent_dim and latent_dim % latent_token_size):
            raise ValueError(f"latent_dim ({latent_dim}) must be >= 0 and a multiple of latent_token_size "
                             f"({latent_token_size}).")
        self.layout = LoraLayout.from_dict(layout)
        ids = self.layout.token_ids
        if latent_dim:
            # Latent diffusion: a linear parameter autoencoder (PCA of the zoo, fit in closed form by
            # `fit_normalization`); the transformer runs over tokens of the whitened latent.
            n, size = latent_dim // latent_token_size, latent_token_size
            zeros = torch.zeros(n, dtype=torch.long)
            ids = {"layer": zeros, "module": zeros, "kind": zeros}
            self.param_mean = nn.Parameter(torch.zeros(self.layout.num_params), requires_grad=False)
            self.latent_basis = nn.Parameter(torch.zeros(latent_dim, self.layout.num_params), requires_grad=False)
            self.param_std = nn.Parameter(torch.ones(latent_dim), requires_grad=False)  # std of each latent
        else:
            n, size = self.layout.num_tokens, self.layout.token_size
            self.param_mean = nn.Parameter(torch.zeros(n, size), requires_grad=False)
            self.param_std = nn.Parameter(torch.ones(n, size), requires_grad=False)
        self.sample_shape = (n, size)
        if anchor_tasks:
            if condition_type != "text":
                raise ValueError("Condition anchors need condition_type='text'.")
            self.anchor_embeddings = nn.Parameter(torch.zeros(len(anchor_tasks), condition_dim), requires_grad=False)
        self.register_buffer("token_layer", ids["layer"], persistent=False)
        self.register_buffer("token_module", ids["module"], persistent=False)
        self.register_buffer("token_kind", ids["kind"], persistent=False)

        self.proj_in = nn.Linear(size, hidden_size)
        self.token_embedding = nn.Parameter(torch.randn(n, hidden_size) * 0.02)
        self.layer_embedding = nn.Embedding(max(1, self.layout.num_layers), hidden_size)
        self.module_embedding = nn.Embedding(max(1, self.layout.num_modules), hidden_size)
        self.kind_embedding = nn.Embedding(3, hidden_size)
        self.time_proj = Timesteps(hidden_size, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(hidden_size, hidden_size)
        if condition_type == "text":
            self.condition_proj = nn.Sequential(nn.Linear(condition_dim, hidden_size), nn.SiLU(),
                                                nn.Linear(hidden_size, hidden_size))
            self.null_condition = nn.Parameter(torch.zeros(condition_dim))
        else:
            # Index num_tasks is the null condition.
            self.task_embedding = nn.Embedding(num_tasks + 1, hidden_size)
        self.blocks = nn.ModuleList([AdaLNBlock(hidden_size, num_heads, mlp_ratio, dropout) for _ in range(num_layers)])
        # Condition skip (latent mode): an MLP from the condition straight to the sample, so the conditional mean
        # E[x0 | description] does not have to squeeze through the norm modulation. Zero-initialized.
        self.use_condition_skip = bool(condition_skip and latent_dim)
        if self.use_condition_skip:
            self.condition_to_sample = nn.Sequential(nn.Linear(hidden_size, 2 * hidden_size), nn.SiLU(),
                                                nn.Linear(2 * hidden_size, n * size))
            nn.init.zeros_(self.condition_to_sample[-1].weight)
            nn.init.zeros_(self.condition_to_sample[-1].bias)
        self.norm_out = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.out_modulation = nn.Linear(hidden_size, 2 * hidden_size)
        self.proj_out = nn.Linear(hidden_size, size)
        for layer in (self.out_modulation, self.proj_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    # -- normalization and the parameter <-> model-space maps -------------------------------------------------------
    @torch.no_grad()
    def fit_normalization(self, vectors):
        """Fit the statistics on flat zoo weights (N, num_params): per-element mean/std, or (latent mode) the PCA
        basis of the centered weights and the std of each latent coordinate."""
        vectors = torch.as_tensor(vectors, dtype=torch.float32)
        mean = vectors.mean(0)
        if self.config.latent_dim:
            k = self.config.latent_dim
            centered = vectors - mean
            _, s, vh = torch.linalg.svd(centered, full_matrices=False)
            basis = torch.zeros(k, vectors.shape[1])
            basis[: min(k, vh.shape[0])] = vh[:k]
            std = torch.ones(k)
            if len(vectors) > 1:
                std[: min(k, len(s))] = (s[:k] / (len(vectors) - 1) ** 0.5).clamp_min(1e-8)
            self.param_mean.copy_(mean)
            self.latent_basis.copy_(basis)
            self.param_std.copy_(std)
        else:
            std = vectors.std(0) if len(vectors) > 1 else torch.ones_like(mean)
            std = torch.where(std > 1e-8, std, torch.ones_like(std))
            # Padding positions get mean 0 / std 1, so they stay exactly 0.
            self.param_mean.copy_(self.layout.to_tokens(mean[None])[0])
            self.param_std.copy_(self.layout.to_tokens(std[None])[0].clamp_min(1e-8))

    def encode(self, vectors):
        """Flat weights (B, num_params) -> normalized model space (B, *sample_shape)."""
        vectors = torch.as_tensor(vectors).to(self.param_mean.device, self.param_mean.dtype)
        if self.config.latent_dim:
            z = (vectors - self.param_mean) @ self.latent_basis.T / self.param_std
            return z.reshape(len(vectors), *self.sample_shape)
        return (self.layout.to_tokens(vectors) - self.param_mean) / self.param_std

    def decode(self, sample):
        """Normalized model space (B, *sample_shape) -> flat weights (B, num_params), float32."""
        sample = sample.float()
        if self.config.latent_dim:
            z = sample.reshape(len(sample), -1) * self.param_std.float()
            return z @ self.latent_basis.float() + self.param_mean.float()
        return self.layout.from_tokens(sample * self.param_std.float() + self.param_mean.float())

    # -- conditioning -------------------------------------------------------------------------------------------
    def null_condition_like(self, batch_size):
        if self.config.condition_type == "text":
            return self.null_condition[None].expand(batch_size, -1)
        return torch.full((batch_size,), self.config.num_tasks, dtype=torch.long, device=self.device)

    @property
    def has_condition_anchors(self):
        return bool(self.config.anchor_tasks)

    @torch.no_grad()
    def set_condition_anchors(self, task_names, anchors):
        """Store one anchor per training task: ``anchors`` (num_tasks, condition_dim), each row the L2-normalized mean
        of the task's training-description embeddings (see :func:`text2lora.embedding.task_anchors`)."""
        anchors = torch.as_tensor(anchors, dtype=torch.float32)
        task_names = [str(t) for t in task_names]
        if self.config.condition_type != "text":
            raise ValueError("Condition anchors need condition_type='text'.")
        if anchors.ndim != 2 or anchors.shape != (len(task_names), self.config.condition_dim):
            raise ValueError(f"anchors must have shape ({len(task_names)}, {self.config.condition_dim}) for "
                             f"{len(task_names)} tasks, got {tuple(anchors.shape)}.")
        if not task_names or len(set(task_names)) != len(task_names):
            raise ValueError("Condition anchors need at least one task and unique task names.")
        if not torch.isfinite(anchors).all():
            raise ValueError("Condition anchors must be finite.")
        self.register_to_config(anchor_tasks=task_names)
        self.anchor_embeddings = nn.Parameter(anchors.to(self.device, self.dtype), requires_grad=False)

    @torch.no_grad()
    def snap_condition(self, condition):
        """Replace each description embedding by the anchor it is most cosine-similar to. Returns (anchors, names of
        the matched tasks)."""
        _, index = self.nearest_anchors(condition)
        return self.anchor_embeddings.float()[index], [self.config.anchor_tasks[i] for i in index.tolist()]

    def nearest_anchors(self, condition):
        """For each description embedding: the cosine to the anchor it is most similar to, and that anchor's index
        (tensors of shape (n,))."""
        if not self.has_condition_anchors:
            raise ValueError("This denoiser has no condition anchors (train it with a current train.py).")
        anchors = self.anchor_embeddings.float()
        condition = torch.nn.functional.normalize(condition.float().to(anchors.device), dim=-1)
        return (condition @ anchors.T).max(-1)

    def embed_condition(self, condition, drop_mask=None):
        """Project the condition; rows where ``drop_mask`` is True use the null condition."""
        if self.config.condition_type == "text":
            condition = condition.to(self.proj_in.weight.dtype)
            if drop_mask is not None:
                condition = torch.where(drop_mask[:, None], self.null_condition[None].to(condition.dtype), condition)
            return self.condition_proj(condition)
        condition = condition.long()
        if drop_mask is not None:
            condition = torch.where(drop_mask, torch.full_like(condition, self.config.num_tasks), condition)
        return self.task_embedding(condition)

    def forward(self, sample, timestep, condition, drop_mask=None, return_dict=True):
        """Predict noise, v or the clean sample (per the scheduler's prediction_type) for ``sample`` (normalized
        tokens, shape (batch, num_tokens, token_size)) at ``timestep`` under ``condition``."""
        batch = sample.shape[0]
        if not torch.is_tensor(timestep):
            timestep = torch.tensor([timestep], device=sample.device)
        timestep = timestep.reshape(-1).expand(batch) if timestep.numel() == 1 else timestep
        t_emb = self.time_embedding(self.time_proj(timestep).to(sample.dtype))
        c_emb = self.embed_condition(condition, drop_mask)
        cond = t_emb + c_emb
        x = (self.proj_in(sample) + self.token_embedding + self.layer_embedding(self.token_layer)
             + self.module_embedding(self.token_module) + self.kind_embedding(self.token_kind))
        for block in self.blocks:
            x = block(x, cond)
        shift, scale = self.out_modulation(nn.functional.silu(cond))[:, None].chunk(2, -1)
        out = self.proj_out(self.norm_out(x) * (1 + scale) + shift)
        if self.use_condition_skip:
            out = out + self.condition_to_sample(c_emb).reshape(batch, *self.sample_shape)
        if not return_dict:
            return (out,)
        return LoraDenoiserOutput(sample=out)
