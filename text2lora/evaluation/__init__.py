"""Evaluation: the evaluator (generated adapters next to fine-tuned ones and baselines on a task's test split)."""

from .evaluator import Evaluator, bootstrap_ci, gain_recovered, interpolate_conditions, random_description

__all__ = ["Evaluator", "bootstrap_ci", "gain_recovered", "interpolate_conditions", "random_description"]
