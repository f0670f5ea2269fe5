"""Metrics: thin wrappers over scikit-learn and SciPy, with the conventions the evaluation needs.

- :func:`balanced_accuracy` and :func:`roc_auc`: ``sklearn.metrics`` on 0/1 labels;
- :func:`best_threshold`: the score threshold with the best balanced accuracy (zero-shot baselines);
- :func:`bootstrap_ci` (balanced accuracy over test rows) and :func:`mean_interval` (a mean over tasks): percentile
  intervals from ``scipy.stats.bootstrap``;
- :func:`gain_recovered`, :func:`mean`, :func:`median`: summaries that skip what is undefined (``None``).

This module imports nothing from the rest of text2lora, so any part of the package may use it.
"""

import warnings

import numpy as np


def balanced_accuracy(labels, predictions):
    """Mean of the recall on class 1 and on class 0 (0.5 for a constant predictor); only the classes present in
    ``labels`` count. ``sklearn.metrics.balanced_accuracy_score`` on 0/1 integers."""
    from sklearn import config_context
    from sklearn.metrics import balanced_accuracy_score

    labels = np.asarray(labels).astype(int)
    predictions = np.asarray(predictions).astype(int)
    if labels.size == 0:
        raise ValueError("balanced_accuracy needs at least one label.")
    # "y_pred contains classes not in y_true": the recall of the one class present, as intended.
    with warnings.catch_warnings(), config_context(skip_parameter_validation=True, assume_finite=True):
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(labels, predictions))


def roc_auc(labels, scores):
    """Area under the ROC curve of ``scores`` for 0/1 ``labels`` (ties count half): ``sklearn.metrics.roc_auc_score``.
    Raises ``ValueError`` when ``labels`` hold a single class."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(labels).astype(int), np.asarray(scores, dtype=float)))


def best_threshold(scores, labels):
    """Threshold on ``scores`` maximizing balanced accuracy on (val) ``labels``: the best of the 101 quantiles of
    ``scores`` (0%, 1%, ..., 100%); ties go to the threshold nearest zero."""
    scores = np.asarray(scores)
    candidates = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, 101)))
    best = max(candidates, key=lambda t: (balanced_accuracy(labels, scores >= t), -abs(t)))
    return float(best)


def _percentile_interval(data, statistic, n_resamples, seed, level, paired=False):
    from scipy.stats import bootstrap

    result = bootstrap(data, statistic, n_resamples=n_resamples, paired=paired, vectorized=not paired,
                       confidence_level=level, method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def bootstrap_ci(labels, predictions, n=1000, seed=0, level=0.95):
    """Percentile bootstrap interval of balanced accuracy over test rows (rows resampled in pairs)."""
    return _percentile_interval((np.asarray(labels), np.asarray(predictions)), balanced_accuracy, n, seed, level,
                                paired=True)


def mean_interval(values, n=10000, seed=0, level=0.95):
    """Percentile bootstrap interval of the mean of ``values`` (e.g. a margin per task); ``[v, v]`` for one value and
    ``[0.0, 0.0]`` for none."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return [float(values[0]), float(values[0])] if len(values) else [0.0, 0.0]
    return list(_percentile_interval((values,), np.mean, n, seed, level))


def gain_recovered(generated, zero_shot, fine_tuned):
    """(generated - zero-shot) / (fine-tuned - zero-shot); None when fine-tuning does not beat zero-shot."""
    denominator = fine_tuned - zero_shot
    if denominator <= 1e-9:
        return None
    return (generated - zero_shot) / denominator


def mean(values):
    """Mean of the values that are not None (None when there are none)."""
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def median(values):
    """Median of the values that are not None (None when there are none)."""
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None
