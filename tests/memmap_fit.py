"""A fit on a memory-mapped array, in a process of its own (see test_scale_out.py).

    python tests/memmap_fit.py PATH ROWS FEATURES

Writes a float32 ``.npy`` file of ROWS x FEATURES at PATH, opens it with
``mmap_mode="r"``, fits a student on it for one epoch (teacher logits given)
and prints a JSON line: the array's bytes, and the anonymous memory (RssAnon:
what the process allocated, not file pages it maps) before and at the peak of
``fit``, sampled every 2 ms.
"""

import json
import sys
import threading
import time

import numpy as np


def anonymous_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def write(path: str, rows: int, features: int) -> None:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, features))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 65536):
        stop = min(start + 65536, rows)
        out[start:stop] = rng.standard_normal((stop - start, features), dtype=np.float32)
    out.flush()
    del out


def main(path: str, rows: int, features: int) -> None:
    import torch

    from skkd import DistilledClassifier

    torch.set_num_threads(1)
    write(path, rows, features)
    X = np.load(path, mmap_mode="r")
    y = (X[:, 0] > 0).astype(np.int64)
    logits = np.stack([X[:, 0], -X[:, 0]], axis=1).astype(np.float32)
    peak = [0.0]

    def watch() -> None:
        while True:
            peak[0] = max(peak[0], anonymous_mib())
            time.sleep(0.002)

    time.sleep(0.05)
    before = anonymous_mib()
    peak[0] = before
    threading.Thread(target=watch, daemon=True).start()
    clf = DistilledClassifier(max_epochs=1, batch_size=4096, random_state=0)
    clf.fit(X, y, teacher_logits=logits)
    time.sleep(0.05)
    print(json.dumps({"x_mib": X.nbytes / 2**20, "before_mib": before, "peak_mib": peak[0],
                      "accuracy": float(clf.score(X[:4096], y[:4096]))}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
