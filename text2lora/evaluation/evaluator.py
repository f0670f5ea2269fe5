"""The evaluator: balanced accuracy of generated adapters next to fine-tuned ones and strong simple baselines.

Methods compared on a task's test split (balanced accuracy):
- ``zero_shot``: cosine between text and description embeddings, threshold chosen on the task's labelled val rows;
- ``zero_shot_label_free``: the same cosine with one threshold for every task, chosen on the training tasks' val rows
  (no label of the evaluated task, like the generators);
- ``fine_tuned``: the task's own zoo adapter (the oracle);
- ``generated``: adapters sampled from the task's descriptions (N samples: mean, best, spread);
- ``hypernetwork``: the generator's task-loss head generator (``method="hypernetwork"``), when it has one;
- ``mean_adapter``: the mean of the training zoo's adapters;
- ``retrieval``: the training-zoo adapter whose description embedding is closest to the description;
- ``top_k_merge``: the similarity-weighted average of the ``TOP_K`` training-zoo adapters whose descriptions are
  closest to the description (a soft retrieval, as LoRA routers merge the top-k adapters);
- ``multitask``: the multi-task baseline, when given: one description-conditioned model (shared LoRA and a
  description -> head map) trained with the task loss on every training task's rows (``train_head.py
  --multitask_steps``), with no task-specific part;
- controls: a random string as description, and another family's description.
"""

import random
import string
import zlib

import numpy as np
import torch

from ..adapters import AdapterScorer
from ..embedding import embed, pair_text
from . import baselines
from .metrics import balanced_accuracy, bootstrap_ci

TOP_K = 5  # adapters in the top-k merge baseline


def random_description(seed):
    """A random 'word salad' string: the random-description control."""
    rng = random.Random(seed)
    return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
                    for _ in range(rng.randint(3, 7)))


class Evaluator:
    """Scores adapters and baselines on tasks, sharing one base model, cached tokenization and embeddings.

    ``task_loader`` (name -> Task, raising ValueError for unknown names; default: the suite's ``load_task``) gives
    the training tasks' val rows for the label-free zero-shot threshold.
    """

    def __init__(self, zoo, pipeline=None, train_tasks=None, embedder=None, device="cpu", seed=0,
                 num_inference_steps=25, guidance_scale=1.0, task_loader=None, multitask_pipeline=None):
        if multitask_pipeline is not None and multitask_pipeline.head_generator is None:
            raise ValueError("The multi-task baseline must be a generator with a head_generator component "
                             "(train_head.py --multitask_steps).")
        self.zoo = zoo
        self.pipeline = pipeline
        self.multitask_pipeline = multitask_pipeline
        self.embedder = embedder or (pipeline.config.embedder if pipeline is not None else zoo.spec.base_model)
        self.scorer = AdapterScorer(zoo.spec, device=device)
        self.seed = seed
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = guidance_scale
        self.train_tasks = list(train_tasks) if train_tasks is not None else zoo.task_names(split="seen")
        self._text_vectors = {}
        self._retrieval_index = None
        self._zoo_scores = {}
        self._mean_vector = None
        self._label_free_threshold = None
        self.task_loader = task_loader
        self.generated_log = []  # (task, family, split, vector) of generated adapters, for the adapter map

    # -- baselines ------------------------------------------------------------------------------------------------
    def _task_vectors(self, task, split):
        key = (task.name, split)
        if key not in self._text_vectors:
            self._text_vectors[key] = embed(pair_text(*task.texts(split)), self.embedder)
        return self._text_vectors[key]

    def zero_shot(self, task, description):
        """Zero-shot baseline for one description, threshold tuned on the task's val rows: (balanced accuracy,
        predictions)."""
        d = embed([description], self.embedder)[0]
        threshold = baselines.val_threshold(d, self._task_vectors(task, "val"), task.labels("val"))
        return baselines.zero_shot(d, self._task_vectors(task, "test"), task.labels("test"), threshold)

    def label_free_threshold(self, per_class=32):
        """One cosine threshold for every task (:func:`baselines.label_free_threshold`): chosen on the training tasks'
        val rows (``per_class`` of each label per task) scored against each task's first training description. None
        when no training task's rows are available (a zoo of tasks outside the suite)."""
        if self._label_free_threshold is None:
            from ..data import tasks as suite
            from ..training.head_training import balanced_rows

            load_task = self.task_loader or suite.load_task
            names = list(self.train_tasks)
            descriptions = embed([self.zoo.task_row(n)["descriptions"][0] for n in names], self.embedder)
            scores, labels = [], []
            for name, d in zip(names, descriptions):
                try:
                    task = load_task(name)
                except ValueError:
                    continue
                y = np.asarray(task.labels("val"))
                idx = balanced_rows(y, per_class, self.seed)
                texts, pairs = task.texts("val")
                vectors = embed(pair_text([texts[i] for i in idx], None if pairs is None else [pairs[i] for i in idx]),
                                self.embedder)
                scores.append(baselines.cosine_scores(d, vectors))
                labels.append(y[idx])
            threshold = baselines.label_free_threshold(scores, labels)
            self._label_free_threshold = float("nan") if threshold is None else threshold
        return None if np.isnan(self._label_free_threshold) else self._label_free_threshold

    def zero_shot_label_free(self, task, description):
        """Zero-shot baseline with :meth:`label_free_threshold`: balanced test accuracy (None without one)."""
        threshold = self.label_free_threshold()
        if threshold is None:
            return None
        d = embed([description], self.embedder)[0]
        return baselines.zero_shot(d, self._task_vectors(task, "test"), task.labels("test"), threshold)[0]

    def mean_adapter_vector(self):
        if self._mean_vector is None:
            idx = [i for i, r in enumerate(self.zoo.rows) if r["task"] in set(self.train_tasks)]
            self._mean_vector = self.zoo.vectors[idx].mean(0)
        return self._mean_vector

    def score_zoo_adapter(self, owner, task, split="test"):
        """Balanced accuracy of zoo task ``owner``'s adapter on ``task`` (cached); owner '__mean__' is the mean."""
        key = (owner, task.name, split)
        if key not in self._zoo_scores:
            vector = self.mean_adapter_vector() if owner == "__mean__" else self.zoo.task_vector(owner)
            self._zoo_scores[key] = self.score_vector(vector, task, split)
        return self._zoo_scores[key]

    def retrieval_index(self):
        """(embeddings of every training description, the zoo row of its task)."""
        if self._retrieval_index is None:
            texts, owners = [], []
            for name in self.train_tasks:
                row = self.zoo.task_row(name)
                for d in row["descriptions"]:
                    texts.append(d)
                    owners.append(name)
            self._retrieval_index = (embed(texts, self.embedder), owners)
        return self._retrieval_index

    def retrieve(self, description, exclude=None):
        vectors, owners = self.retrieval_index()
        scores = vectors @ embed([description], self.embedder)[0]
        for i in np.argsort(-scores):
            if owners[i] != exclude:
                return owners[i], float(scores[i])
        raise ValueError("Retrieval index is empty.")

    def top_k_merge_vector(self, description, k=TOP_K):
        """(flat weights, merged tasks, weights): the average of the zoo adapters of the ``k`` training tasks whose
        closest description is most similar to ``description``, weighted by that cosine (negative cosines count 0;
        equal weights when all are)."""
        vectors, owners = self.retrieval_index()
        scores = vectors @ embed([description], self.embedder)[0]
        best = {}
        for owner, score in zip(owners, scores):
            best[owner] = max(best.get(owner, -1.0), float(score))
        top = sorted(best, key=best.get, reverse=True)[:k]
        weights = np.clip(np.asarray([best[t] for t in top]), 0.0, None)
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(top), 1.0 / len(top))
        merged = sum(float(w) * self.zoo.task_vector(t) for w, t in zip(weights, top))
        return merged, top, weights.tolist()

    def score_vector(self, vector, task, split="test", return_predictions=False):
        state = self.zoo.layout.unflatten(vector)
        p = self.scorer.proba(state, task, split)
        acc = balanced_accuracy(task.labels(split), p >= 0.5)
        return (acc, p >= 0.5) if return_predictions else acc

    # -- generation -----------------------------------------------------------------------------------------------
    @property
    def has_hypernetwork(self):
        return getattr(self.pipeline, "head_generator", None) is not None

    @property
    def can_route(self):
        """Whether the generator's default ``method="auto"`` routes descriptions (:meth:`Text2LoraPipeline.route`)."""
        return bool(getattr(self.pipeline, "can_route", False))

    def routes(self, descriptions):
        """For each description, whether ``method="auto"`` samples the denoiser (else the head generator), with the
        cosine to the nearest seen-task anchor: (flags, cosines)."""
        use_diffusion, similarity, _ = self.pipeline.route(self.pipeline.encode_prompt(list(descriptions)))
        return use_diffusion, similarity

    def random_text(self, task):
        """The random-description control's text for ``task`` (the same for every method)."""
        return random_description(self.seed + zlib.crc32(task.name.encode()) % 1000)

    def generate_vectors(self, descriptions, num_samples=1, seed=None, condition=None, method="diffusion",
                         return_output=False, snap_to_seen_tasks=None, pipeline=None):
        """Flat generated weights (or, with ``return_output``, the whole pipeline output). ``snap_to_seen_tasks``:
        as in the pipeline (None: its default); ``pipeline``: another generator than the evaluator's."""
        pipeline = pipeline or self.pipeline
        if pipeline is None:
            raise ValueError("This evaluator has no generator pipeline.")
        generator = torch.Generator().manual_seed(self.seed if seed is None else seed)
        out = pipeline(descriptions if condition is None else ["_"] * len(condition),
                            num_inference_steps=self.num_inference_steps, guidance_scale=self.guidance_scale,
                            num_adapters_per_prompt=num_samples, generator=generator, condition=condition,
                            output_type="vector", method=method, snap_to_seen_tasks=snap_to_seen_tasks)
        return out if return_output else out.vectors

    # -- one task, every method -----------------------------------------------------------------------------------
    def evaluate_task(self, task, descriptions, num_samples=1, controls=False, mismatched_description=None,
                      retrieval_exclude_self=False, ci=False, include_head=True):
        """Every method on one task, for the given descriptions (e.g. its held-out ones). ``include_head=False``
        leaves out the head generator's keys (:meth:`evaluate_head` gives them alone)."""
        result = {"task": task.name, "family": task.family, "split": task.split,
                  "num_test": len(task.labels("test")), "descriptions": list(descriptions)}
        if task.name in set(self.zoo.task_names()):
            result["fine_tuned"] = self.score_zoo_adapter(task.name, task)
            if ci:
                _, ft_pred = self.score_vector(self.zoo.task_vector(task.name), task, return_predictions=True)
                result["fine_tuned_ci"] = bootstrap_ci(task.labels("test"), ft_pred, seed=self.seed)
        zs = [self.zero_shot(task, d)[0] for d in descriptions]
        result["zero_shot"] = float(np.mean(zs))
        if self.label_free_threshold() is not None:
            result["zero_shot_label_free"] = float(np.mean([self.zero_shot_label_free(task, d) for d in descriptions]))
        result["mean_adapter"] = self.score_zoo_adapter("__mean__", task)
        retrieved, scores = [], []
        for d in descriptions:
            owner, _ = self.retrieve(d, exclude=task.name if retrieval_exclude_self else None)
            retrieved.append(owner)
            scores.append(self.score_zoo_adapter(owner, task))
        result["retrieval"] = float(np.mean(scores))
        result["retrieved_tasks"] = retrieved
        result["top_k_merge"] = float(np.mean([self.score_vector(self.top_k_merge_vector(d)[0], task)
                                               for d in descriptions]))
        if self.pipeline is not None:
            out = self.generate_vectors(list(descriptions), num_samples=num_samples, return_output=True)
            vectors = out.vectors
            accs = [self.score_vector(v, task) for v in vectors]
            self.generated_log.append((task.name, task.family, task.split, vectors[0]))
            per_description = np.asarray(accs).reshape(len(descriptions), num_samples)
            result["generated"] = float(np.mean(accs))
            result["generated_best"] = float(np.max(accs))
            result["generated_std"] = float(np.std(accs))
            result["generated_per_description"] = per_description.mean(1).tolist()
            if out.snapped_tasks is not None:
                # The seen task each description was snapped to, and that task's zoo adapter (a retrieval baseline
                # that matches descriptions to tasks the same way).
                snapped = out.snapped_tasks[::num_samples]
                result["snapped_tasks"] = snapped
                result["retrieval_snapped"] = float(np.mean([self.score_zoo_adapter(t, task) for t in snapped]))
            if "fine_tuned" in result:
                distances = torch.cdist(vectors, self.zoo.vectors).min(1).values
                result["generated_to_nearest_zoo_l2"] = float(distances.mean())
            result.update(self._controls(task, "diffusion", controls, mismatched_description))
            if include_head and self.has_hypernetwork:
                result.update(self.evaluate_head(task, descriptions, controls, mismatched_description))
        return result

    def evaluate_head(self, task, descriptions, controls=False, mismatched_description=None):
        """The head generator's keys alone (``hypernetwork``, its per-description scores and controls); they depend
        on nothing else :meth:`evaluate_task` computes."""
        if not self.has_hypernetwork:
            raise ValueError("This evaluator's generator has no head_generator component.")
        vectors = self.generate_vectors(list(descriptions), method="hypernetwork")
        result = {"hypernetwork_per_description": [self.score_vector(v, task) for v in vectors]}
        result["hypernetwork"] = float(np.mean(result["hypernetwork_per_description"]))
        result.update(self._controls(task, "hypernetwork", controls, mismatched_description))
        return result

    def evaluate_multitask(self, task, descriptions, controls=False, mismatched_description=None):
        """The multi-task baseline's keys alone (``multitask``, per description, and its controls)."""
        if self.multitask_pipeline is None:
            raise ValueError("This evaluator has no multi-task baseline.")
        vectors = self.generate_vectors(list(descriptions), method="hypernetwork", pipeline=self.multitask_pipeline)
        result = {"multitask_per_description": [self.score_vector(v, task) for v in vectors]}
        result["multitask"] = float(np.mean(result["multitask_per_description"]))
        result.update(self._controls(task, "hypernetwork", controls, mismatched_description, "multitask_",
                                     self.multitask_pipeline))
        return result

    def _controls(self, task, method, controls, mismatched_description, prefix=None, pipeline=None):
        """Random- and mismatched-description controls of one generation method (keys prefixed by ``prefix``,
        default: the method's name, none for diffusion)."""
        if not controls:
            return {}
        if prefix is None:
            prefix = "" if method == "diffusion" else f"{method}_"
        random_text = self.random_text(task)
        out = {}
        for key, text in (("random_description", random_text), ("mismatched_description", mismatched_description)):
            if text is not None:
                vector = self.generate_vectors([text], method=method, pipeline=pipeline)[0]
                out[prefix + key] = self.score_vector(vector, task)
        return out
