"""Evaluation of a text2lora generator, by stage.

- ``metrics``: balanced accuracy, ROC AUC, thresholds and bootstrap intervals (scikit-learn / SciPy);
- ``baselines``: the zero-shot embedding baseline (val-tuned and label-free);
- ``evaluator``: :class:`Evaluator`, every method and control on one task;
- ``rows``: the fingerprinted, resumable cache of question 2/3 task rows;
- ``questions``: the paper's three questions, interpolation, summaries and targets;
- ``plots``: interpolation curves and the adapter map (matplotlib);
- ``report``: ``evaluation.md`` from a Jinja template, and the generator card's evaluation table;
- ``run``: :class:`EvaluationArguments` and the whole run (``text2lora-evaluate`` / ``evaluate_generator.py``).

Names are imported on first use, so ``text2lora.evaluation.metrics`` loads without the models.
"""

from ..lazy import lazy_exports

_EXPORTS = {
    "Evaluator": "evaluator",
    "random_description": "evaluator",
    "balanced_accuracy": "metrics",
    "best_threshold": "metrics",
    "bootstrap_ci": "metrics",
    "gain_recovered": "metrics",
    "mean_interval": "metrics",
    "roc_auc": "metrics",
    "interpolate_conditions": "questions",
    "EvaluationArguments": "run",
    "evaluate_custom_task": "run",
    "run_evaluation": "run",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
