"""Raw DataFrames in: the student encodes a frame's columns itself, the teacher gets it as is.

``DistilledClassifier(teacher=gbm).fit(df, y)`` with columns of every pandas kind
(bool, categorical, strings with missing values, datetimes, numbers with NaN):
the encoding (``columns_``, ``skkd._columns``) is learned from the training
rows only, carried by pickles, clones, ``without_teacher`` and student files, and
applied at predict time, where unseen categories and missing values are handled.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import GridSearchCV, KFold

from skkd import DistilledClassifier, DistilledRegressor, load_student, save_student
from skkd._columns import transform_columns
from skkd.exceptions import InvalidParameterError, StudentError, StudentFileError

pd = pytest.importorskip("pandas")

FAST = {"max_epochs": 2, "random_state": 0, "module__hidden_sizes": (8,)}
N = 240


def _frame(n=N, seed=0):
    """Columns a tree teacher reads raw: categories, bool, ints, numbers with NaN."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(size=n),
        "city": pd.Categorical(rng.choice(["lyon", "nice", "paris"], n)),
        "member": rng.random(n) > 0.5,
        "visits": rng.integers(0, 20, n),
        "income": np.where(rng.random(n) < 0.2, np.nan, rng.normal(50, 10, n)),
    })


def _labels(df):
    return np.where((df["x"] > 0) ^ (df["city"] == "nice").to_numpy(), "yes", "no")


@pytest.fixture(scope="module")
def frame():
    df = _frame()
    return df, _labels(df)


@pytest.fixture(scope="module")
def gbm(frame):
    df, y = frame
    return HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=20,
                                          random_state=0).fit(df, y)


@pytest.fixture(scope="module")
def student(frame, gbm):
    df, y = frame
    return DistilledClassifier(gbm, **FAST).fit(df, y)


def _roles(est):
    return {c["name"]: c["role"] for c in est.columns_["columns"]}


# ----------------------------------------------------------------------------- each dtype


def _one_column(kind, rng):
    n = 60
    return {
        "bool": pd.Series(rng.random(n) > 0.5),
        "nullable bool": pd.Series(np.where(rng.random(n) < 0.2, None, rng.random(n) > 0.5),
                                   dtype="boolean"),
        "categorical": pd.Series(pd.Categorical(rng.choice(["a", "b", None], n))),
        "object": pd.Series(rng.choice(["a", "b", None], n), dtype=object),
        "string": pd.Series(rng.choice(["a", "b", "c"], n), dtype="string"),
        "float with NaN": pd.Series(np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n))),
        "datetime": pd.Series(pd.Timestamp("2024-01-01")
                              + pd.to_timedelta(rng.integers(0, 300, n), unit="D")),
        "datetime tz with NaT": pd.Series(pd.to_datetime(
            np.where(rng.random(n) < 0.2, None, "2024-03-01")).tz_localize("Europe/Paris")
            + pd.to_timedelta(rng.integers(0, 300, n), unit="h")),
    }[kind]


@pytest.mark.parametrize("kind, role", [
    ("bool", "binary"), ("nullable bool", "binary"), ("categorical", "category"),
    ("object", "category"), ("string", "category"), ("float with NaN", "numeric"),
    ("datetime", "numeric"), ("datetime tz with NaT", "numeric"),
])
def test_each_dtype_alone_is_encoded_by_its_role(kind, role):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"c": _one_column(kind, rng), "x": rng.normal(size=60)})
    y = rng.integers(0, 2, 60)
    est = DistilledClassifier(alpha=1.0, **FAST).fit(df, y)
    assert _roles(est) == {"c": role, "x": "numeric"}
    assert est.n_features_in_ == 2 and list(est.feature_names_in_) == ["c", "x"]
    assert est.predict(df).shape == (60,)
    rows = transform_columns(est.columns_, df)
    assert rows.dtype == np.float32 and np.isfinite(rows).all()
    if role == "binary":  # after the numeric x
        assert set(np.unique(rows[:, 1])) == {0.0, 1.0}


def test_the_encoding_reads_each_kind_as_documented():
    df = pd.DataFrame({
        "n": [1.0, np.nan, 3.0, 4.0],
        "s": ["b", None, "a", "b"],
        "two": [5, 7, 5, 7],
        "b": [True, False, True, True],
        "d": pd.to_datetime(["1970-01-02", None, "1970-01-04", "1970-01-05"]),
    })
    est = DistilledClassifier(module="tabular-mlp", alpha=1.0, max_epochs=1).fit(df, [0, 1, 0, 1])
    rows = transform_columns(est.columns_, df)
    # codes first (sorted categories, missing -1), numbers, binaries, then missing flags
    np.testing.assert_array_equal(rows[:, 0], [1, -1, 0, 1])
    spread = np.std([1.0, 3.0, 4.0])
    expected = (np.array([1.0, 8 / 3, 3.0, 4.0]) - 8 / 3) / spread  # missing: the mean
    np.testing.assert_allclose(rows[:, 1], expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rows[:, 2], expected, rtol=1e-6, atol=1e-7)  # days since 1970
    np.testing.assert_array_equal(rows[:, 3:5], [[0, 1], [1, 0], [0, 1], [1, 1]])
    np.testing.assert_array_equal(rows[:, 5:], [[0, 0], [1, 1], [0, 0], [0, 0]])


# ----------------------------------------------------------------------------- end to end


def test_a_student_learns_from_a_gbm_on_the_raw_frame(frame, gbm, student):
    df, y = frame
    assert _roles(student) == {"x": "numeric", "city": "category", "member": "binary",
                               "visits": "numeric", "income": "numeric"}
    assert student.teacher_score_ > 0.9  # the teacher read the frame as passed
    proba = student.predict_proba(df)
    assert proba.shape == (N, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(student.predict(df)) <= {"no", "yes"}
    assert 0 <= student.score(df, y) <= 1
    # module="auto": the student of an encoded frame is tabular-mlp, the city a code column
    assert type(student.net_.module_).__name__ == "TabularMLP"
    assert student.net_.module_.categorical_columns.tolist() == [0]
    # a student that takes no codes reads the city one-hot: 3 categories, 3 numbers, 1
    # binary, 1 flag
    mlp = DistilledClassifier(gbm, module="mlp", **FAST).fit(df, y)
    assert mlp.net_.module_.layers[0].in_features == 3 + 2 + 1 + 1 + 1


def test_pickle_clone_and_without_teacher_keep_the_encoding(frame, student):
    df, _ = frame
    expected = student.predict_proba(df)
    copy = pickle.loads(pickle.dumps(student))
    np.testing.assert_array_equal(copy.predict_proba(df), expected)
    assert copy.columns_ == student.columns_
    slim = student.without_teacher()
    np.testing.assert_array_equal(slim.predict_proba(df), expected)
    assert slim.columns_ == student.columns_
    fresh = clone(student)
    assert not hasattr(fresh, "columns_") and fresh.categorical_features == "from_dtype"


def test_a_student_file_carries_the_encoding(frame, student, tmp_path):
    df, _ = frame
    save_student(student, tmp_path / "s.skkd")
    loaded = load_student(tmp_path / "s.skkd")
    assert loaded.columns_ == student.columns_
    np.testing.assert_array_equal(loaded.predict_proba(df), student.predict_proba(df))
    data = __import__("torch").load(tmp_path / "s.skkd", weights_only=True)
    assert data["version"] == 3  # older skkd says "upgrade" rather than "damaged"
    data["fitted"]["columns_"]["columns"][1]["categories"] = ["paris", "lyon"]  # unsorted
    __import__("torch").save(data, tmp_path / "bad.skkd")
    with pytest.raises(StudentFileError, match="columns_"):
        load_student(tmp_path / "bad.skkd")


def test_a_tabular_student_reads_codes_and_round_trips(frame, gbm, tmp_path):
    df, y = frame
    est = DistilledClassifier(gbm, module="tabular-mlp", max_epochs=2, random_state=0).fit(df, y)
    module = est.net_.module_
    assert module.categorical_columns.tolist() == [0]  # codes come first
    assert module.cardinalities.tolist() == [3]  # the categories seen
    save_student(est, tmp_path / "t.skkd")
    np.testing.assert_array_equal(load_student(tmp_path / "t.skkd").predict_proba(df),
                                  est.predict_proba(df))


def test_grid_search_fits_each_fold_its_own_encoding(frame):
    df, y = frame
    df = df.assign(city=pd.Categorical(np.where(np.arange(N) < N // 2, "lyon", df["city"])))
    y = _labels(df)
    seen = []

    def scorer(est, X, y_true):
        seen.append(tuple(est.columns_["columns"][1]["categories"]))
        return est.score(X, y_true)

    teacher = HistGradientBoostingClassifier(max_iter=10)  # each fold fits a clone
    search = GridSearchCV(DistilledClassifier(teacher, **FAST), {"alpha": [0.2, 0.8]},
                          cv=KFold(2), scoring=scorer).fit(df, y)
    # the fold trained on the first half saw lyon only; the other, every city
    assert ("lyon",) in seen and ("lyon", "nice", "paris") in seen
    assert search.best_estimator_.columns_["columns"][1]["categories"] == [
        "lyon", "nice", "paris"]


def test_a_regressor_reads_the_raw_frame_too(frame, tmp_path):
    df, _ = frame
    y = 2 * df["x"].to_numpy() + (df["city"] == "nice").to_numpy() + df["member"].to_numpy()
    teacher = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(df, y)
    est = DistilledRegressor(teacher, **FAST).fit(df, y)
    assert _roles(est)["city"] == "category" and est.predict(df).shape == (N,)
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict(df), est.predict(df))
    save_student(est, tmp_path / "r.skkd")
    np.testing.assert_array_equal(load_student(tmp_path / "r.skkd").predict(df), est.predict(df))
    search = GridSearchCV(DistilledRegressor(teacher, **FAST), {"alpha": [0.2, 0.8]},
                          cv=2).fit(df, y)
    assert search.best_estimator_.columns_ is not None


# ----------------------------------------------------------------------------- predict time


def test_unseen_categories_and_new_missing_values_at_predict_time(frame, student):
    df, _ = frame
    rows = pd.concat([df.iloc[:1]] * 2, ignore_index=True)
    rows["city"] = pd.Categorical(["rome", None])
    proba = student.predict_proba(rows)
    assert np.isfinite(proba).all()
    np.testing.assert_array_equal(proba[0], proba[1])  # an unseen city reads as a missing one
    np.testing.assert_array_equal(transform_columns(student.columns_, rows)[:, 0], -1)  # unknown
    # "visits" had no missing value in training: NaN now reads as its training mean
    gap = df.iloc[:1].assign(visits=np.nan)
    mean = df.iloc[:1].assign(visits=df["visits"].mean())
    np.testing.assert_array_equal(student.predict_proba(gap), student.predict_proba(mean))


def test_a_column_constant_in_training_reads_zero():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"k": np.full(50, 7.0), "s": rng.choice(["a", "b"], 50)})
    est = DistilledClassifier(alpha=1.0, **FAST).fit(df, rng.integers(0, 2, 50))
    np.testing.assert_array_equal(transform_columns(est.columns_, df)[:, 1], 0)  # after s
    assert np.isfinite(est.predict_proba(df.assign(k=9.0))).all()


def test_predict_needs_the_fitted_columns(frame, student):
    df, _ = frame
    with pytest.raises(ValueError, match="pass the rows as a DataFrame with those 5 columns"):
        student.predict(df.to_numpy())
    with pytest.raises(ValueError, match="feature names"):
        student.predict(df.rename(columns={"x": "z"}))
    with pytest.raises(ValueError, match="Column 'visits' cannot be read as numbers"):
        student.predict(df.assign(visits="many"))


# ----------------------------------------------------------------------------- categorical_features


@pytest.mark.parametrize("setting", [["city", "visits"], [1, 3], [False, True, False, True, False]])
def test_categorical_features_by_name_index_or_mask(frame, setting):
    df, y = frame
    est = DistilledClassifier(alpha=1.0, categorical_features=setting, **FAST).fit(df, y)
    visits = est.columns_["columns"][3]
    assert visits["role"] == "category"
    assert visits["categories"] == sorted(float(v) for v in df["visits"].unique())
    assert _roles(est)["member"] == "binary"  # only the columns named are categorical


def test_categorical_features_none_makes_no_column_categorical(frame):
    df, y = frame
    est = DistilledClassifier(alpha=1.0, categorical_features=None, **FAST).fit(
        df.drop(columns="city"), y)
    assert "category" not in _roles(est).values()
    with pytest.raises(InvalidParameterError, match="'city' holds category values.*"
                       "categorical_features=None"):
        DistilledClassifier(alpha=1.0, categorical_features=None, **FAST).fit(df, y)


@pytest.mark.parametrize("setting, message", [
    ([True, False], "boolean mask of 2 entries, but X has 5 columns"),
    (["nowhere"], "names 'nowhere', which is not a column of X"),
    ([7], "holds the index 7, outside X's 5 columns"),
    ("all", "'categorical_features' parameter of DistilledClassifier must be"),
])
def test_categorical_features_errors_name_the_problem(frame, setting, message):
    df, y = frame
    with pytest.raises(ValueError, match=message):
        DistilledClassifier(alpha=1.0, categorical_features=setting, **FAST).fit(df, y)


def test_categorical_features_refuses_an_array(frame):
    df, y = frame
    with pytest.raises(InvalidParameterError, match="names columns of a DataFrame, but X is "
                                                    "a ndarray"):
        DistilledClassifier(alpha=1.0, categorical_features=[0], **FAST).fit(
            df[["x", "visits"]].to_numpy(), y)


# ----------------------------------------------------------------------------- what stays


def test_numeric_frames_and_arrays_go_the_old_way(frame):
    df, y = frame
    numbers = df[["x", "visits"]]
    a = DistilledClassifier(alpha=1.0, **FAST).fit(numbers, y)
    b = DistilledClassifier(alpha=1.0, **FAST).fit(numbers.to_numpy(np.float32), y)
    assert a.columns_ is None and b.columns_ is None
    np.testing.assert_array_equal(a.predict_proba(numbers), b.predict_proba(
        numbers.to_numpy(np.float32)))


def test_the_encoding_sees_the_training_rows_only(frame):
    df, y = frame
    est = DistilledClassifier(alpha=1.0, **FAST).fit(df.iloc[:200], y[:200])
    test = df.iloc[200:].assign(city=pd.Categorical(["rome"] * (N - 200)))
    encoded = transform_columns(est.columns_, test)
    np.testing.assert_array_equal(encoded[:, 0], -1)  # rome: the unknown category
    mean = df["x"].iloc[:200].mean()
    assert est.columns_["columns"][0]["mean"] == pytest.approx(mean)


def test_too_many_categories_for_one_hot_name_the_column():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"zip": [f"z{i}" for i in rng.integers(0, 100, 300)],
                       "x": rng.normal(size=300)})
    with pytest.raises(InvalidParameterError, match="Column 'zip' has .* categories.*"
                                                    "module='tabular-mlp'"):
        DistilledClassifier(module="mlp", alpha=1.0, **FAST).fit(df, rng.integers(0, 2, 300))
    # module="auto" reads such a column as codes, through a table
    DistilledClassifier(alpha=1.0, **FAST).fit(df, rng.integers(0, 2, 300))


def test_columns_that_cannot_be_encoded_are_named():
    df = pd.DataFrame({"obj": [object(), "a", "b", "a"], "x": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match="Column 'obj' holds object values.*neither strings "
                                         "nor numbers"):
        DistilledClassifier(alpha=1.0, **FAST).fit(df, [0, 1, 0, 1])
    empty = pd.DataFrame({"gone": [np.nan] * 4, "x": [1.0, 2.0, 3.0, 4.0]})
    est = DistilledClassifier(alpha=1.0, **FAST).fit(empty, [0, 1, 0, 1])
    assert _roles(est)["gone"] == "constant"  # missing in every training row: reads 0


@pytest.mark.parametrize("setting", [{"augment": "munge"},
                                     {"teacher_inference": "per_batch"}])
def test_settings_that_hand_the_teacher_student_rows_are_refused(frame, gbm, setting):
    df, y = frame
    name = next(iter(setting))
    with pytest.raises(InvalidParameterError, match=f"{name}=.*encoding of X's columns.*"
                                                    "Encode the frame yourself"):
        DistilledClassifier(gbm, **setting, **FAST).fit(df, y)


def test_a_warm_start_continues_with_the_fitted_encoding(frame, gbm):
    df, y = frame
    est = DistilledClassifier(gbm, warm_start=True, **FAST).fit(df, y)
    columns = est.columns_
    later = df.assign(city=pd.Categorical(["rome"] * N))  # new categories: still unknown
    est.fit(later, y)
    assert est.columns_ is columns and len(est.history_) == 4
    est.set_params(categorical_features=["city"])
    with pytest.raises(InvalidParameterError, match="categorical_features"):
        est.fit(df, y)


def test_onnx_export_of_a_raw_frame_student(frame, student):
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from skkd.export import compare_onnx, to_onnx

    df, y = frame  # one input per column (tests/test_export_columns.py); dates refused
    assert compare_onnx(student, to_onnx(student, X=df), df)["ok"]
    dated = DistilledClassifier(alpha=1.0, max_epochs=1).fit(df.assign(when=pd.Timestamp(0)), y)
    with pytest.raises(StudentError, match="Column 'when' held datetime"):
        to_onnx(dated)
