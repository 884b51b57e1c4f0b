"""
Distill a gradient-boosting model into a small MLP
==================================================

A :class:`~sklearn.ensemble.HistGradientBoostingClassifier` is accurate on tabular data
but answers one row at a time slowly and ships as thousands of tree nodes. Here it
teaches a one-hidden-layer MLP of 32 units, and we compare the student with

- the teacher itself,
- the same MLP trained from scratch on the labels (``alpha=1``), and
- the MLP distilled from out-of-fold teacher outputs (``teacher_cv=5``), and
- the MLP distilled on the training rows plus synthetic rows the teacher labels
  (``augment="munge"``).

The data are synthetic and tree-friendly on purpose: the labels come from thresholds
and an interaction, so gradient boosting beats an MLP trained on the same 1,000 rows.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

from skkd import DistilledClassifier

rng = np.random.RandomState(0)
X = rng.uniform(-1, 1, size=(3000, 8))
y = 2 * (X[:, 0] > 0.2) + (X[:, 1] * X[:, 2] > 0)  # four classes; five columns are noise
noisy = rng.rand(len(y)) < 0.1
y[noisy] = rng.randint(4, size=noisy.sum())  # 10 % of the labels are random
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=1000, random_state=0, stratify=y
)

# %%
# The teacher
# -----------
# Fitted once, on the training rows only. skkd never refits or changes it.

teacher = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
print(f"teacher test accuracy: {teacher.score(X_test, y_test):.3f}")

# %%
# Students
# --------
# Every student has the same architecture, optimizer and epochs; only what it learns
# from differs. ``alpha`` weights the hard labels: 1 is training from scratch, 0.1
# mostly imitation. The features are already on one scale, so the students take the
# rows as they are. (Behind a ``StandardScaler`` in a pipeline, the teacher would
# receive the *scaled* rows it was not fitted on: then compute its outputs on the raw
# rows with :func:`skkd.teacher_logits` and pass them to ``fit`` as
# ``distilledclassifier__teacher_logits``.)

student = dict(module="mlp", module__hidden_sizes=(32,), max_epochs=40, batch_size=64,
               lr=1e-2, random_state=0)

scratch = DistilledClassifier(alpha=1.0, **student).fit(X_train, y_train)
distilled = DistilledClassifier(teacher=teacher, alpha=0.1, **student).fit(X_train, y_train)

# %%
# ``augment="munge"`` adds four synthetic rows per training row (MUNGE, Bucilă et al.
# 2006: each row mixed with its nearest neighbour, plus local noise), labelled once by
# the teacher; they get the soft term only.

munge = DistilledClassifier(teacher=teacher, alpha=0.1, augment="munge", augment__size=4,
                            **student).fit(X_train, y_train)

# %%
# ``teacher_score_`` is the teacher's accuracy on the rows it taught, and it is 1.0:
# the teacher memorised its training rows, the 10 % of random labels included, so on
# those rows its soft labels say little more than the labels. ``teacher_cv=5`` gives
# each training row the output of a teacher clone that did not see it (as
# ``cross_val_predict`` does), so the student learns how the teacher generalises. It
# needs an *unfitted* teacher: skkd fits the five clones (and one on all rows, kept as
# ``teacher_``).

print(f"fitted teacher on its own training rows: {distilled.teacher_score_:.3f}")
out_of_fold = DistilledClassifier(teacher=HistGradientBoostingClassifier(random_state=0),
                                  teacher_cv=5, alpha=0.1, **student).fit(X_train, y_train)
print(f"out-of-fold teacher outputs:             {out_of_fold.teacher_score_:.3f}")

# %%
# Accuracy, and agreement with the teacher
# ----------------------------------------
# Agreement is the share of test rows where the student predicts what the teacher
# predicts: how well the student imitates, whatever the labels say.

models = {"teacher (GBM)": teacher, "MLP from\nscratch": scratch, "MLP\ndistilled": distilled,
          "MLP distilled,\nout-of-fold": out_of_fold, "MLP distilled\n+ MUNGE rows": munge}
accuracy = [m.score(X_test, y_test) for m in models.values()]
agreement = [np.mean(m.predict(X_test) == teacher.predict(X_test)) for m in models.values()]
for name, acc, agree in zip(models, accuracy, agreement, strict=True):
    print(f"{name.replace(chr(10), ' '):29s} accuracy {acc:.3f}   agreement {agree:.3f}")

fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
positions = np.arange(len(models))
ax.bar(positions - 0.2, accuracy, width=0.4, label="test accuracy")
ax.bar(positions + 0.2, agreement, width=0.4, label="agreement with the teacher")
ax.set_xticks(positions, list(models))
ax.set_ylim(0.7, 1.0)
ax.legend(loc="upper right")
ax.set_title("Gradient boosting distilled into a 32-unit MLP")
plt.show()

# %%
# What it shows
# -------------
# Distilling on the 1,000 training rows from the fitted teacher changes little: there
# the teacher only repeats the labels it memorised. Two things help, and both give the
# student targets it could not get from the labels: out-of-fold teacher outputs
# (``teacher_cv``) and synthetic rows the teacher labels (``augment="munge"``). One run,
# one seed: ``benchmarks/flights_mlp.py`` measures the same on real data (NYC flights) with
# several seeds, and with the control that matters there, a scratch student given as
# many optimizer steps as the MUNGE student.
