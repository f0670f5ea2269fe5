"""The zero-shot embedding baseline, in one place: a text matches a description when the cosine of their (unit)
embeddings reaches a threshold.

Two ways to pick the threshold:
- val-tuned (``zero_shot``): :func:`val_threshold` on the task's own labelled val rows;
- label-free (``zero_shot_label_free``): :func:`label_free_threshold`, one threshold for every task, chosen on other
  (training) tasks' val rows, so no label of the evaluated task is used.

Used by :class:`~text2lora.evaluation.Evaluator` and by zoo collection (``zero_shot_test_accuracy`` of each row).
"""

import numpy as np

from .metrics import balanced_accuracy, best_threshold


def cosine_scores(description_vector, text_vectors):
    """Cosine of every text with the description (unit vectors): shape (n_texts,)."""
    return np.asarray(text_vectors) @ np.asarray(description_vector)


def val_threshold(description_vector, val_vectors, val_labels):
    """The threshold with the best balanced accuracy on the task's labelled val rows."""
    return best_threshold(cosine_scores(description_vector, val_vectors), np.asarray(val_labels))


def label_free_threshold(scores_per_task, labels_per_task):
    """One threshold for every task: the best on the pooled (score, label) rows of other tasks, each task's rows scored
    against its own description. None without rows."""
    if not len(scores_per_task):
        return None
    return best_threshold(np.concatenate(scores_per_task), np.concatenate(labels_per_task))


def zero_shot_predictions(description_vector, text_vectors, threshold):
    """'cosine(text, description) >= threshold' for every text."""
    return cosine_scores(description_vector, text_vectors) >= threshold


def zero_shot(description_vector, test_vectors, test_labels, threshold):
    """The zero-shot baseline on a task's test rows at ``threshold``: (balanced accuracy, predictions)."""
    predictions = zero_shot_predictions(description_vector, test_vectors, threshold)
    return balanced_accuracy(test_labels, predictions), predictions


def zero_shot_accuracy(description_vector, val_vectors, val_labels, test_vectors, test_labels):
    """Balanced test accuracy of the val-tuned zero-shot baseline for one description."""
    threshold = val_threshold(description_vector, val_vectors, val_labels)
    return zero_shot(description_vector, test_vectors, test_labels, threshold)[0]


def zero_shot_task_accuracy(task, descriptions, embedder):
    """The val-tuned zero-shot baseline on ``task``: mean balanced test accuracy over ``descriptions`` (embedded
    together with ``embedder``)."""
    from ..embedding import embed, pair_text

    val = embed(pair_text(*task.texts("val")), embedder)
    test = embed(pair_text(*task.texts("test")), embedder)
    vectors = embed(descriptions, embedder)
    accs = [zero_shot_accuracy(v, val, task.labels("val"), test, task.labels("test")) for v in vectors]
    return float(np.mean(accs))
