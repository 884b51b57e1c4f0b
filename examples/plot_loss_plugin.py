"""
Write a distillation loss as a plugin, and use it
=================================================

KD losses are found by name through skkd's plugin manager (pluggy), the same way for
skkd's built-in losses, for installed plugin packages and for plugins registered in a
running process. This example writes one, the generalised Jensen-Shannon divergence
between the softened teacher and student distributions, registers it in-process with
:func:`skkd.plugins.register`, and searches its option with ``GridSearchCV``.

To publish a loss as a package that every process finds (``pip install``, then
``loss="js"`` anywhere, dask workers included), see the plugin guide.
"""

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split

import skkd
from skkd import DistilledClassifier, hookimpl, plugins

# %%
# The loss
# --------
# A loss returns the *soft* term only, as a scalar tensor; the estimator adds the
# hard-label term, ``alpha * cross_entropy``. It is called as
# ``fn(student_logits, teacher_logits, *, temperature, y=None, **options)``, where the
# options are the estimator's ``loss__*`` parameters (here ``loss__pi``) and ``y`` holds
# the encoded labels, -1 for rows without one (unused here).


def jensen_shannon(student_logits, teacher_logits, *, temperature, y=None, pi=0.5):
    """``pi * KL(P || M) + (1 - pi) * KL(Q || M)``, ``M = pi * P + (1 - pi) * Q``, times T**2.

    ``P`` is the teacher's and ``Q`` the student's softmax at temperature ``T``. Unlike
    the KL divergence it is bounded, and symmetric at ``pi=0.5``.
    """
    if not 0 < pi < 1:
        raise ValueError(f"loss__pi must be in (0, 1), got {pi!r}")
    log_p = F.log_softmax(teacher_logits / temperature, dim=1)
    log_q = F.log_softmax(student_logits / temperature, dim=1)
    log_m = torch.logsumexp(torch.stack([log_p + math.log(pi), log_q + math.log(1 - pi)]),
                            dim=0)
    kl_pm = F.kl_div(log_m, log_p, reduction="batchmean", log_target=True)
    kl_qm = F.kl_div(log_m, log_q, reduction="batchmean", log_target=True)
    return (pi * kl_pm + (1 - pi) * kl_qm) * temperature**2


# %%
# Test it on its own first: zero for identical inputs, symmetric at ``pi=0.5``, and
# never above ``log(2) * T**2``, even for extreme logits.

torch.manual_seed(0)
s, t = torch.randn(8, 10), torch.randn(8, 10)
assert jensen_shannon(s, s, temperature=2.0).abs() < 1e-6
assert torch.isclose(jensen_shannon(s, t, temperature=1.0), jensen_shannon(t, s, temperature=1.0))
extreme = jensen_shannon(1e4 * s, -1e4 * t, temperature=2.0)
assert torch.isfinite(extreme) and extreme <= math.log(2) * 4 + 1e-5
print(f"JS at extreme logits: {extreme:.4f} (bound {math.log(2) * 4:.4f})")

# %%
# The plugin
# ----------
# A plugin is an object with hook implementations marked ``@skkd.hookimpl``: a module
# for an installed package, any object in a running process. The hook receives a
# ``register`` callback (the parameter must have that name); other hooks register
# models, teacher adapters and augmentations the same way.


class JensenShannonPlugin:
    @hookimpl
    def skkd_register_losses(self, register):
        register("js", jensen_shannon)


plugins.register(JensenShannonPlugin(), name="js-plugin")
for info in skkd.list_plugins():
    what = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.registered.items()
                     if names)
    print(f"{info.name:24s} ({info.distribution}) {what}")
print(plugins.describe("losses", "js"))

# %%
# Using it
# --------
# ``loss="js"`` now works like a built-in name, and ``loss__pi`` like any estimator
# parameter: ``GridSearchCV`` can search it. A ``loss__*`` option the loss does not
# accept fails at the start of ``fit``, so ``"kl"`` gets a grid of its own.

X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, random_state=0, stratify=y
)
teacher = LogisticRegression(C=10, max_iter=2000).fit(X_train, y_train)

student = DistilledClassifier(teacher=teacher, module__hidden_sizes=(32,), alpha=0.3,
                              temperature=2.0, max_epochs=15, batch_size=64, lr=3e-3,
                              random_state=0)
grid = [{"loss": ["kl"]}, {"loss": ["js"], "loss__pi": [0.1, 0.5, 0.9]}]
search = GridSearchCV(student, grid, cv=3).fit(X_train, y_train)
print(f"best: {search.best_params_}, test accuracy {search.score(X_test, y_test):.3f}, "
      f"teacher {teacher.score(X_test, y_test):.3f}")

# %%
# Every candidate's cross-validated accuracy, with the spread over the three folds:

labels = [p["loss"] + (f"\npi={p['loss__pi']}" if "loss__pi" in p else "")
          for p in search.cv_results_["params"]]
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.bar(labels, search.cv_results_["mean_test_score"], yerr=search.cv_results_["std_test_score"],
       capsize=4, color=["tab:gray", "tab:blue", "tab:blue", "tab:blue"])
ax.set_ylim(0.85, 1.0)
ax.set_ylabel("mean cross-validated accuracy")
ax.set_title("Built-in KL against the plugin's Jensen-Shannon loss")
plt.show()

# %%
# Cleaning up
# -----------
# A plugin registered in-process lives until it is unregistered (or until
# :func:`skkd.plugins.reset`), and only in this process: worker processes of
# ``GridSearchCV(n_jobs=2)`` or of a dask cluster do not see it. To use a loss there,
# install it as a package with a ``skkd`` entry point, or pass the function itself,
# ``DistilledClassifier(loss=jensen_shannon)``, which pickles with the estimator.

plugins.unregister("js-plugin")
try:
    plugins.get_loss("js")
except ValueError as error:
    print(error)
