"""A minimal hand-written PyTorch loop: the yardstick skkd is timed against.

No skorch, no sklearn: tensors shuffled with ``randperm`` and sliced per batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def train_epoch(model, optimizer, X, y, *, batch_size=32, teacher_logits=None,
                alpha=1.0, temperature=1.0, generator=None, scheduler=None):
    """One epoch of ``alpha * CE + (1 - alpha) * KL(T) * T**2`` (CE alone without a teacher)."""
    model.train()
    order = torch.randperm(len(X), generator=generator)
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        logits = model(X[idx])
        loss = F.cross_entropy(logits, y[idx])
        if teacher_logits is not None and alpha < 1:
            soft = F.kl_div(F.log_softmax(logits / temperature, dim=1),
                            F.log_softmax(teacher_logits[idx] / temperature, dim=1),
                            reduction="batchmean", log_target=True) * temperature ** 2
            loss = alpha * loss + (1 - alpha) * soft
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


@torch.inference_mode()
def predict_logits(model, X, batch_size=1024):
    """Batched inference in eval mode."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    model.train(was_training)
    return out


def accuracy(model, X, y):
    return (predict_logits(model, X).argmax(1) == y).float().mean().item()
