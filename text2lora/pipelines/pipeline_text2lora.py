"""Text2LoraPipeline: description in, PEFT LoRA adapter out."""

import hashlib
import math
import os
import re
from pathlib import Path
from typing import List, Optional, Tuple, Union

import torch
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from ..adapters import AdapterSpec
from ..data.layout import LoraLayout
from ..hub.cards import SHIPPED_GENERATOR_NAME
from ..labels import check_labels, label_maps, label_names

# The generator that ships inside the package (the default of generate.py).
SHIPPED_GENERATOR = str(Path(__file__).resolve().parent.parent / "data" / "generator")


class Text2LoraPipelineOutput(BaseOutput):
    """``adapters``: one PEFT state dict per generated adapter (task-major order); ``descriptions``: the
    description each adapter was generated from; ``vectors``: the flat float32 weights (batch, num_params);
    ``snapped_tasks``: for each adapter, the seen task whose condition anchor it was generated from (``None`` when the
    condition was not snapped); ``labels``: for each adapter, the names of its labels ``[name0, name1]``;
    ``generation_configs``: for each adapter, what produced it (the ``generation_config`` to pass to
    :meth:`Text2LoraPipeline.save_adapter`, which writes it to ``generation_config.json`` and the model card);
    ``methods``: for each adapter, the method that wrote its weights (``"diffusion"`` or ``"hypernetwork"``; with
    ``method="auto"`` the one each description was routed to)."""

    adapters: list
    descriptions: list
    vectors: torch.Tensor
    snapped_tasks: list = None
    labels: list = None
    generation_configs: list = None
    methods: list = None


class NonFiniteWeightsError(ValueError):
    """Sampled weights contain NaN or Inf; nothing was written."""


def task_slug(task, seed=None, max_len=48):
    """Readable folder-name stem for a description: lowercase ASCII words joined by "-" (and ``-seed<seed>``).

    The slug is lossy (case, punctuation, non-ASCII text, truncation); :func:`adapter_folder_name` adds a hash when
    it is."""
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:max_len].strip("-") or "task"
    return f"{slug}-seed{seed}" if seed is not None else slug


def adapter_folder_name(description, method="diffusion", seed=None, index=None, max_len=48):
    """Folder name for one generated adapter: ``<slug>[--<hash>]-<method>[-seed<seed>][-<index>]``.

    The 8-hex sha256 of the description is added whenever the slug does not spell the description exactly (empty,
    truncated, other case, punctuation or non-ASCII text), so two different descriptions never share a folder. The
    seed is named only for the methods it can change (``"diffusion"`` and ``"auto"``)."""
    slug = task_slug(description, max_len=max_len)
    if slug.replace("-", " ") != description:
        slug = f"{slug}--{hashlib.sha256(description.encode('utf-8')).hexdigest()[:8]}"
    name = f"{slug}-{method}"
    if method in ("diffusion", "auto") and seed is not None:
        name += f"-seed{seed}"
    return name if index is None else f"{name}-{index}"


class Text2LoraPipeline(DiffusionPipeline):
    """Generate LoRA adapters from task descriptions.

    Components: ``denoiser`` (:class:`~text2lora.models.LoraDenoiser`), ``scheduler`` (any diffusers scheduler;
    swap with ``Scheduler.from_config(pipe.scheduler.config)``) and, optionally, ``head_generator``
    (:class:`~text2lora.models.HeadHypernetwork`, added by ``train_head.py``) for ``method="hypernetwork"``. The
    sentence-transformers ``embedder`` is recorded by name or path and loaded lazily on first use.

    ``routing_threshold`` (set by ``scripts/set_routing_threshold.py`` from a validation run) makes
    ``method="auto"``, the default, route each description: to the denoiser, conditioned on the seen task it is
    closest to, when its cosine to that task's anchor is at least the threshold (a description of a task the zoo
    has), and to the head generator otherwise (a new task).
    """

    model_cpu_offload_seq = "denoiser"
    _optional_components = ["head_generator"]
    methods = ("auto", "diffusion", "hypernetwork")

    def __init__(self, denoiser, scheduler, head_generator=None, embedder="sentence-transformers/all-MiniLM-L6-v2",
                 routing_threshold=None):
        super().__init__()
        if routing_threshold is not None and not -1.0 <= float(routing_threshold) <= 1.0:
            raise ValueError(f"routing_threshold is a cosine in [-1, 1], got {routing_threshold!r}.")
        self.register_modules(denoiser=denoiser, scheduler=scheduler, head_generator=head_generator)
        self.register_to_config(embedder=embedder, routing_threshold=routing_threshold)
        self._embedder_model = None
        # The generator's measured accuracy (evaluation_summary.json, see text2lora.evaluation.summary), quoted in the
        # cards of the adapters it writes; None when it has none.
        self.evaluation_summary = None

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """Load like any DiffusionPipeline; components shipped in fp16 are upcast to float32 unless ``torch_dtype``
        is given. The generator's ``evaluation_summary.json`` is read when it has one that matches its files."""
        pipe = super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        if "torch_dtype" not in kwargs:
            for model in (pipe.denoiser, pipe.head_generator):
                if model is not None and model.dtype != torch.float32:
                    model.to(torch.float32)
        pipe.evaluation_summary = _load_evaluation_summary(pretrained_model_name_or_path, kwargs.get("revision"))
        return pipe

    # -- helpers --------------------------------------------------------------------------------------------------
    @property
    def layout(self):
        return self.denoiser.layout

    @property
    def adapter_spec(self):
        return AdapterSpec.from_dict(self.denoiser.config.adapter_spec or {})

    @property
    def embedder_model(self):
        """The sentence-transformers model named by ``config.embedder`` (loaded on first use)."""
        from ..embedding import load_embedder

        if self._embedder_model is None:
            self._embedder_model = load_embedder(self.config.embedder, str(self._execution_device))
        return self._embedder_model

    @property
    def can_route(self):
        """Whether ``method="auto"`` routes descriptions: a text denoiser with condition anchors, a head generator
        and a ``routing_threshold``. Without them ``"auto"`` samples the denoiser."""
        return (self.head_generator is not None and self.config.get("routing_threshold") is not None
                and self.denoiser.config.condition_type == "text" and self.denoiser.has_condition_anchors)

    def route(self, embeddings):
        """For description embeddings (n, dim): (whether ``method="auto"`` samples the denoiser for each, the cosine
        to the nearest seen-task anchor, that task's name)."""
        if not self.can_route:
            raise ValueError("This generator does not route descriptions: it needs condition anchors, a "
                             "head_generator and a routing_threshold (scripts/set_routing_threshold.py).")
        similarity, nearest = self.nearest_seen_task(embeddings)
        return [s >= self.config.routing_threshold for s in similarity], similarity, nearest

    def nearest_seen_task(self, embeddings):
        """For description embeddings (n, dim): the cosine to the nearest seen-task anchor, and that task's name."""
        best, index = self.denoiser.nearest_anchors(embeddings)
        return best.tolist(), [self.denoiser.config.anchor_tasks[i] for i in index.tolist()]

    def encode_prompt(self, prompts):
        """Embed descriptions with the recorded sentence-transformers model: an L2-normalized (n, dim) tensor."""
        from ..embedding import embed

        return torch.from_numpy(embed(prompts, self.embedder_model))

    @property
    def generator_name(self):
        """How generation configs name this generator: the folder or Hub id it was loaded from
        (``name_or_path``), or :data:`SHIPPED_GENERATOR_NAME` for the shipped one; ``None`` when not loaded."""
        name = self.name_or_path
        if not name:
            return None
        if os.path.isdir(name) and os.path.realpath(name) == os.path.realpath(SHIPPED_GENERATOR):
            return SHIPPED_GENERATOR_NAME
        return str(name)

    def check_inputs(self, prompt, num_inference_steps, guidance_scale, num_adapters_per_prompt, method="diffusion",
                     labels=None, condition=None, snap_to_seen_tasks=None):
        """Validate the call's arguments; returns ``prompt`` as a list."""
        if labels is not None:
            check_labels(labels)
        prompts = [prompt] if isinstance(prompt, (str, int)) else list(prompt)
        if not prompts:
            raise ValueError("Give at least one task description.")
        if method not in self.methods:
            raise ValueError(f"method must be one of {self.methods}, got {method!r}.")
        if method == "hypernetwork" and self.head_generator is None:
            raise ValueError("This generator has no head_generator component; add one with train_head.py or use "
                             "method='diffusion'.")
        if method == "auto" and self.can_route and condition is not None:
            raise ValueError("method='auto' routes descriptions by their embedding; with a precomputed condition "
                             "choose method='diffusion' or 'hypernetwork'.")
        if method == "auto" and self.can_route and snap_to_seen_tasks is False:
            raise ValueError("method='auto' snaps the descriptions it samples with the denoiser; for unsnapped "
                             "sampling use method='diffusion' with snap_to_seen_tasks=False.")
        if self.denoiser.config.condition_type == "text" or method == "hypernetwork":
            for t in prompts:
                if not isinstance(t, str) or not t.strip():
                    raise ValueError(f"Task descriptions must be non-empty text, got {t!r}.")
        else:
            for t in prompts:
                if not isinstance(t, int) or not 0 <= t < self.denoiser.config.num_tasks:
                    raise ValueError(f"Task ids must be ints in [0, {self.denoiser.config.num_tasks}), got {t!r}.")
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be an integer >= 1, got {num_inference_steps!r}.")
        if not isinstance(guidance_scale, (int, float)) or guidance_scale < 0 or not math.isfinite(guidance_scale):
            raise ValueError(f"guidance_scale must be a finite number >= 0, got {guidance_scale!r}.")
        if not isinstance(num_adapters_per_prompt, int) or num_adapters_per_prompt < 1:
            raise ValueError(f"num_adapters_per_prompt must be an integer >= 1, got {num_adapters_per_prompt!r}.")
        return prompts

    # -- generation ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        prompt: Union[str, List[str], List[int]],
        num_inference_steps: int = 25,
        guidance_scale: float = 1.0,
        num_adapters_per_prompt: int = 1,
        generator: Optional[torch.Generator] = None,
        condition: Optional[torch.Tensor] = None,
        output_type: str = "peft",
        return_dict: bool = True,
        method: str = "auto",
        snap_to_seen_tasks: Optional[bool] = None,
        labels: Optional[List[str]] = None,
    ) -> Union[Text2LoraPipelineOutput, Tuple]:
        r"""Generate LoRA adapters for task descriptions.

        Args:
            prompt (`str`, `List[str]` or `List[int]`):
                The task description(s), e.g. ``"classify sentiment"``; task ids for a task-id denoiser.
            num_inference_steps (`int`, defaults to 25):
                Denoising steps of the scheduler.
            guidance_scale (`float`, defaults to 1.0):
                1.0 samples the plain conditional model; > 1 applies classifier-free guidance; 0 samples
                unconditionally.
            num_adapters_per_prompt (`int`, defaults to 1):
                Adapters sampled for each description (prompt-major order in the output).
            generator (`torch.Generator`, *optional*):
                Makes sampling deterministic.
            condition (`torch.Tensor`, *optional*):
                Precomputed condition vectors (one per prompt) used instead of embedding ``prompt``, e.g. for
                interpolation. Never snapped.
            output_type (`str`, defaults to `"peft"`):
                ``"peft"``: one PEFT state dict per adapter; ``"vector"``: only the flat weights.
            return_dict (`bool`, defaults to `True`):
                Return a :class:`Text2LoraPipelineOutput` instead of a tuple ``(adapters, descriptions, vectors)``.
            method (`str`, defaults to `"auto"`):
                ``"diffusion"`` samples the denoiser (best on tasks like the zoo's); ``"hypernetwork"`` writes the
                ``head_generator``'s classifier head and its shared LoRA (deterministic; better on new tasks, see the
                evaluation report). ``"auto"`` routes each description (see :meth:`route`): to ``"diffusion"``,
                snapped, when it is close to a seen task (cosine to that task's anchor >= ``routing_threshold``), to
                ``"hypernetwork"`` otherwise; every description is denoised, so a routed adapter equals the one
                ``method="diffusion"`` gives it in the same call. Without ``routing_threshold`` or a head generator
                ``"auto"`` is ``"diffusion"``. Steps, guidance and ``generator`` only affect sampled adapters.
            snap_to_seen_tasks (`bool`, *optional*):
                ``"diffusion"`` with descriptions only: condition on the anchor of the training task the description
                is closest to (the normalized mean of that task's training-description embeddings) instead of on its
                own embedding. ``None`` snaps when the denoiser has anchors. Snapping makes paraphrases of seen tasks
                reliable; it never makes a new task's adapter.
            labels (`List[str]`, *optional*):
                Names of label 0 and label 1 for every adapter, e.g. ``["not spam", "spam"]``. By default label 1 is
                the label of the seen task the description was snapped to, or a short name derived from the
                description (:func:`text2lora.labels.label_names`), and label 0 its complement.

        Examples:
            ```py
            >>> import torch
            >>> from text2lora import SHIPPED_GENERATOR, Text2LoraPipeline

            >>> pipe = Text2LoraPipeline.from_pretrained(SHIPPED_GENERATOR)
            >>> out = pipe("detect angry tweets", generator=torch.Generator().manual_seed(0))
            >>> out.labels[0]
            ['not anger', 'anger']
            >>> pipe.save_adapter(out.adapters[0], "angry-tweets", generation_config=out.generation_configs[0])
            ```

        Returns:
            [`Text2LoraPipelineOutput`] or `tuple`: the adapters (PEFT state dicts), the description each came from,
            their flat weights, when snapped the seen task each was conditioned on, each adapter's label names and
            its generation config. The tuple is ``(adapters, descriptions, vectors)``.
        """
        prompts = self.check_inputs(prompt, num_inference_steps, guidance_scale, num_adapters_per_prompt, method,
                                    labels, condition, snap_to_seen_tasks)
        if method == "auto" and not self.can_route:
            method = "diffusion"
        device = self._execution_device
        denoiser = self.denoiser
        dtype = denoiser.dtype
        record = {"method": method, "num_adapters_per_prompt": num_adapters_per_prompt, "labels": labels,
                  "condition_given": condition is not None}
        if method == "hypernetwork":
            return self._hypernetwork_adapters(prompts, num_adapters_per_prompt, condition, output_type, return_dict,
                                               record)

        # 1. Condition (a description embedding, or the anchor of the seen task it is closest to); "auto" also
        # decides which descriptions the denoiser serves.
        embeddings = routes = None
        if method == "auto":
            embeddings = self.encode_prompt(prompts)
            routes = self.route(embeddings)
            snap_to_seen_tasks = True
        if snap_to_seen_tasks is None:
            snap_to_seen_tasks = denoiser.has_condition_anchors
        elif snap_to_seen_tasks and not denoiser.has_condition_anchors:
            raise ValueError("snap_to_seen_tasks=True needs a denoiser with condition anchors (a text denoiser trained "
                             "by a current train.py, or see scripts/add_condition_anchors.py).")
        snapped_tasks = None
        record.update(scheduler=self.scheduler.__class__.__name__, num_inference_steps=num_inference_steps,
                      guidance_scale=guidance_scale,
                      snap_to_seen_tasks=bool(snap_to_seen_tasks and condition is None
                                              and denoiser.config.condition_type == "text"),
                      seed=generator.initial_seed() if isinstance(generator, torch.Generator) else None,
                      device=str(generator.device) if isinstance(generator, torch.Generator) else None)
        if condition is None:
            if denoiser.config.condition_type == "text":
                condition = self.encode_prompt(prompts) if embeddings is None else embeddings
                if snap_to_seen_tasks:
                    condition, snapped_tasks = denoiser.snap_condition(condition)
                    snapped_tasks = [s for s in snapped_tasks for _ in range(num_adapters_per_prompt)]
            else:
                condition = torch.tensor(prompts)
        condition = condition.to(device)
        condition = condition.repeat_interleave(num_adapters_per_prompt, dim=0)
        batch = condition.shape[0]
        use_cfg = guidance_scale != 1.0
        null = denoiser.null_condition_like(batch).to(device)
        if guidance_scale == 0:
            condition = null

        # 2. Initial noise in normalized token space.
        shape = (batch, *denoiser.sample_shape)
        sample = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        sample = sample * self.scheduler.init_noise_sigma
        self.scheduler.set_timesteps(num_inference_steps, device=device)

        # 3. Denoising loop.
        for t in self.progress_bar(self.scheduler.timesteps):
            model_input = self.scheduler.scale_model_input(sample, t)
            if use_cfg and guidance_scale != 0:
                both = denoiser(torch.cat([model_input, model_input]), t, torch.cat([condition, null]))
                cond_out, uncond_out = both.sample.chunk(2)
                model_output = uncond_out + guidance_scale * (cond_out - uncond_out)
            else:
                model_output = denoiser(model_input, t, condition).sample
            sample = self.scheduler.step(model_output, t, sample, generator=generator).prev_sample

        # 4. Back to weights; "auto" gives the descriptions far from every seen task the head generator's adapter.
        vectors = denoiser.decode(sample).cpu()
        self.maybe_free_model_hooks()
        if routes is not None:
            use_diffusion = torch.tensor(routes[0]).repeat_interleave(num_adapters_per_prompt)
            head_vectors = self._head_vectors(embeddings.repeat_interleave(num_adapters_per_prompt, dim=0))
            vectors = torch.where(use_diffusion[:, None], vectors, head_vectors)
            snapped_tasks = [s if d else None for s, d in zip(snapped_tasks, use_diffusion.tolist())]
            record["routes"] = routes
        # 5. Check, and split into PEFT state dicts.
        return self._output(vectors, prompts, num_adapters_per_prompt, output_type, return_dict, record,
                            "Try fewer guidance or more steps.", snapped_tasks)

    def _output(self, vectors, prompts, num_adapters_per_prompt, output_type, return_dict, record, hint="",
                snapped_tasks=None):
        """Check the flat weights are finite, then split them into PEFT state dicts (the pipeline's output)."""
        if not torch.isfinite(vectors).all():
            raise NonFiniteWeightsError(f"The generated weights contain NaN or Inf; nothing was written. {hint}")
        descriptions = [t for t in prompts for _ in range(num_adapters_per_prompt)]
        adapters = [] if output_type == "vector" else [self.layout.unflatten(v) for v in vectors]
        if not return_dict:
            return adapters, descriptions, vectors
        configs = self._generation_configs(prompts, record, snapped_tasks)
        return Text2LoraPipelineOutput(adapters=adapters, descriptions=descriptions, vectors=vectors,
                                       snapped_tasks=snapped_tasks, labels=[c["labels"] for c in configs],
                                       generation_configs=configs, methods=[c["method"] for c in configs])

    def _generation_configs(self, prompts, record, snapped_tasks):
        """One generation config per adapter: what produced it, recorded only where known and used by its method
        (the sampling settings for ``"diffusion"`` only; the seed only when a ``torch.Generator`` was given)."""
        n = record["num_adapters_per_prompt"]
        routes = record.get("routes")
        configs = []
        for i in range(len(prompts) * n):
            description, snapped = prompts[i // n], snapped_tasks[i] if snapped_tasks is not None else None
            method = record["method"]
            if routes is not None:  # "auto": the method this description was routed to, and why
                method = "diffusion" if routes[0][i // n] else "hypernetwork"
            diffusion = method == "diffusion"
            config = {"description": description if isinstance(description, str) else None,
                      "task_id": description if not isinstance(description, str) else None,
                      "generator": self.generator_name, "method": method}
            if routes is not None:
                config["routing"] = {"method": "auto", "nearest_seen_task": routes[2][i // n],
                                     "similarity": round(float(routes[1][i // n]), 4),
                                     "threshold": self.config.routing_threshold}
            if record["condition_given"]:
                config["condition"] = "given"  # the description did not set the condition: not reproducible from it
            if diffusion:
                config.update({key: record[key] for key in ("scheduler", "num_inference_steps", "guidance_scale",
                                                            "seed", "device", "num_adapters_per_prompt",
                                                            "snap_to_seen_tasks")})
                if len(prompts) > 1:  # the noise of one adapter depends on its place in the call
                    config["call_descriptions"] = list(prompts)
            config["sample_index"] = i % n
            config["snapped_to_task"] = snapped
            names = check_labels(record["labels"]) if record["labels"] is not None else label_names(
                description, snapped)
            id2label, label2id = label_maps(names)
            config.update(labels=names, id2label=id2label, label2id=label2id)
            configs.append({key: value for key, value in config.items() if value is not None})
        return configs

    def _hypernetwork_adapters(self, prompts, num_adapters_per_prompt, condition, output_type, return_dict, record):
        """Adapters whose classifier head comes from ``head_generator`` and whose LoRA weights are its shared feature
        LoRA (zero when it has none)."""
        if condition is None:
            condition = self.encode_prompt(prompts)
        vectors = self._head_vectors(condition.repeat_interleave(num_adapters_per_prompt, dim=0))
        return self._output(vectors, prompts, num_adapters_per_prompt, output_type, return_dict, record)

    def _head_vectors(self, condition):
        """The head generator's flat adapter weights (batch, num_params) for condition embeddings (batch, dim)."""
        head = self.head_generator
        condition = condition.to(self._execution_device, head.dtype)
        weight, bias = head.classifier_head(condition)
        layout = self.layout
        written = {head.config.head_weight_key: weight, head.config.head_bias_key: bias}
        written.update({k: v[None].expand(condition.shape[0], *v.shape) for k, v in head.feature_lora_state().items()})
        for key, value in written.items():
            if key not in layout.keys or tuple(layout.shapes[layout.keys.index(key)]) != tuple(value.shape[1:]):
                raise ValueError(f"The head_generator writes '{key}' with shape {tuple(value.shape[1:])}, which the "
                                 f"generator's layout ({layout}) does not hold.")
        vectors = torch.zeros(condition.shape[0], layout.num_params)
        for key, value in written.items():
            i = layout.keys.index(key)
            vectors[:, layout.offsets[i]:layout.offsets[i + 1]] = value.reshape(value.shape[0], -1).float().cpu()
        return vectors

    # -- writing adapters ---------------------------------------------------------------------------------------
    def save_adapter(self, state_dict, output_dir, description=None, generation_config=None, peft_model=None,
                     card=True, overwrite=False):
        """Write ``state_dict`` as a PEFT adapter directory (PEFT's own save path, atomically), with
        ``generation_config.json`` and a model card. Returns the directory.

        ``generation_config`` (one of the output's ``generation_configs``) is written as given, with the text
        embedder and the text2lora version added, and label names (``labels``, ``id2label``, ``label2id``) derived
        from the description when it has none. The card quotes the accuracy the generator's evaluation measured for
        the adapter's method (``evaluation_summary``) when there is one.

        An existing non-empty ``output_dir`` is replaced only with ``overwrite=True`` and only when it is an adapter
        text2lora wrote (its ``generation_config.json``) holding nothing else; the current folder, its ancestors and
        the home folder are refused. Nothing is written or deleted when a check fails.
        """
        from ..adapters import save_adapter
        from ..evaluation.summary import expected_accuracy
        from ..fileio import prepare_target

        prepare_target(output_dir, overwrite)  # before any work, so a refused target costs nothing
        self.layout.check(state_dict, source="generated adapter")
        for key, value in state_dict.items():
            if not torch.isfinite(value).all():
                raise NonFiniteWeightsError(f"'{key}' has NaN or Inf values; nothing was written.")
        spec = self.adapter_spec
        generation_config = dict(generation_config or {})
        generation_config.setdefault("description", description)
        if generation_config.get("labels") is None:
            generation_config["labels"] = label_names(generation_config["description"],
                                                      generation_config.get("snapped_to_task"))
        names = check_labels(generation_config["labels"], "generation_config['labels']")
        id2label, label2id = label_maps(names)
        generation_config.update(labels=names, id2label=id2label, label2id=label2id)
        generation_config.setdefault("embedder", self.config.embedder)
        generation_config["text2lora_version"] = _version()
        if peft_model is None:
            peft_model = self.peft_model()
        extra = {"generation_config.json": generation_config}
        if card:
            from ..hub.cards import render_adapter_card

            expected = expected_accuracy(self.evaluation_summary, generation_config.get("method"))
            extra["README.md"] = render_adapter_card(spec, generation_config, expected_accuracy=expected)
        return save_adapter(peft_model, output_dir, state_dict=state_dict, base_model=spec.base_model,
                            extra_files=extra, overwrite=overwrite)

    def peft_model(self):
        """The base model wrapped in the generator's LoRA layout (built once), which adapters are written through."""
        from ..adapters import build_peft_model

        if getattr(self, "_cached_peft", None) is None:
            self._cached_peft, _ = build_peft_model(self.adapter_spec)
            layout = LoraLayout.from_peft_model(self._cached_peft)
            if layout != self.layout:
                raise ValueError(
                    f"The generator's layout ({self.layout}) does not match its base model "
                    f"'{self.adapter_spec.base_model}' ({layout}).")
        return self._cached_peft


def _load_evaluation_summary(path_or_id, revision=None):
    """The ``evaluation_summary.json`` of a generator folder or Hub repo when it has one that matches its files, else
    ``None`` (offline, a Hub generator's summary is read from the cache only)."""
    from ..evaluation.summary import EVALUATION_SUMMARY, read_evaluation_summary

    path_or_id = os.fspath(path_or_id)
    if os.path.isdir(path_or_id):
        return read_evaluation_summary(path_or_id)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = hf_hub_download(path_or_id, EVALUATION_SUMMARY, revision=revision)
    except (OSError, ValueError, EntryNotFoundError, LocalEntryNotFoundError, HfHubHTTPError):
        return None
    return read_evaluation_summary(os.path.dirname(path))


def _version():
    try:
        from importlib.metadata import version

        return version("text2lora")
    except Exception:
        return "dev"

