"""The layout contract between a zoo, a generator and PEFT: ordered keys, shapes, segments and parameter tokens."""

import json
import os
import re

import numpy as np
import torch

_LAYER_RE = re.compile(r"\.(?:layer|layers|h|blocks)\.(\d+)\.")


class LayoutMismatchError(ValueError):
    """An adapter whose keys or shapes differ from the layout."""


def _segment(key):
    """(layer, module, kind) for a PEFT state-dict key; kind is 'A', 'B' or 'head'."""
    match = _LAYER_RE.search(key)
    layer = int(match.group(1)) if match else -1
    if ".lora_A." in key:
        kind = "A"
    elif ".lora_B." in key:
        kind = "B"
    else:
        kind = "head"
    parts = key.split(".")
    if kind in ("A", "B"):
        module = parts[parts.index(f"lora_{kind}") - 1]
    else:
        module = ".".join(parts[-2:])  # e.g. classifier.weight
    return layer, module, kind


class LoraLayout:
    """Ordered keys and shapes of an adapter, with an exact flatten/unflatten and fixed-size parameter tokens.

    Every segment (one tensor) is cut into ``ceil(numel / token_size)`` tokens, the last one zero-padded, so that a
    token never mixes two tensors. Each token carries ids for its layer, module, kind (A/B/head) and position.
    """

    def __init__(self, keys, shapes, token_size=256):
        if len(keys) != len(shapes) or not keys:
            raise ValueError("A layout needs one shape per key and at least one key.")
        if token_size < 1:
            raise ValueError(f"token_size must be >= 1, got {token_size}.")
        self.keys = list(keys)
        self.shapes = [tuple(int(d) for d in s) for s in shapes]
        self.token_size = int(token_size)
        self.numels = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.numels)]).astype(int).tolist()
        self.num_params = self.offsets[-1]
        segments = [_segment(k) for k in self.keys]
        layers = sorted({s[0] for s in segments})
        modules = sorted({s[1] for s in segments})
        kinds = ["A", "B", "head"]
        self.tokens_per_segment = [-(-n // self.token_size) for n in self.numels]
        token_layer, token_module, token_kind, token_position, token_segment = [], [], [], [], []
        for i, (layer, module, kind) in enumerate(segments):
            for j in range(self.tokens_per_segment[i]):
                token_layer.append(layers.index(layer))
                token_module.append(modules.index(module))
                token_kind.append(kinds.index(kind))
                token_position.append(j)
                token_segment.append(i)
        self.num_layers, self.num_modules = len(layers), len(modules)
        self.num_tokens = len(token_layer)
        self.max_position = max(token_position) + 1
        self.token_ids = {
            "layer": torch.tensor(token_layer), "module": torch.tensor(token_module),
            "kind": torch.tensor(token_kind), "position": torch.tensor(token_position),
            "segment": torch.tensor(token_segment),
        }
        # Index that scatters the flat vector into the padded token grid.
        gather = []
        for i in range(len(self.keys)):
            start = self.offsets[i]
            idx = list(range(start, start + self.numels[i]))
            pad = self.tokens_per_segment[i] * self.token_size - self.numels[i]
            gather.extend(idx + [-1] * pad)
        self._gather = torch.tensor(gather)
        self._valid = self._gather >= 0

    @classmethod
    def from_state_dict(cls, state_dict, token_size=256):
        """Layout of a PEFT adapter state dict (keys in their given order)."""
        return cls(list(state_dict.keys()), [tuple(v.shape) for v in state_dict.values()], token_size)

    @classmethod
    def from_peft_model(cls, peft_model, token_size=256):
        from peft import get_peft_model_state_dict

        return cls.from_state_dict(get_peft_model_state_dict(peft_model), token_size)

    # -- contract -------------------------------------------------------------------------------------------------
    def check(self, state_dict, source="adapter"):
        """Raise :class:`LayoutMismatchError` naming the first difference between ``state_dict`` and the layout."""
        keys = list(state_dict.keys())
        missing = [k for k in self.keys if k not in state_dict]
        extra = [k for k in keys if k not in set(self.keys)]
        if missing or extra:
            raise LayoutMismatchError(
                f"{source} does not match the layout: {len(missing)} missing keys (e.g. {missing[:2]}), "
                f"{len(extra)} unexpected keys (e.g. {extra[:2]})."
            )
        for key, shape in zip(self.keys, self.shapes):
            if tuple(state_dict[key].shape) != shape:
                raise LayoutMismatchError(
                    f"{source} does not match the layout: '{key}' has shape {tuple(state_dict[key].shape)}, "
                    f"expected {shape}."
                )

    def __eq__(self, other):
        return isinstance(other, LoraLayout) and self.keys == other.keys and self.shapes == other.shapes

    # -- flat vectors ---------------------------------------------------------------------------------------------
    def flatten(self, state_dict):
        """State dict -> float32 vector of ``num_params`` (checks the layout first)."""
        self.check(state_dict)
        return torch.cat([state_dict[k].detach().reshape(-1).float().cpu() for k in self.keys])

    def unflatten(self, vector):
        """Vector of ``num_params`` -> state dict in layout order (exact inverse of :meth:`flatten`)."""
        vector = torch.as_tensor(vector)
        if vector.shape[-1] != self.num_params:
            raise LayoutMismatchError(f"Expected a vector of {self.num_params} parameters, got {vector.shape[-1]}.")
        return {k: vector[..., self.offsets[i]:self.offsets[i + 1]].reshape(*vector.shape[:-1], *self.shapes[i])
                .clone() for i, k in enumerate(self.keys)}

    def to_tokens(self, vectors):
        """(batch, num_params) -> (batch, num_tokens, token_size), zero-padded per segment."""
        vectors = torch.as_tensor(vectors)
        padded = torch.zeros(*vectors.shape[:-1], self._gather.numel(), dtype=vectors.dtype, device=vectors.device)
        valid = self._valid.to(vectors.device)
        padded[..., valid] = vectors[..., self._gather[self._valid].to(vectors.device)]
        return padded.reshape(*vectors.shape[:-1], self.num_tokens, self.token_size)

    def from_tokens(self, tokens):
        """(batch, num_tokens, token_size) -> (batch, num_params): drops the padding."""
        flat = tokens.reshape(*tokens.shape[:-2], self.num_tokens * self.token_size)
        out = torch.empty(*tokens.shape[:-2], self.num_params, dtype=tokens.dtype, device=tokens.device)
        out[..., self._gather[self._valid].to(tokens.device)] = flat[..., self._valid.to(tokens.device)]
        return out

    # -- persistence ----------------------------------------------------------------------------------------------
    def to_dict(self):
        return {"keys": self.keys, "shapes": [list(s) for s in self.shapes], "token_size": self.token_size,
                "num_params": self.num_params, "num_tokens": self.num_tokens}

    @classmethod
    def from_dict(cls, d):
        return cls(d["keys"], d["shapes"], d.get("token_size", 256))

    def save(self, path):
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls.from_dict(json.load(f))

    def __repr__(self):
        return (f"LoraLayout({len(self.keys)} tensors, {self.num_params} params, {self.num_tokens} tokens of "
                f"{self.token_size})")
