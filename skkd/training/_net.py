"""The private skorch net that trains a student with the distillation loss.

``get_loss = alpha * cross_entropy(student, y) + (1 - alpha) * soft_loss``; with
hints, a training step adds ``hint_weight * sum(hint losses)``.
Precomputed teacher logits (and cached teacher features) travel with each batch
inside a dict ``X`` (``{"X": rows, "teacher_logits": logits, "teacher_hint_0":
features, ...}``); the teacher itself is never a module of the net, so skorch
never optimizes, checkpoints or re-moves it. The hint adapters are a second
module of the net, ``hint_adapters_``: skorch trains them with the student
(``get_all_learnable_params``), while ``module_`` stays the student alone.
A fresh transfer set (``fresh_transfer``) is written over its rows of the
training set, teacher logits (and cached features) included, at the start of
every epoch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import get_len, unpack_data
from skorch.utils import to_tensor
from torch.utils.data import DataLoader

from skkd import _arrays as arrays
from skkd.augmentations._fit_time import augment_batch, check_deferred_values
from skkd.exceptions import LossError, StudentError
from skkd.hints._plan import capture_features
from skkd.training import _accelerate as distributed

INPUT_KEY = "X"
TEACHER_KEY = "teacher_logits"
HINT_KEY = "teacher_hint_{}"
WEIGHT_KEY = "sample_weight"
#: Rows per forward pass of ``predict`` (at least; ``batch_size`` if larger).
PREDICT_ROWS = 16384
#: ``mixed_precision`` -> the dtype the student's training forward pass autocasts to.
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class ArrayDataset(torch.utils.data.Dataset):
    """In-memory arrays indexed a whole batch at a time.

    ``dataset[[i, j, ...]]`` returns one batch by fancy indexing, which is far
    cheaper than collating samples one by one. ``X`` may be an array or a
    dict of arrays (sliced alike). On a CUDA ``device``, the tensors are moved
    there once when they take at most :data:`DEVICE_DATA_SHARE` of its free
    memory, so no batch travels from the host. Any array-like scikit-learn accepts works
    (:func:`skkd._arrays.to_tensor`); the tensors may share the caller's
    memory, so write into them only through :meth:`writable`.
    """

    def __init__(self, X: Any, y: Any = None, device: Any = None) -> None:
        self._borrowed: set[Any] = set()  # keys of tensors that may share the caller's memory
        if isinstance(X, Mapping):
            self.X: Any = {k: self._tensor(k, v) for k, v in X.items()}
            self._len = len(next(iter(self.X.values())))
        else:
            self.X = self._tensor(None, X)
            self._len = len(self.X)
        self.y = None if y is None else arrays.to_tensor(y)
        if _fits_on(device, self._nbytes()):
            # rows, targets and teacher outputs travel to the device once per fit,
            # not with every batch (copies: the caller's memory is not shared there)
            self.X = ({k: v.to(device) for k, v in self.X.items()} if isinstance(self.X, dict)
                      else self.X.to(device))
            self.y = None if self.y is None else self.y.to(device)
            self._borrowed.clear()

    def _nbytes(self) -> int:
        tensors = list(self.X.values()) if isinstance(self.X, dict) else [self.X]
        tensors += [] if self.y is None else [self.y]
        return sum(t.element_size() * t.nelement() for t in tensors)

    def _tensor(self, key: Any, value: Any) -> torch.Tensor:
        tensor, owned = arrays.tensor_of(value)
        if not owned:
            self._borrowed.add(key)
        return tensor

    def writable(self, key: Any = None) -> torch.Tensor:
        """The tensor of ``X`` (``X[key]`` for a dict), safe to write into.

        A tensor that may share memory with the caller's array is copied first
        (once): skkd never writes into memory the user owns.
        """
        if key not in self._borrowed:
            return self.X if key is None else self.X[key]
        self._borrowed.discard(key)
        if key is None:
            self.X = self.X.clone()
            return self.X
        self.X[key] = self.X[key].clone()
        return self.X[key]

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, idx: Any) -> tuple[Any, torch.Tensor]:
        idx = torch.as_tensor(idx)  # a batch of indices (a tensor already from BatchLoader)
        take = _take if idx.ndim == 1 else _index
        Xb = ({k: take(v, idx) for k, v in self.X.items()} if isinstance(self.X, dict)
              else take(self.X, idx))
        yb = take(self.y, idx) if self.y is not None else torch.zeros(idx.numel())
        return Xb, yb


def _take(tensor: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``tensor[indices]`` for a 1-d index: ``index_select``, a third of indexing's cost."""
    return tensor.index_select(0, indices.to(tensor.device))


def _index(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return tensor[index]


#: The share of a device's free memory the training set may take there.
DEVICE_DATA_SHARE = 0.5


def _fits_on(device: Any, nbytes: int) -> bool:
    """Whether ``nbytes`` of training data fit on the accelerator ``device`` (never the CPU)."""
    if device is None or torch.device(device).type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return nbytes <= DEVICE_DATA_SHARE * free


class _IndexBatches:
    """Batches of indices as tensor slices of one (optionally shuffled) permutation.

    With ``shard=(rank, world)``, each batch is this rank's share of a global
    batch: every ``world``-th index from ``rank`` (a last global batch with
    fewer rows than ranks is dropped, so that no rank gets an empty one).
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, drop_last: bool,
                 generator: torch.Generator | None, shard: tuple[int, int] | None = None,
                 ) -> None:
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.drop_last, self.generator = drop_last, generator
        self.rank, self.world = shard if shard is not None else (0, 1)

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest >= self.world and not self.drop_last else 0)

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=self.generator)
        else:
            order = torch.arange(self.n)
        for i in range(len(self)):
            yield order[i * self.batch_size : (i + 1) * self.batch_size][self.rank :: self.world]


class BatchLoader:
    """Whole batches of an :class:`ArrayDataset`, without ``DataLoader``'s per-batch machinery.

    Accepts skorch's ``iterator_train__*`` keywords (``shuffle``,
    ``drop_last``, ``generator``, ...). With the defaults it yields
    ``dataset[indices]`` itself, after drawing the one number a
    ``DataLoader`` draws from the generator when iterated, so torch's random
    stream (and so every seeded fit) is the one a ``DataLoader`` gives. Other
    keywords (``num_workers``, ``pin_memory``, ``collate_fn``, ...) are handed
    to a real ``DataLoader`` over the same batches. ``shard=(rank, world)``
    gives each rank of a data-parallel fit its share of every global batch of
    ``batch_size`` rows (``skkd.training._accelerate``).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
        shard: tuple[int, int] | None = None,
        **kwargs: Any,
    ) -> None:
        if not shuffle and generator is None:
            # DataLoader draws a base seed when iterated; a private generator
            # keeps predict() from consuming torch's global random state.
            generator = torch.Generator()
        self.dataset, self.generator = dataset, generator
        self.sampler = _IndexBatches(len(dataset), batch_size, shuffle, drop_last, generator,
                                     shard)
        self.loader = None if not kwargs else DataLoader(
            dataset, batch_size=None, sampler=self.sampler, generator=generator, **kwargs)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.loader is not None:
            return iter(self.loader)
        return self._batches()

    def _batches(self) -> Iterator[Any]:
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)  # DataLoader's seed
        for indices in self.sampler:
            yield self.dataset[indices]


class DistillationNet(NeuralNet):
    """skorch ``NeuralNet`` whose loss adds a soft distillation term.

    Parameters beyond skorch's
    --------------------------
    alpha : float
        Weight of the hard-label cross-entropy; ``1 - alpha`` weights the soft term.
    temperature : float
        Passed to the soft loss.
    soft_loss : callable or None
        ``fn(student_logits, teacher_logits, *, temperature, y, **loss_options)``;
        None trains on the labels alone.
    loss_name : str
        The name of ``soft_loss``, for error messages.
    loss_options : dict or None
        Extra keyword arguments of ``soft_loss`` (``loss__*`` parameters).
    n_classes : int or None
        The number of logits the module must return (checked on every forward pass).
    online_teacher : skkd.teachers.Teacher or None
        Queried on every training batch (``teacher_inference="per_batch"``);
        otherwise the teacher's logits travel with the batch in a dict ``X``.
    augmentation : object or None
        Its ``augment_batch(xb, yb)`` makes every training batch anew; the
        online teacher is queried on the batch it returns.
    hint_plan : skkd.hints.HintPlan or None
        Feature distillation: the hint term is added to every training step's
        loss (not to ``valid_loss``); its adapters become ``hint_adapters_``.
    has_unlabeled : bool, default=True
        Whether any training row lacks a label (-1): when not, the hard loss
        is the criterion on the whole batch, with no mask.
    mixed_precision : {None, "bf16", "fp16"}, default=None
        The student's forward passes in training and validation run under
        ``torch.autocast`` to this dtype; the loss is computed in float32
        from the outputs cast back. ``"fp16"`` scales the loss with a
        ``torch.amp.GradScaler`` (``grad_scaler_``); the gradients are
        unscaled before ``on_grad_computed``, so clipping sees true values.
        ``predict`` runs in float32.
    accelerator : accelerate.Accelerator or None, default=None
        Data-parallel training (``skkd.training._accelerate``): the student and its
        optimizer are prepared by it for training and unwrapped after, each
        rank trains on its share of every global batch, and the ranks agree on
        the random state, the history and the non-finite check.
    fresh_transfer : skkd.augmentations._fit_time.FreshTransferSet or None
        At the start of every epoch but the one whose rows the training set
        holds, its ``draw(epoch)`` gives new rows and their teacher logits,
        written over rows ``start:stop`` of the training set (the rows of a
        validation split among them too). Dropped when training ends: it
        holds the teacher and the training rows.
    """

    def __init__(
        self,
        module,
        criterion=torch.nn.CrossEntropyLoss,
        alpha=1.0,
        temperature=1.0,
        soft_loss=None,
        loss_name=None,
        loss_options=None,
        n_classes=None,
        online_teacher=None,
        augmentation=None,
        hint_plan=None,
        fresh_transfer=None,
        has_unlabeled=True,
        mixed_precision=None,
        accelerator=None,
        **kwargs,
    ):
        super().__init__(module, criterion, **kwargs)
        self.accelerator = accelerator
        self.has_unlabeled = has_unlabeled
        self.mixed_precision = mixed_precision
        self._augment_checks: list[torch.Tensor] | None = None  # deferred, off the CPU
        # the epoch's soft-loss values, checked for finiteness at its end (one device sync)
        self._soft_values: list[torch.Tensor] | None = None
        self.alpha = alpha
        self.temperature = temperature
        self.soft_loss = soft_loss
        self.loss_name = loss_name
        self.loss_options = loss_options
        self.n_classes = n_classes
        self.online_teacher = online_teacher
        self.augmentation = augmentation
        self.hint_plan = hint_plan
        self.fresh_transfer = fresh_transfer

    _outputs_word = "classes"

    def initialize_module(self):
        """The student, and with hints the adapters, a module of their own (``hint_adapters_``)."""
        super().initialize_module()
        if self.hint_plan is not None:
            self.hint_adapters_ = self.hint_plan.build_adapters()
        return self

    def _set_training(self, training=True):
        """skorch's, but a module already in the mode is left alone (it ran every step)."""
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    @property
    def distilling(self) -> bool:
        """Whether the loss has a soft term."""
        return self.soft_loss is not None and self.alpha < 1

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs; a ``KeyboardInterrupt`` is re-raised.

        skorch's own ``partial_fit`` swallows ``KeyboardInterrupt``; here the
        training stops, ``on_train_end`` runs, and the interrupt propagates,
        unless skorch's ``EarlyStopping`` raised it to end training.
        Distilling needs the teacher: ``X`` must carry ``teacher_logits`` or
        the net an ``online_teacher``; continue a fitted
        ``DistilledClassifier`` with ``warm_start=True`` instead.
        """
        if self.distilling and self.online_teacher is None and not _has_teacher(X):
            raise RuntimeError(
                "This net distills, and X carries no teacher outputs: training on it would "
                "silently drop the soft term. To continue training a fitted "
                "DistilledClassifier, set warm_start=True and call its fit(X, y) again."
            )
        if not self.initialized_:
            self.initialize()
        routing_method = fit_params.pop("_routing_method", "partial_fit")
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y, _routing_method=routing_method, **fit_params)
        except KeyboardInterrupt:
            self.notify("on_train_end", X=X, y=y)
            if not self._stopped_early():
                raise
        else:
            self.notify("on_train_end", X=X, y=y)
        finally:
            self.fresh_transfer = None  # it holds the teacher and the training rows
            if self.accelerator is not None:  # also after an error: a plain student
                distributed.unwrap(self.accelerator, self)
            self._soft_values = self._augment_checks = None  # an interrupted epoch's
        return self

    def get_iterator(self, dataset, training=False):
        """skorch's; in a data-parallel fit, training batches are this rank's shares."""
        accelerator = self.accelerator
        if training and accelerator is not None and accelerator.num_processes > 1:
            kwargs = self.get_params_for("iterator_train")
            kwargs.setdefault("batch_size", self.batch_size)
            if kwargs["batch_size"] == -1:
                kwargs["batch_size"] = len(dataset)
            return self.iterator_train(
                dataset, shard=(accelerator.process_index, accelerator.num_processes),
                **kwargs)
        return super().get_iterator(dataset, training=training)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        if self.accelerator is not None:
            distributed.same_random_state(self.accelerator)
            distributed.wrap(self.accelerator, self)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        if self.accelerator is not None:
            distributed.unwrap(self.accelerator, self)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                               **kwargs)
        self._soft_values = []
        self._augment_checks = []
        epoch = len(self.history) - 1  # from 0, this epoch included
        if self.fresh_transfer is not None and self.fresh_transfer.epoch != epoch:
            self._load_fresh_transfer(dataset_train, epoch)

    def _load_fresh_transfer(self, dataset: Any, epoch: int) -> None:
        """Write epoch ``epoch``'s transfer rows over the previous ones, in place."""
        while isinstance(dataset, torch.utils.data.Subset):  # a validation split's
            dataset = dataset.dataset
        fresh = self.fresh_transfer
        X = getattr(dataset, "X", None)
        inputs = X[INPUT_KEY] if isinstance(X, dict) else X
        if not isinstance(dataset, ArrayDataset) or len(inputs) != fresh.stop:
            raise RuntimeError(
                "A fresh transfer set needs the training set DistilledClassifier.fit made "
                f"({fresh.stop} rows in an ArrayDataset); got {type(dataset).__name__}."
            )
        cached = isinstance(X, dict) and HINT_KEY.format(0) in X
        plan = self.hint_plan
        with (capture_features(plan.teacher_modules()) if cached
              else contextlib.nullcontext()) as records:
            rows, logits = fresh.draw(epoch)
        rows_at = slice(fresh.start, fresh.stop)
        keyed = isinstance(X, dict)
        dataset.writable(INPUT_KEY if keyed else None)[rows_at] = arrays.to_tensor(rows)
        if keyed and TEACHER_KEY in X:
            if logits is None:
                raise RuntimeError("The training set carries teacher logits, and the fresh "
                                   "transfer set has no teacher to label its rows.")
            dataset.writable(TEACHER_KEY)[rows_at] = arrays.to_tensor(logits)
        if cached:  # the teacher's features, from the labelling pass if it ran once per row
            features = plan.recorded_features(records, len(rows)) or plan.all_teacher_features(
                rows, fresh.batch_size)
            for i, f in enumerate(features):
                dataset.writable(HINT_KEY.format(i))[rows_at] = arrays.to_tensor(f)

    def _stopped_early(self) -> bool:
        """Whether skorch's ``EarlyStopping`` ended training (it raises KeyboardInterrupt)."""
        return any(isinstance(cb, EarlyStopping) and cb.misses_ == cb.patience
                   for _, cb in getattr(self, "callbacks_", []))

    def _listeners(self, event: str) -> bool:
        """Whether the net or a callback does anything on ``event`` (skorch's are no-ops)."""
        if getattr(type(self), event) is not getattr(NeuralNet, event):
            return True
        return any(getattr(type(cb), event) is not getattr(Callback, event)
                   for _, cb in self.callbacks_)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch, without per-batch work that nothing reads.

        When neither the net nor a callback acts on ``on_batch_begin``,
        ``on_batch_end`` or ``on_grad_computed`` (skorch's defaults,
        ``EarlyStopping``, ``Checkpoint``, ``LRScheduler`` stepping per
        epoch), batches run without those notifications, and the batch
        losses are read off the device once, at the end of the epoch: the
        history holds the same per-batch ``{prefix}_loss`` and
        ``{prefix}_batch_size`` records as skorch writes. Otherwise (a
        ``ProgressBar``, ``EpochScoring``, ``GradientNormClipping``, a
        scheduler stepping per batch, ...) this is skorch's loop.
        """
        if iterator is None:
            return
        if any(self._listeners(e) for e in ("on_batch_begin", "on_batch_end",
                                            "on_grad_computed")):
            super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
            return
        losses, sizes = [], []
        for batch in iterator:
            losses.append(step_fn(batch, **fit_params)["loss"].detach())
            sizes.append(get_len(batch[0]) if isinstance(batch, (tuple, list))
                         else get_len(batch))
        values = torch.stack(losses).tolist() if losses else []
        self.history[-1]["batches"].extend(
            {prefix + "_loss": v, prefix + "_batch_size": n}
            for v, n in zip(values, sizes, strict=True))
        self.history.record(prefix + "_batch_count", len(sizes))

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        if self.augmentation is not None:
            xb = to_tensor(Xi, device=self.device)
            # off the CPU, the values are checked at the epoch's end: here they would sync
            deferred = self._augment_checks if xb.device.type != "cpu" else None
            Xi, yi = augment_batch(self.augmentation, xb, to_tensor(yi, device=self.device),
                                   self.n_classes, deferred=deferred)
        if self.hint_plan is None:
            y_pred = self._forward(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        else:
            y_pred, loss = self._hinted_step(Xi, yi, **fit_params)
        self._backward(loss)
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        """skorch's, with the student's forward pass in ``mixed_precision``."""
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            y_pred = self._forward(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=False)
        return {"loss": loss, "y_pred": y_pred}

    @property
    def _autocasting(self) -> bool:
        """Whether training passes autocast: ``mixed_precision``, or the accelerator's own."""
        return self.mixed_precision is not None or self.accelerator is not None

    def _forward(self, x, **fit_params):
        """The student's outputs in training, autocast when ``_autocasting``, as float32."""
        if not self._autocasting:
            return self.infer(x, **fit_params)
        with self._autocast():
            return self.infer(x, **fit_params).float()

    def _autocast(self) -> Any:
        if self.accelerator is not None:  # its mixed precision, if any
            return self.accelerator.autocast()
        return torch.autocast(self._device_type(), dtype=AUTOCAST_DTYPES[self.mixed_precision])

    def _device_type(self) -> str:
        return torch.device(self.device or "cpu").type

    def _grad_scaler(self) -> torch.amp.GradScaler | None:
        """The fp16 loss scaler (kept across fits of a warm start), or None."""
        if self.mixed_precision != "fp16":
            return None
        if getattr(self, "grad_scaler_", None) is None:
            self.grad_scaler_ = torch.amp.GradScaler(self._device_type())
        return self.grad_scaler_

    def _backward(self, loss: torch.Tensor) -> None:
        if self.accelerator is not None:
            self.accelerator.backward(loss)
            return
        scaler = self._grad_scaler()
        if scaler is None:
            loss.backward()
            return
        scaler.scale(loss).backward()
        for name in self._optimizers:  # callbacks (clipping) read true gradients
            scaler.unscale_(getattr(self, name + "_"))

    def _step_optimizer(self, step_fn):
        """skorch's, but a scaled loss (fp16, an accelerator's) takes one closure call.

        Then every optimizer steps without the closure.
        """
        scaler = self._grad_scaler()
        if scaler is None and self.accelerator is None:
            return super()._step_optimizer(step_fn)
        step_fn()  # a scaled step cannot re-run a closure (as LBFGS would)
        for name in self._optimizers:
            optimizer = getattr(self, name + "_")
            if scaler is not None:
                scaler.step(optimizer)
            else:
                optimizer.step()
        if scaler is not None:
            scaler.update()
        return None

    def _hinted_step(self, Xi, yi, **fit_params):
        """The forward pass and loss of a training step with the hint term added."""
        plan = self.hint_plan
        with capture_features(plan.student_modules(self.module_)) as student_records:
            y_pred = self._forward(Xi, **fit_params)
        if isinstance(Xi, Mapping) and HINT_KEY.format(0) in Xi:  # cached once in fit
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
            teacher_feats = [Xi[HINT_KEY.format(i)] for i in range(len(plan.hints))]
        elif self.distilling and not _has_teacher(Xi):
            # The online teacher runs inside get_loss: record its features on the way.
            with capture_features(plan.teacher_modules()) as teacher_records:
                loss = self.get_loss(y_pred, yi, X=Xi, training=True)
            teacher_feats = [r[-1] for r in teacher_records] if all(teacher_records) else None
        else:
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
            teacher_feats = None
        if teacher_feats is None:
            xb = Xi[INPUT_KEY] if isinstance(Xi, Mapping) else Xi
            teacher_feats = plan.teacher_features(to_tensor(xb, device=self.device))
        if not all(student_records):
            raise StudentError(
                "hints: a student module named in hints did not run in the student's forward "
                "pass, so it has no feature to distil."
            )
        student_feats = [r[-1].float() if self._autocasting else r[-1]
                         for r in student_records]  # the hint term in float32
        return y_pred, loss + plan.term(student_feats, teacher_feats, self.hint_adapters_)

    def predict_outputs(self, X: Any) -> np.ndarray:
        """The student's outputs on float32 rows ``X``, as a numpy array on the CPU.

        The fast path of ``predict`` and ``predict_proba``: the student runs in
        eval mode (as after skorch's ``forward``) under ``torch.inference_mode``,
        in chunks of :data:`PREDICT_ROWS` rows or ``batch_size`` if larger,
        without skorch's per-batch DataLoader: up to 16,384 rows, exactly
        ``module(X)``. skorch's ``forward`` ran ``batch_size`` rows at a time;
        a matrix product's blocking depends on the batch's size, so values may
        differ from it in the last float32 bits.
        """
        module = self.module_
        rows = len(X)
        step = rows if self.batch_size == -1 else max(self.batch_size, PREDICT_ROWS)
        device = self.device if self.device is not None else "cpu"
        if module.training:  # as skorch's forward, the student stays in eval mode after
            module.eval()
        with torch.inference_mode():
            # the module itself: infer's checks ran in fit, and cost a one-row call a third
            parts = [module(arrays.to_tensor(X[i : i + step], device=device)).cpu()
                     for i in range(0, max(rows, 1), step)]
        return (parts[0] if len(parts) == 1 else torch.cat(parts)).numpy()

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping) and INPUT_KEY in x:
            x = x[INPUT_KEY]
        out = super().infer(x, **fit_params)
        if self.n_classes is not None and (
            not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] != self.n_classes
        ):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise StudentError(
                f"The student module {type(self.module_).__name__} returned {shape}, but "
                f"the task has {self.n_classes} {self._outputs_word}: the student must return "
                f"shape (batch, {self.n_classes}), one value per {self._outputs_word[:-1]}. "
                f"Set its output width (e.g. module__n_classes) to the number of "
                f"{self._outputs_word}."
            )
        return out

    def _teacher_logits(self, X):
        if _has_teacher(X):
            return to_tensor(X[TEACHER_KEY], device=self.device)
        if self.online_teacher is not None:
            xb = X[INPUT_KEY] if isinstance(X, Mapping) else X
            return self.online_teacher.batch_logits(to_tensor(xb, device=self.device))
        return None

    def _hard_loss(self, y_pred, y_true, weights, X, training):
        """Cross-entropy over the labeled rows; with ``weights``, their weighted mean."""
        labeled = y_true >= 0  # -1 marks an unlabeled row: soft term only
        if weights is not None:
            criterion = self.criterion_
            safe = y_true.clamp_min(0)
            per_row = torch.nn.functional.cross_entropy(
                y_pred, safe, weight=criterion.weight, reduction="none",
                label_smoothing=criterion.label_smoothing)
            row_weights = weights * labeled.to(weights.dtype)
            # as CrossEntropyLoss's mean, divide by the rows' class weights too
            total = row_weights if criterion.weight is None else (
                row_weights * criterion.weight[safe].to(weights.dtype))
            return (row_weights * per_row).sum() / total.sum().clamp_min(
                torch.finfo(total.dtype).tiny)
        if not self.has_unlabeled:  # no row of the training set lacks a label
            return super().get_loss(y_pred, y_true, X=X, training=training)
        if y_pred.device.type != "cpu":  # a masked mean: no host branch, no device sync
            return self._hard_loss(y_pred, y_true, torch.ones_like(y_pred[:, 0]), X, training)
        if labeled.all():
            return super().get_loss(y_pred, y_true, X=X, training=training)
        if labeled.any():
            return super().get_loss(y_pred[labeled], y_true[labeled], X=X, training=training)
        return y_pred.sum() * 0.0

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        weights = None
        if isinstance(X, Mapping) and WEIGHT_KEY in X:
            weights = to_tensor(X[WEIGHT_KEY], device=self.device).to(y_pred.dtype)
        hard = self._hard_loss(y_pred, y_true, weights, X, training)
        if not self.distilling:
            return hard
        teacher_logits = self._teacher_logits(X)
        if teacher_logits is None:
            raise RuntimeError("The net distills but this batch has no teacher outputs.")
        weighted = {}
        if weights is not None:  # summing to 1 over the batch (0 if every row weighs 0)
            weighted["sample_weight"] = weights / weights.sum().clamp_min(
                torch.finfo(weights.dtype).tiny)
        if self.temperature is not None:  # a regressor's losses take none
            weighted["temperature"] = self.temperature
        soft = self.soft_loss(
            y_pred,
            teacher_logits,
            y=y_true,
            **weighted,
            **(self.loss_options or {}),
        )
        if not isinstance(soft, torch.Tensor) or soft.ndim != 0:
            shape = tuple(soft.shape) if isinstance(soft, torch.Tensor) else type(soft).__name__
            raise LossError(
                f"KD loss {self.loss_name!r} returned {shape}; a loss must return a "
                "scalar tensor (reduce over the batch)."
            )
        if self._soft_values is not None:  # in an epoch: checked at its end, not every step
            self._soft_values.append(soft.detach())
        elif not torch.isfinite(soft):
            raise self._nonfinite_error(f"a non-finite value ({soft.item()})")
        return self.alpha * hard + (1 - self.alpha) * soft

    def _nonfinite_error(self, what: str) -> FloatingPointError:
        return FloatingPointError(
            f"KD loss {self.loss_name!r} returned {what}; check its temperature, its "
            "loss__* options and the teacher's logits."
        )

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        values, self._soft_values = self._soft_values, None
        checks, self._augment_checks = self._augment_checks, None
        if checks:
            check_deferred_values(checks, self.augmentation, self.n_classes,
                                  f"epoch {len(self.history)}")
        bad = bool(values) and not bool(torch.isfinite(torch.stack(values)).all())
        if self.accelerator is not None:  # every rank raises, or none does
            distributed.agree_on_epoch(self.accelerator, self.history[-1]["batches"], "train")
            bad = distributed.any_rank(self.accelerator, bad)
        if bad:
            raise self._nonfinite_error(
                f"a non-finite value in epoch {len(self.history)} (checked at the epoch's end)")
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                             **kwargs)


def _has_teacher(X: Any) -> bool:
    return isinstance(X, Mapping) and TEACHER_KEY in X


class RegressionNet(DistillationNet):
    """The net of ``DistilledRegressor``: the hard loss is the mean squared error.

    Targets arrive standardized, shaped ``(batch, n_outputs)`` (``n_classes``
    is the number of outputs); a row of NaN targets is unlabeled (soft term
    only). The soft loss is called without ``temperature``.

    With ``target_mean`` and ``target_scale`` (the estimator's
    standardization), skorch's callbacks see ``y``'s units: ``predict``
    de-standardizes the student's outputs, and ``on_batch_end`` receives the
    batch's labeled rows only, their targets de-standardized (``y_pred``
    stays the module's output, as a classifier's logits do). So
    ``EpochScoring("neg_mean_squared_error")`` scores in ``y``'s units, and
    unlabeled (NaN) rows are left out of every scoring.
    """

    _outputs_word = "outputs"

    def __init__(self, module, criterion=torch.nn.MSELoss, target_mean=None, target_scale=None,
                 **kwargs):
        super().__init__(module, criterion, **kwargs)
        self.target_mean = target_mean
        self.target_scale = target_scale

    def _destandardized(self, outputs: Any) -> Any:
        """Standardized ``outputs`` in ``y``'s units (float64); unchanged without a scale."""
        if getattr(self, "target_scale", None) is None:  # a net pickled before it had one
            return outputs
        return np.asarray(outputs, dtype=np.float64) * self.target_scale + self.target_mean

    def predict(self, X):
        """skorch's ``predict``, in ``y``'s units (what a callback's scorer receives)."""
        return self._destandardized(super().predict(X))

    def notify(self, method_name, **cb_kwargs):
        if method_name == "on_batch_end" and getattr(self, "target_scale", None) is not None:
            cb_kwargs = self._labeled_batch(**cb_kwargs)
        super().notify(method_name, **cb_kwargs)

    def _labeled_batch(self, batch, y_pred=None, **kwargs):
        """``on_batch_end``'s arguments for callbacks: labeled rows, targets in ``y``'s units."""
        Xi, yi = unpack_data(batch)
        if not isinstance(yi, torch.Tensor) or not isinstance(y_pred, torch.Tensor):
            return {"batch": batch, "y_pred": y_pred, **kwargs}
        yi = yi.reshape(len(yi), -1)
        labeled = ~torch.isnan(yi).any(dim=1)
        if not bool(labeled.all()):
            Xi = ({k: v[labeled] if isinstance(v, torch.Tensor) and len(v) == len(labeled)
                   else v for k, v in Xi.items()} if isinstance(Xi, Mapping)
                  else Xi[labeled] if isinstance(Xi, torch.Tensor) else Xi)
            yi, y_pred = yi[labeled], y_pred[labeled]
        y_units = self._destandardized(yi.detach().cpu().double().numpy())
        return {"batch": (Xi, y_units), "y_pred": y_pred, **kwargs}

    def _hard_loss(self, y_pred, y_true, weights, X, training):
        y_true = y_true.to(y_pred.dtype).reshape(y_pred.shape)
        labeled = ~torch.isnan(y_true).any(dim=1)
        per_row = (y_pred - torch.nan_to_num(y_true)).square().mean(dim=1)
        row_weights = labeled.to(y_pred.dtype)
        if weights is not None:
            row_weights = row_weights * weights
        return (row_weights * per_row).sum() / row_weights.sum().clamp_min(
            torch.finfo(row_weights.dtype).tiny)
