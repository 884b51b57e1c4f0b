"""The skkd plugin contract.

Every hook receives a ``register`` callback and returns nothing. A plugin
implements any subset of them with :data:`skkd.hookimpl`. Built-in losses,
models, teacher adapters, augmentations and hint losses register through these very hooks.

Who uses what each hook registers, and when:

- :func:`skkd_register_losses`: both estimators, when ``fit`` checks ``loss=``
  (before any teacher is fitted), then on every training batch.
- :func:`skkd_register_models`: both estimators, when ``fit`` checks
  ``module=`` (before any teacher is fitted), then builds the student.
- :func:`skkd_register_teachers`: both estimators, in ``fit``'s teacher step:
  the classifier (and :func:`skkd.teacher_logits`) asks the adapters about
  every teacher or ensemble member; the regressor only about one that is
  neither a torch module nor has ``predict``.
- :func:`skkd_register_augmentations`: both estimators, when ``fit`` checks
  ``augment=``; the regressor takes transfer sets only, no batch augmentation.
- :func:`skkd_register_hint_losses`: classifiers only, when ``fit`` checks
  ``hint_loss=`` (with ``hints=``), then on every training batch.

pluggy calls implementations with keyword arguments only, so an
implementation's parameter must be named ``register``. Implementations are
plain functions: hook wrappers (``hookwrapper=True`` or ``wrapper=True``) are
not supported. A plugin that breaks this contract (a wrapper, a hook that
raises, a name another plugin already registered, something not callable) is
skipped as a whole with a :class:`skkd.PluginWarning`; see
:mod:`skkd.plugins`.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("skkd")
#: The marker plugins decorate their hook implementations with.
hookimpl = pluggy.HookimplMarker("skkd")


@hookspec
def skkd_register_losses(register):
    """Register knowledge-distillation losses by name.

    Call ``register(name, fn)`` once per loss. ``fn`` is called as
    ``fn(student_logits, teacher_logits, *, temperature, y=None, **options)``
    and returns a scalar tensor: the *soft* term, including its own
    temperature scaling. The estimator adds ``alpha * cross_entropy``;
    ``options`` are the ``loss__*`` parameters of ``DistilledClassifier``.

    A loss that takes a ``sample_weight`` keyword supports
    ``fit(..., sample_weight=...)``: it then receives a tensor of shape
    ``(batch,)``, non-negative, summing to 1 over the batch (all zeros when
    every row of the batch weighs 0), and returns the rows' losses summed with
    these weights instead of their mean (``skkd.losses.weighted_mean``). A fit
    with ``sample_weight`` and a loss without that keyword fails before
    training, naming the loss.

    ``DistilledRegressor`` finds its soft losses through this hook too, and
    calls them as ``fn(student_outputs, teacher_outputs, *, y=None,
    sample_weight=None, **options)``, without ``temperature``: standardized
    predictions of shape ``(batch, n_outputs)``, ``y`` the standardized
    targets (NaN for rows without one). A loss whose ``temperature`` has no
    default is a classification loss: the regressor refuses it before
    training, naming it. One whose ``temperature`` has a default, or that
    takes none, serves both estimators (``"mse"``, ``"huber"``).

    Parameters
    ----------
    register : callable
        ``register(name, fn)``: call it once per loss.
    """


@hookspec
def skkd_register_models(register):
    """Register student/teacher architectures by name.

    Call ``register(name, factory)`` once per model. ``factory`` is called as
    ``factory(n_features, n_classes, **kwargs)`` and returns a
    ``torch.nn.Module`` mapping ``(batch, n_features)`` float rows to
    ``(batch, n_classes)`` logits. ``kwargs`` are the ``module__*``
    parameters of ``DistilledClassifier``. ``DistilledRegressor`` calls the
    same factories with ``n_classes`` set to its number of outputs: the module
    then returns ``(batch, n_outputs)`` (standardized) predictions. The name
    ``"auto"`` is reserved (``module="auto"`` chooses between the built-ins): a
    plugin registering it is skipped as broken.

    A *data-aware* student learns part of its input encoding from the
    training rows (bins, category counts, scales): its factory (or class) has
    an attribute ``fit_encoding(X, y, *, teacher, teacher_logits, **options)``.
    ``fit`` calls it once per fit (not when ``warm_start`` continues) with the
    training rows as the student sees them (float32; never validation or test
    rows, also inside ``GridSearchCV``), the encoded labels (-1: unlabeled),
    the fitted teacher (or None) and its logits on those rows (or None), and
    the ``module__*`` options; it returns a dict of options that are added to
    them when the student is built, and kept as ``encoding_``. Store what it
    learned in the module (buffers, attributes), so that it travels with
    pickles and exports (see :class:`skkd.models.TabularMLP`). A student
    given as a class gets ``n_features`` and ``n_classes`` filled in the same
    way when its constructor takes them.

    Parameters
    ----------
    register : callable
        ``register(name, factory)``: call it once per model.
    """


@hookspec
def skkd_register_teachers(register):
    """Register teacher adapters.

    Call ``register(name, adapter)`` once per adapter. ``adapter(obj)``
    returns a :class:`skkd.teachers.Teacher` when it knows how to query
    ``obj`` and ``None`` otherwise. Adapters are tried in registration order
    (plugins loaded from entry points before built-ins); the first that
    accepts an object wins.

    One adapter serves both estimators. Its ``Teacher`` answers the model's
    raw outputs, one column per output, from ``Teacher.logits(X,
    batch_size)`` (the name is the same for both): class scores (logits) for
    a classifier, read by ``DistilledClassifier`` and aligned to its
    ``classes_`` (by ``Teacher.classes_`` when set); predictions in ``y``'s
    units for a regressor, read by ``DistilledRegressor`` as one column per
    output (a 1-D answer is one output) and checked like
    ``fit(teacher_predictions=...)``. The regressor asks the adapters only
    about a teacher its own rules do not serve (a classifier is refused; a
    ``torch.nn.Module`` gives its outputs; an object with ``predict`` its
    ``predict(X)``), and refuses a ``Teacher`` that sets ``classes_`` (a
    classifier's). An adapter refuses an object it knows but cannot
    use by raising :class:`skkd.TeacherError` (or scikit-learn's
    ``NotFittedError``), which reaches the user as it is. Any other exception,
    or a return value that is neither a ``Teacher`` nor ``None``, breaks the
    contract: that adapter is skipped with a :class:`skkd.PluginWarning`
    naming it and its plugin, and the next adapters are tried.

    Parameters
    ----------
    register : callable
        ``register(name, adapter)``: call it once per adapter.
    """


@hookspec
def skkd_register_augmentations(register):
    """Register augmentations and transfer-data generators by name.

    Call ``register(name, factory)`` once per augmentation. ``factory(**options)``
    (the ``augment__*`` parameters of ``DistilledClassifier``) returns an object
    with either or both of these methods (see :mod:`skkd.augmentations`):

    - ``transfer_set(X, y, *, random_state) -> ndarray``: extra rows generated
      once per fit from the float32 training rows ``X`` and encoded labels
      ``y`` (-1 marks unlabeled rows); the teacher labels them once, and they
      get the soft term only. An object that sets the attribute
      ``fresh = True`` is called again at the start of every epoch (with the
      same ``X`` and ``y``, and a ``random_state`` seeded from the estimator's
      and the epoch's number) and must return as many rows each time: they
      replace the previous epoch's rows, the teacher labels them in one
      batched call per epoch ("function matching"), and the labeled rows and
      their teacher outputs stay as they are. An object whose attribute
      ``categorical`` is ``"auto"`` is given, before it makes rows, a copy
      whose ``categorical`` lists the student's category columns first
      (``[*columns, "auto"]``), so that it can copy them, never interpolate
      them; any other value is left as the user set it.
    - ``augment_batch(xb, yb) -> (xb, yb)``: a new training batch made from a
      batch (tensors; draw randomness from torch's global generator, which
      ``random_state`` seeds). The teacher is queried on the returned batch
      ("consistent teaching"); rows labeled -1 get the soft term only. An
      augmentation that keeps every row's label may set the attribute
      ``needs_teacher = False``: it then also trains students without a
      teacher (``alpha=1`` or ``teacher=None``). The returned pair is checked
      on every batch: two tensors on ``xb``'s device, rows with ``xb``'s
      columns and dtype, finite, one label per row, each in ``-1 ..
      n_classes - 1``; a break raises :class:`skkd.PluginError` naming
      ``augment=<name>``. ``fit`` also runs it once on two training rows
      before any teacher is fitted, so options that do not fit the data
      fail early.

    A transfer set must be finite; a ``ValueError`` raised by either method
    (e.g. an option that does not fit the data) reaches the user as
    :class:`skkd.InvalidParameterError` naming the augmentation.

    Parameters
    ----------
    register : callable
        ``register(name, factory)``: call it once per augmentation.
    """


@hookspec
def skkd_register_hint_losses(register):
    """Register feature-distillation ("hint") losses by name.

    Call ``register(name, fn)`` once per loss. ``fn`` is called as
    ``fn(student_feature, teacher_feature, **options)`` for each
    ``(student path, teacher path)`` pair of ``DistilledClassifier(hints=...)``
    and returns a scalar tensor; ``options`` are the ``hint_loss__*``
    parameters. The estimator adds ``hint_weight * sum(fn(...))`` over the pairs
    to the distillation loss. By default the student feature arrives adapted to
    the teacher feature's shape (a learned 1x1 convolution for 4-D features, a
    linear layer for 2-D ones, when the widths differ); a loss that compares
    features of different widths itself sets the attribute ``adapter = False``
    and receives the raw student feature.

    Parameters
    ----------
    register : callable
        ``register(name, fn)``: call it once per hint loss.
    """
