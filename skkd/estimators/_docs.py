"""Docstring text both estimators share, written once.

:class:`Substitution` (imbalanced-learn's helper of the same name) replaces a
line ``%(name)s`` of a docstring by the text of ``name``, indented as that
line is, so a parameter both estimators take is described in one place.
"""

from __future__ import annotations

import re
import textwrap
from typing import TypeVar

_T = TypeVar("_T")

#: A placeholder: ``%(name)s`` alone on its line.
_FIELD = re.compile(r"^( *)%\((\w+)\)s$", flags=re.MULTILINE)


class Substitution:
    """Fill a docstring's ``%(name)s`` lines with shared text, as a decorator.

    Parameters
    ----------
    **texts : str
        The text of each name, without indentation (continuation lines
        indented relative to the first).
    """

    def __init__(self, **texts: str) -> None:
        self.texts = texts

    def __call__(self, obj: _T) -> _T:
        if obj.__doc__:  # None under python -OO
            obj.__doc__ = _FIELD.sub(
                lambda m: textwrap.indent(self.texts[m[2]], m[1]), obj.__doc__)
        return obj


#: The training parameters, ``optimizer`` to ``train_split``, in the estimators' order.
_TRAINING = """\
optimizer : torch optimizer class, default=torch.optim.Adam
    ``optimizer__*`` parameters reach it.
lr : float or "auto", default="auto"
    Learning rate. ``"auto"``: 1e-2 for a tabular student (a
    ``tabular-mlp``, named or chosen by ``module="auto"``), 1e-3 otherwise.
lr_schedule : {"auto", "constant", "cosine"}, default="auto"
    ``"cosine"`` anneals the learning rate from ``lr`` to near 0 over each
    fit's epochs (epoch ``e`` of ``max_epochs`` trains at
    ``lr * (1 + cos(pi * e / max_epochs)) / 2``); ``"constant"`` keeps it.
    ``"auto"``: cosine for a tabular student, constant otherwise.
max_epochs : int >= 1 or "auto", default="auto"
    Number of epochs (more epochs, when ``warm_start`` continues).
    ``"auto"``: 30 for a tabular student, 20 otherwise.
batch_size : int or "auto", default="auto"
    Mini-batch size for training and prediction; -1 is one batch of all
    rows. ``"auto"``: 128 for a tabular student, 32 otherwise.
callbacks : list of skorch callbacks, default=None
    Passed to skorch. A callback monitoring ``valid_*`` scores (e.g.
    ``EarlyStopping()``) needs ``train_split``.
device : str, default="cpu"
    Torch device of the student. A torch teacher runs where its
    parameters are; nothing moves it.
mixed_precision : {None, "bf16", "fp16"}, default=None
    Train the student's forward passes under ``torch.autocast`` to bfloat16
    or float16 (the loss is computed in float32; ``"fp16"`` scales it with
    a ``torch.amp.GradScaler``). Made for CUDA students (tensor cores);
    on a CPU it is usually slower. ``predict`` runs in float32.
accelerator : accelerate.Accelerator or None, default=None
    Train one student across the processes ``torchrun`` started (one
    machine or several): each rank trains on its share of every global
    batch of ``batch_size`` rows, gradients are averaged (PyTorch's
    ``DistributedDataParallel``), and every rank ends with the same
    student. The student goes where the accelerator places it (leave
    ``device`` at its kind, or None); on a machine without a GPU, pass
    ``Accelerator(cpu=True)``. See the "Scale out" guide.
train_split : callable or None, default=None
    skorch's internal validation split (e.g. ``skorch.dataset.ValidSplit(0.2)``);
    off by default so that ``GridSearchCV`` does not split twice."""

_TEACHER_BATCH_SIZE = """\
teacher_batch_size : int or None, default=None
    Batch size of the teacher's inference pass; None uses ``batch_size``.
    On a CPU, small batches keep a wide CNN's activations in cache and are
    fastest; on a GPU, raise it."""

#: ``warm_start``, ``verbose`` and ``random_state``.
_RUN = """\
warm_start : bool, default=False
    When True and the student is fitted, ``fit`` continues training it
    (weights, optimizer state, callbacks' state and random state) for
    ``max_epochs`` more epochs instead of starting anew: fitting twice
    for 2 epochs gives the student that one fit for 4 epochs gives. Use it
    to resume after a ``KeyboardInterrupt``.
verbose : int, default=0
    skorch's verbosity (1 prints a table per epoch).
random_state : int, RandomState instance or None, default=None
    Seeds the student's initialization, shuffling and dropout; torch's
    global random state is left as it was. Fits in several threads give
    the same results as one after another: their training steps take
    turns on torch's global random state."""

_N_FEATURES_IN = """\
n_features_in_ : int
    Number of features seen in ``fit``."""

_CATEGORICAL_FEATURES = """\
categorical_features : "from_dtype", None, or list of str, int or bool, default="from_dtype"
    Which columns of a raw pandas DataFrame are categories, as scikit-learn's
    ``HistGradientBoostingClassifier`` takes it: ``"from_dtype"`` (pandas
    categorical, object and string columns), None (none: a column of
    strings is then an error), or column names, column indices or a
    boolean mask with one entry per column. A DataFrame with such columns,
    bool or datetime columns, or missing values is encoded for the
    student, by an encoding learned from the training rows only
    (``columns_``): category codes ``0 .. k-1`` of the categories seen,
    sorted (missing and unseen ones are the unknown code -1); bool columns
    0/1; numbers (dates as days since 1970) standardized, missing values
    read as the mean, plus a 0/1 column flagging the values missing in
    training; a numeric column with two training values read as 0/1. A
    student that takes codes (``module="tabular-mlp"``) gets the code
    columns and the categories seen (``module__categorical``,
    ``module__cardinalities``, unless set); any other reads each code
    column one-hot (unknown: zeros; at most 64 categories). The teacher
    receives the DataFrame as passed. Arrays, and DataFrames of float and
    int columns without missing values, go to the student as float32
    without encoding (as before). Not with ``augment`` (nor a classifier's
    ``teacher_inference="per_batch"`` or ``hints``), which hand the
    teacher rows in the student's encoding: encode such a frame yourself
    (the "Tree teachers" guide's recipe)."""

_COLUMNS = """\
columns_ : dict or None
    The encoding of a raw DataFrame's columns the student reads (see
    ``categorical_features``), learned in ``fit``, as plain data: one dict
    per column (its name, kind, role and what the role needs: the sorted
    categories, or the mean and scale); None when ``X`` was an array or
    a DataFrame of float and int columns without missing values."""

_ENCODING = """\
encoding_ : dict
    The ``module__*`` options a data-aware student learned from the
    training rows (e.g. ``tabular-mlp``'s bins and category counts; see
    :func:`skkd.hookspecs.skkd_register_models`); empty for other students."""

#: ``net_`` and ``history_``.
_NET = """\
net_ : skorch.NeuralNet
    The fitted skorch net holding the student in ``net_.module_``.
history_ : skorch.History
    ``net_.history``: per-epoch losses and timings."""

_FIT_X = """\
X : array-like or pandas DataFrame of shape (n_samples, n_features)
    Training rows. The teacher receives ``X`` as passed (a DataFrame
    keeps its column names); the student gets it as a float32 array, a
    DataFrame of categories, strings, dates, booleans or missing values
    encoded first (see ``categorical_features``)."""

_FIT_GROUPS = """\
groups : array-like of shape (n_samples,), default=None
    Group labels for a group splitter in ``teacher_cv`` (e.g.
    ``GroupKFold``); used for nothing else."""

#: Every shared text, by the name its placeholder uses.
SHARED_DOCS = {
    "training_params": _TRAINING,
    "teacher_batch_size": _TEACHER_BATCH_SIZE,
    "run_params": _RUN,
    "n_features_in_": _N_FEATURES_IN,
    "categorical_features": _CATEGORICAL_FEATURES,
    "columns_": _COLUMNS,
    "encoding_": _ENCODING,
    "net_": _NET,
    "fit_X": _FIT_X,
    "fit_groups": _FIT_GROUPS,
}

#: The decorator that fills an estimator's (or its ``fit``'s) shared text.
shared_docs = Substitution(**SHARED_DOCS)
