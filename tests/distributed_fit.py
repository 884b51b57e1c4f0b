"""One rank of a data-parallel fit, as ``torchrun`` starts it (see test_scale_out.py).

    python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        tests/distributed_fit.py OUT_DIR

Each rank fits the same student twice (teacher outputs once per fit, and a
teacher queried on every batch) and writes its weights and history to
``OUT_DIR``; rank 0 alone pickles the fitted estimators.
"""

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from skkd import DistilledClassifier

#: What the one-process fit in the test uses too.
PARAMS = {"batch_size": 64, "max_epochs": 2, "alpha": 0.5, "temperature": 2.0,
          "random_state": 0}
#: torch threads of each rank, and of the test's one-process reference: sums split over
#: another number of threads round differently, and training grows the difference.
THREADS = 1
ROWS = 1024  # 16 global batches of 64: every rank's share holds 32 rows


def data():
    X, y = load_digits(return_X_y=True)
    return (X[:ROWS] / 16).astype(np.float32), y[:ROWS]


def teacher(X, y):
    return LogisticRegression(max_iter=300).fit(X, y)


def main(out: Path) -> None:
    torch.set_num_threads(THREADS)
    X, y = data()
    accelerator = Accelerator(cpu=True)
    rank = accelerator.process_index
    for inference in ("once", "per_batch"):
        clf = DistilledClassifier(teacher(X, y), accelerator=accelerator, device=None,
                                  teacher_inference=inference, verbose=1, **PARAMS)
        clf.fit(X, y)
        torch.save(clf.net_.module_.state_dict(), out / f"{inference}-rank{rank}.pt")
        (out / f"{inference}-rank{rank}.json").write_text(json.dumps({
            "train_loss": list(clf.history_[:, "train_loss"]),
            "world": accelerator.num_processes,
            "module": type(clf.net_.module_).__name__,
        }))
        if accelerator.is_main_process:
            (out / f"{inference}.pkl").write_bytes(pickle.dumps(clf))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
