"""HeadHypernetwork: description embedding -> classifier head, trained with a task loss through the frozen base.

The diffusion denoiser learns the zoo's distribution of adapters and is strong on tasks like those in the zoo. For
descriptions of new tasks a model that generalizes through the embedding space does better: this one maps a
description embedding ``e`` to a linear classifier on the base model's frozen features (LoRA left at zero),

    logit(x) = w(e) . P(f(x)) + b(e),    w(e) = scale * e + W e,    b(e) = u . e + b0,

where ``f(x)`` is the classifier's input (BERT: the pooler output) and ``P`` maps it into the embedder's sentence
space (least squares on unlabelled text, fit in closed form and stored as a buffer, as PriorTransformer stores
clip_mean/clip_std). With ``W = 0`` it starts as the zero-shot classifier cos(text, description) > threshold; training
on the seen tasks' labelled rows (a task loss, as Text-to-LoRA trains its hypernetwork) learns the correction.

The LoRA weights of every generated adapter are the same: zero, or an optional "feature LoRA" (stored as the
``feature_lora`` buffer, keys and shapes in the config) trained without labels so that ``f(x)`` predicts the
sentence embedding better (``text2lora.training.head_training.train_feature_lora``).
"""

import math

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


class HeadHypernetwork(ModelMixin, ConfigMixin):
    """Text-conditioned classifier head for a frozen base (see the module docstring).

    Args:
        embedding_dim: size of the description embeddings (the embedder's sentence space).
        feature_dim: size of the base classifier's input features.
        init_scale: initial ``scale`` (inverse temperature of the zero-shot cosine).
        init_threshold: initial cosine threshold (``b0 = -init_scale * init_threshold``).
        head_weight_key / head_bias_key: the PEFT state-dict keys of the classifier head this model writes.
        feature_lora_keys / feature_lora_shapes: PEFT keys and shapes of the shared feature LoRA (``None``: LoRA
            stays at zero); its values are the ``feature_lora`` buffer, flattened in this order.
    """

    @register_to_config
    def __init__(self, embedding_dim: int = 384, feature_dim: int = 384, init_scale: float = 20.0,
                 init_threshold: float = 0.2, head_weight_key: str = "base_model.model.classifier.weight",
                 head_bias_key: str = "base_model.model.classifier.bias", feature_lora_keys: list = None,
                 feature_lora_shapes: list = None):
        super().__init__()
        if (feature_lora_keys is None) != (feature_lora_shapes is None) or (
                feature_lora_keys is not None and len(feature_lora_keys) != len(feature_lora_shapes)):
            raise ValueError("feature_lora_keys and feature_lora_shapes must both be given, with one shape per key.")
        if feature_lora_keys:
            size = sum(math.prod(shape) for shape in feature_lora_shapes)
            self.register_buffer("feature_lora", torch.zeros(size))
        self.correction = nn.Linear(embedding_dim, embedding_dim, bias=False)
        nn.init.zeros_(self.correction.weight)
        self.scale = nn.Parameter(torch.tensor(float(init_scale)))
        self.bias = nn.Linear(embedding_dim, 1)
        nn.init.zeros_(self.bias.weight)
        nn.init.constant_(self.bias.bias, -float(init_scale) * float(init_threshold))
        # Feature projection P: [f, 1] -> sentence space (identity-free default: zeros until fit).
        self.register_buffer("projection", torch.zeros(feature_dim + 1, embedding_dim))

    def feature_lora_state(self):
        """The shared feature LoRA as a PEFT state dict (key -> tensor); empty when LoRA stays at zero."""
        if not self.config.feature_lora_keys:
            return {}
        out, offset = {}, 0
        for key, shape in zip(self.config.feature_lora_keys, self.config.feature_lora_shapes):
            size = math.prod(shape)
            out[key] = self.feature_lora[offset:offset + size].reshape(shape)
            offset += size
        return out

    def set_feature_lora(self, state):
        """Store ``state`` (in ``feature_lora_keys`` order, with those shapes) as the feature LoRA."""
        if not self.config.feature_lora_keys:
            raise ValueError("This head generator has no feature LoRA (feature_lora_keys is None).")
        keys, shapes = self.config.feature_lora_keys, self.config.feature_lora_shapes
        if sorted(state) != sorted(keys) or any(tuple(state[k].shape) != tuple(s) for k, s in zip(keys, shapes)):
            raise ValueError("The feature LoRA's keys and shapes must be the config's feature_lora_keys/_shapes.")
        with torch.no_grad():
            self.feature_lora.copy_(torch.cat([state[k].reshape(-1).float() for k in keys]))

    def forward(self, condition):
        """(w, b) in the embedder's sentence space for each condition: shapes (batch, embedding_dim), (batch,)."""
        w = self.scale * condition + self.correction(condition)
        return w, self.bias(condition)[:, 0]

    def project(self, features):
        """Map base classifier features (n, feature_dim) into the sentence space with the stored projection."""
        return features @ self.projection[:-1] + self.projection[-1]

    def logits(self, condition, features):
        """Logit of label 1 for every (condition, feature row) pair: shape (batch, n)."""
        w, b = self(condition)
        return w @ self.project(features).T + b[:, None]

    def classifier_head(self, condition):
        """The classifier head (weight (batch, 2, feature_dim), bias (batch, 2)) whose softmax gives
        sigmoid(logit) for label 1: the projection is folded into the weights."""
        w, b = self(condition)
        weight = w @ self.projection[:-1].T
        bias = b + w @ self.projection[-1]
        weight = torch.stack([-weight / 2, weight / 2], dim=1)
        bias = torch.stack([-bias / 2, bias / 2], dim=1)
        return weight, bias
