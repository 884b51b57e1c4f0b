"""Torch's global random state, held for one fit at a time.

Module initialization, shuffling and dropout draw from torch's process-wide
generator; no per-thread generator reaches ``nn.Dropout``. So the training
part of every fit holds one process-wide lock: fits in threads then give the
same results as the same fits one after another. A fit with a ``random_state``
works on a fork of the generator, seeded, and leaves the global state as it
found it; the state it ends in is kept so that a warm-started fit continues
exactly where the previous one stopped.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import torch
from sklearn.utils import check_random_state

_TRAINING_LOCK = threading.RLock()


@contextlib.contextmanager
def forked_cpu_rng() -> Iterator[None]:
    """``torch.random.fork_rng`` of the CPU generator, under the training lock.

    Draws inside leave torch's global state as it was. The lock matters:
    restoring the state on the way out would otherwise rewind the generator
    of a fit training in another thread, which then draws numbers twice.
    """
    with _TRAINING_LOCK, torch.random.fork_rng(devices=[]):
        yield


def _devices(device: Any) -> list[int]:
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return list(range(torch.cuda.device_count()))
    return []


class RandomState:
    """Torch's random state for one fit: seeded or resumed, saved at the end.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        The estimator's ``random_state``; None leaves torch's global state alone.
    device : str
        The student's device (its CUDA generators are forked too).
    resume : tuple or None
        :attr:`final` of an earlier fit to continue from (warm start); takes
        precedence over ``random_state``.

    Attributes
    ----------
    final : tuple or None
        The forked generators' states when the fit ended (also after an
        exception), or None when the fit used the global state.
    """

    def __init__(self, random_state: Any, device: Any, resume: Any = None) -> None:
        self.seed = (
            None if random_state is None
            else int(check_random_state(random_state).randint(2**31 - 1))
        )
        self.devices = _devices(device)
        self.resume = resume
        self.final: Any = None
        self._saved: Any = None

    def _get(self) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return torch.get_rng_state(), [torch.cuda.get_rng_state(d) for d in self.devices]

    def _set(self, state: tuple[torch.Tensor, list[torch.Tensor]]) -> None:
        cpu, cuda = state
        torch.set_rng_state(cpu)
        for d, s in zip(self.devices, cuda, strict=False):
            torch.cuda.set_rng_state(s, d)

    def __enter__(self) -> RandomState:
        _TRAINING_LOCK.acquire()
        try:
            if self.resume is not None or self.seed is not None:
                self._saved = self._get()
                if self.resume is not None:
                    self._set(self.resume)
                else:
                    torch.default_generator.manual_seed(self.seed)
                    for d in self.devices:
                        torch.cuda.default_generators[d].manual_seed(self.seed)
        except BaseException:
            _TRAINING_LOCK.release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._saved is not None:
                self.final = self._get()
                self._set(self._saved)
        finally:
            _TRAINING_LOCK.release()
