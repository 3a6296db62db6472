"""Class labels of a conditional VAEGenerator: checking, one-hot rows, batches.

A conditional model learns ``p(x | z, y)``.  Its training batches carry the
one-hot label after the features of each row (:class:`LabelledReader`), so
the training loop, which only sees batches of rows, needs no change.
"""

import numpy as np
import torch
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.multiclass import check_classification_targets

from ._data import BatchReader


class Labels:
    """The labels of one fit: the classes, in order, and each row's class index."""

    def __init__(self, classes, codes):
        self.classes = classes
        self.codes = codes

    def one_hot(self):
        return one_hot(self.codes, len(self.classes))

    def counts(self):
        """Number of rows of each class."""
        return np.bincount(self.codes, minlength=len(self.classes)).astype(np.int64)

    def reader(self, X, device, shift=None):
        """The batch reader of the fit: rows of ``X`` followed by their one-hot labels."""
        return LabelledReader(X, device, self.one_hot(), shift=shift)


class LabelledReader(BatchReader):
    """A :class:`~skae._data.BatchReader` whose batches end with one-hot labels."""

    def __init__(self, X, device, labels, shift=None):
        super().__init__(X, device, shift=shift)
        self._labels = torch.from_numpy(np.ascontiguousarray(labels, np.float32)).to(self.device)

    def take(self, indices):
        indices = torch.sort(indices).values  # the order BatchReader.take returns
        labels = self._labels.index_select(0, indices.to(self.device))
        return torch.cat([super().take(indices), labels], 1)


def one_hot(codes, n_classes):
    """Float32 one-hot rows of the class indices ``codes``."""
    out = np.zeros((len(codes), n_classes), dtype=np.float32)
    out[np.arange(len(codes)), codes] = 1.0
    return out


def as_label_array(y, name="y"):
    """``y`` as a 1-D array of class labels (any labels scikit-learn accepts)."""
    y = check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=True, input_name=name)
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    return y


def encode(classes, y, name="y"):
    """Class indices of the labels ``y`` among ``classes``; an unknown label raises."""
    index = {c: i for i, c in enumerate(classes)}
    codes = np.empty(len(y), dtype=np.intp)
    for row, label in enumerate(np.asarray(y).tolist()):
        try:
            codes[row] = index[label]
        except (KeyError, TypeError):
            raise ValueError(
                f"{name} contains the label {label!r}, which is not one of the classes "
                f"the model was fitted on: classes_={np.asarray(classes).tolist()}."
            ) from None
    return codes


def check_fit_labels(estimator, X, y, known_classes=None):
    """The :class:`Labels` of a conditional fit on ``X``.

    ``known_classes``: the classes of the fitted model when ``partial_fit``
    continues it (labels must be among them); otherwise the classes are those
    of ``y``.
    """
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is "
            "None: conditional=True learns p(x | z, y) from class labels. Pass fit(X, y), "
            "or use conditional=False."
        )
    y = as_label_array(y)
    check_consistent_length(X, y)
    if known_classes is None:
        classes = tuple(np.unique(y).tolist())
    else:
        classes = tuple(np.asarray(known_classes).tolist())
    return Labels(classes, encode(classes, y))


def fit_targets(estimator, X, y, *, fitted_classes=None, fitted_counts=None,
                incremental=False):
    """The :class:`Labels` of a conditional VAEGenerator's fit and the class counts.

    ``fitted_classes`` and ``fitted_counts`` are those of the model that
    training continues (None for a fresh fit): ``partial_fit`` keeps its
    classes, and the counts accumulate over ``partial_fit`` calls and warm
    starts.  Returns ``(labels, counts)``; the estimator stores them.
    """
    known = fitted_classes if incremental else None
    labels = check_fit_labels(estimator, X, y, known)
    counts = labels.counts()
    if fitted_counts is not None and len(counts) == len(fitted_counts):
        counts = counts + fitted_counts
    return labels, counts
