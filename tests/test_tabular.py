"""The tabular student: embeddings by hand, encodings fitted on training rows only, shipping."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    BaggingClassifier,
    BaggingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skkd import DistilledClassifier, DistilledRegressor
from skkd.exceptions import InvalidParameterError
from skkd.models._bins import output_thresholds, tree_thresholds
from skkd.models._tabular import TabularMLP


@pytest.fixture(scope="module")
def table():
    """Five numeric columns, one binary column and one column of category codes 0..3."""
    X, y = make_classification(600, 5, n_informative=4, n_redundant=0, n_classes=3,
                               random_state=0)
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 4, len(X))
    y = np.where(codes == 3, 0, y)  # the category matters
    X = np.column_stack([X, X[:, 0] > 0, codes]).astype(np.float32)
    return X, y


def student(**kwargs):
    return DistilledClassifier(module="tabular-mlp", max_epochs=2, batch_size=64,
                               random_state=0, **kwargs)


def test_periodic_embedding_by_hand():
    # one column, one frequency c, one unit: ReLU(w_cos cos(2 pi c x) + w_sin sin(.) + b)
    model = TabularMLP(1, 2, numeric_encoding="periodic", n_frequencies=1, d_embedding=1,
                       hidden_sizes=())
    with torch.no_grad():
        model.numeric.periodic.weight.fill_(0.25)
        model.numeric.linear.weight.copy_(torch.tensor([[[2.0], [3.0]]]))
        model.numeric.linear.bias.fill_(0.5)
        out = model.numeric(torch.tensor([[1.0], [2.0]]))
    # x=1: cos(pi/2)=0, sin=1 -> 3.5; x=2: cos(pi)=-1, sin=0 -> relu(-1.5) = 0
    np.testing.assert_allclose(out.squeeze().numpy(), [3.5, 0.0], atol=1e-6)


def test_piecewise_linear_encoding_by_hand():
    model = TabularMLP(1, 2, numeric_encoding="ple", bins=[[0.0, 1.0, 3.0]], hidden_sizes=())
    with torch.no_grad():
        encoded = model.numeric.impl(torch.tensor([[2.0], [0.5], [5.0]]))
    # bins [0, 1) and [1, 3]: x=2 fills the first and half the second; the last bin extrapolates
    np.testing.assert_allclose(encoded.squeeze(1).numpy(), [[1, 0.5], [0.5, 0], [1, 2]],
                               atol=1e-6)


def test_unknown_codes_share_the_extra_row():
    model = TabularMLP(1, 2, categorical=[0], cardinalities=[3], d_embedding=2,
                       hidden_sizes=()).eval()
    x = torch.tensor([[0.0], [2.0], [-1.0], [3.0], [float("nan")], [7.0]])
    with torch.no_grad():
        out = model(x)
        unknown = model.backbone(model.categories.weight[3:4])
    for row in (2, 3, 4, 5):  # -1, k, NaN and far beyond k: the unknown category
        torch.testing.assert_close(out[row], unknown[0])
    assert not torch.allclose(out[0], out[1])


def test_fit_learns_roles_and_categories(table):
    X, y = table
    clf = student(module__categorical=[6], alpha=1).fit(X, y)
    bins = clf.encoding_.pop("bins")  # the default piecewise-linear encoding's, one per number
    assert len(bins) == 5
    assert clf.encoding_ == {"passthrough": [5], "categories": [[0, 1, 2, 3]]}
    module = clf.net_.module_
    assert module.numeric_columns.tolist() == [0, 1, 2, 3, 4]
    assert clf.score(X, y) > 0.5


def test_non_integer_codes_are_refused(table):
    X, y = table
    X = X.copy()
    X[0, 6] = 1.5
    with pytest.raises(InvalidParameterError, match=r"tabular-mlp.*column 6 holds 1.5"):
        student(module__categorical=[6], alpha=1).fit(X, y)


@pytest.mark.parametrize("options, match", [
    ({"module__numeric_encoding": "spline"}, "numeric_encoding='spline'"),
    ({"module__bins": "teacher", "module__numeric_encoding": "periodic"},
     "bins are for the piecewise-linear"),
    ({"module__categorical": [9]}, r"module__categorical=\[9\]"),
    ({"module__categorical": [5], "module__passthrough": [5]}, "one role"),
])
def test_bad_options_name_the_parameter(table, options, match):
    X, y = table
    with pytest.raises((InvalidParameterError, ValueError), match=match):
        student(alpha=1, **options).fit(X, y)


def test_quantile_bins_come_from_the_training_rows_only(table):
    X, y = table
    X = X.copy()
    X[300:, :5] += 10  # the second half lies elsewhere: bins from it cannot fit the first
    result = cross_validate(student(alpha=1, module__numeric_encoding="ple"), X, y,
                            cv=KFold(2), return_estimator=True)
    for estimator, train in zip(result["estimator"], [slice(300, None), slice(0, 300)],
                                strict=True):
        columns = estimator.net_.module_.numeric_columns.tolist()
        assert columns == [0, 1, 2, 3, 4, 6]  # column 5 is binary: passed through
        for column, edges in zip(columns, estimator.encoding_["bins"], strict=True):
            assert edges[0] == pytest.approx(X[train, column].min())
            assert edges[-1] == pytest.approx(X[train, column].max())
    search = GridSearchCV(student(alpha=1, module__numeric_encoding="ple"),
                          {"module__n_bins": [4, 8]}, cv=KFold(2)).fit(X, y)
    best = search.best_estimator_
    assert [e[-1] for e in best.encoding_["bins"]] == pytest.approx(X[:, [0, 1, 2, 3, 4, 6]].max(0))
    assert max(len(e) for e in best.encoding_["bins"]) <= best.get_params()["module__n_bins"] + 1


def test_teacher_bins_are_the_teachers_thresholds(table):
    X, y = table
    teacher = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    clf = student(teacher=teacher, module__numeric_encoding="ple", module__bins="teacher",
                  module__n_bins=64).fit(X, y)
    thresholds = tree_thresholds(teacher, X.shape[1])
    columns = clf.net_.module_.numeric_columns.tolist()
    for column, edges in zip(columns, clf.encoding_["bins"], strict=True):
        inner = np.asarray(edges[1:-1], dtype=np.float32)
        used = thresholds[column].astype(np.float32)
        assert len(inner) and np.isin(inner, used).all()
    quantile = student(teacher=teacher, module__numeric_encoding="ple", module__n_bins=64)
    assert quantile.fit(X, y).encoding_["bins"] != clf.encoding_["bins"]


def test_teacher_bins_without_readable_thresholds_follow_its_outputs(table):
    X, y = table
    teacher = make_pipeline(StandardScaler(), RandomForestClassifier(20, random_state=0))
    teacher.fit(X, y)
    assert tree_thresholds(teacher, X.shape[1]) is None
    clf = student(teacher=teacher, module__numeric_encoding="ple", module__bins="teacher",
                  module__n_bins=8).fit(X, y)
    for edges in clf.encoding_["bins"]:
        assert 3 <= len(edges) <= 9 and np.all(np.diff(edges) > 0)
    with pytest.raises(InvalidParameterError, match="needs a tree teacher"):
        student(alpha=1, module__numeric_encoding="ple", module__bins="teacher").fit(X, y)


def _assert_edges_from(estimator, thresholds):
    """Every inner edge of every numeric column is one of that column's thresholds."""
    columns = estimator.net_.module_.numeric_columns.tolist()
    for column, edges in zip(columns, estimator.encoding_["bins"], strict=True):
        inner = np.asarray(edges[1:-1], dtype=np.float32)
        assert len(inner) and np.isin(inner, thresholds[column].astype(np.float32)).all()


@pytest.mark.parametrize("given", [False, True])
def test_regression_teacher_bins_follow_its_predictions(given):
    X, y = make_regression(300, 5, n_informative=5, noise=1.0, random_state=0)
    X = X.astype(np.float32)
    teacher = make_pipeline(StandardScaler(), KNeighborsRegressor(10)).fit(X, y)
    assert tree_thresholds(teacher, X.shape[1]) is None  # like LightGBM's or XGBoost's
    predictions = teacher.predict(X)
    # the shallow trees fit the teacher's predictions, as a classifier's fit its probabilities
    expected = output_thresholds(X, predictions[:, None], 8)
    student = DistilledRegressor(None if given else teacher, module="tabular-mlp",
                                 module__numeric_encoding="ple", module__bins="teacher",
                                 module__n_bins=8, max_epochs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no column falls back to quantiles
        student.fit(X, y, teacher_predictions=predictions if given else None)
    _assert_edges_from(student, expected)


@pytest.mark.filterwarnings("ignore:The teacher.s accuracy")
def test_teacher_bins_say_which_columns_fall_back_to_quantiles(table):
    X, y = table
    # a tree that reads one column: the other numeric columns cannot follow the teacher
    split = 0
    one_column = np.where(np.arange(X.shape[1]) == split, X, 0)
    teacher = DecisionTreeClassifier(max_depth=4, random_state=0).fit(one_column, y)
    with pytest.warns(UserWarning, match=r"the teacher DecisionTreeClassifier splits 5 of the 6 "
                                         r"numeric columns nowhere .*quantile bins") as record:
        clf = student(teacher=teacher, module__numeric_encoding="ple",
                      module__bins="teacher").fit(X, y)
    message = next(str(w.message) for w in record if "bins" in str(w.message))
    numeric = clf.net_.module_.numeric_columns.tolist()
    assert str([c for c in numeric if c != split]) in message
    quantile = student(teacher=teacher, module__numeric_encoding="ple").fit(X, y)
    for column, edges, fallback in zip(numeric, clf.encoding_["bins"],
                                       quantile.encoding_["bins"], strict=True):
        assert (edges == fallback) == (column != split)


@pytest.mark.parametrize("bagging", [BaggingClassifier, BaggingRegressor])
def test_bagged_members_thresholds_are_filed_under_the_ensembles_columns(table, bagging):
    X, y = table
    teacher = bagging(DecisionTreeRegressor(max_depth=3, random_state=0), n_estimators=6,
                      max_features=0.5, random_state=0).fit(X, y)
    thresholds = tree_thresholds(teacher, X.shape[1])
    expected = [[] for _ in range(X.shape[1])]
    for member, features in zip(teacher.estimators_, teacher.estimators_features_, strict=True):
        split = member.tree_.feature >= 0  # the member's columns are a subset of X's
        for f, t in zip(member.tree_.feature[split], member.tree_.threshold[split],
                        strict=True):
            expected[features[f]].append(t)
    for found, wanted in zip(thresholds, expected, strict=True):
        np.testing.assert_array_equal(np.sort(found), np.sort(wanted))


def test_the_fitted_encoding_travels(table):
    X, y = table
    teacher = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    clf = student(teacher=teacher, module__categorical=[6], module__numeric_encoding="ple",
                  module__bins="teacher").fit(X, y)
    expected = clf.predict_proba(X)
    for copy in (pickle.loads(pickle.dumps(clf)), clf.without_teacher()):
        assert copy.encoding_ == clf.encoding_
        np.testing.assert_allclose(copy.predict_proba(X), expected, rtol=1e-6)
    twin = clone(clf)
    assert not hasattr(twin, "encoding_")
    assert twin.fit(X, y).encoding_ == clf.encoding_


def test_warm_start_keeps_the_encoding(table):
    X, y = table
    clf = student(alpha=1, module__numeric_encoding="ple", warm_start=True).fit(X, y)
    bins = clf.encoding_["bins"]
    clf.fit(X[:100] * 3, y[:100])
    assert clf.encoding_["bins"] == bins


def test_onnx_pipeline_with_strings_and_missing_values():
    pd = pytest.importorskip("pandas")
    skl2onnx = pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OrdinalEncoder

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.randn(300), "b": rng.randn(300),
                          "city": rng.choice(["x", "y", "z"], 300).astype(object)})
    frame.loc[::7, "a"] = np.nan
    frame.loc[::11, "city"] = np.nan
    y = (frame.b > 0).astype(int) + (frame.city == "x")
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["a", "b"]),
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                               encoded_missing_value=-1), ["city"]),
    ])
    model = make_pipeline(prep, student(alpha=1, module__categorical=[2])).fit(frame, y)
    onx = skl2onnx.to_onnx(model, initial_types=[
        ("a", FloatTensorType([None, 1])), ("b", FloatTensorType([None, 1])),
        ("city", StringTensorType([None, 1]))], options={id(model[-1]): {"zipmap": False}})
    test = frame.copy()
    test.loc[:4, "city"] = "unseen"
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {
        "a": test[["a"]].to_numpy(np.float32), "b": test[["b"]].to_numpy(np.float32),
        "city": test[["city"]].fillna("").to_numpy(str)})
    np.testing.assert_array_equal(labels, model.predict(test))
    np.testing.assert_allclose(proba, model.predict_proba(test), atol=1e-5)


class Scaled(torch.nn.Module):
    """A user's data-aware student: divides each column by its training maximum."""

    def __init__(self, n_features: int, n_classes: int, scale=None) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.linear = torch.nn.Linear(n_features, n_classes)

    @classmethod
    def fit_encoding(cls, X, y, *, teacher=None, teacher_logits=None, **options):
        return {"scale": np.abs(X).max(axis=0).tolist()}

    def forward(self, x):
        return self.linear(x / self.scale)


def test_a_module_class_gets_its_shape_and_its_encoding(table):
    X, y = table
    clf = DistilledClassifier(module=Scaled, alpha=1, max_epochs=1, random_state=0).fit(X, y)
    assert clf.net_.module_.linear.in_features == X.shape[1]
    assert clf.net_.module_.linear.out_features == 3
    np.testing.assert_allclose(clf.net_.module_.scale.numpy(), np.abs(X).max(axis=0))


def test_a_plugin_model_can_fit_its_encoding(table, fresh_plugins):
    X, y = table
    seen = []

    def factory(n_features, n_classes, scale=None):
        return Scaled(n_features, n_classes, scale)

    def fit_encoding(X, y, *, teacher=None, teacher_logits=None, **options):
        seen.append((len(X), teacher is not None, teacher_logits.shape))
        return {"scale": [2.0] * X.shape[1]}

    factory.fit_encoding = fit_encoding

    class Plugin:
        @staticmethod
        def skkd_register_models(register):
            register("scaled", factory)

    from skkd.hookspecs import hookimpl

    Plugin.skkd_register_models = staticmethod(hookimpl(Plugin.skkd_register_models))
    fresh_plugins.register(Plugin(), name="scaled-plugin")
    teacher = RandomForestClassifier(10, random_state=0).fit(X, y)
    clf = DistilledClassifier(teacher, module="scaled", max_epochs=1, random_state=0)
    clf.fit(X, y)
    assert seen == [(len(X), True, (len(X), 3))]
    assert clf.encoding_ == {"scale": [2.0] * X.shape[1]}
    assert math.isclose(float(clf.net_.module_.scale[0]), 2.0)


# ------------------------------------------------- traps closed by mechanism (issue 28)


def test_only_0_1_columns_are_fed_as_they_are(table):
    X, y = table
    years = np.where(X[:, 5] > 0, 2020, 2019)  # two values, not 0/1: a number to embed
    X = np.column_stack([X, years, -1 + 2 * X[:, 5]]).astype(np.float32)
    clf = student(module__categorical=[6], alpha=1).fit(X, y)
    assert clf.encoding_["passthrough"] == [5]
    assert clf.net_.module_.numeric_columns.tolist() == [0, 1, 2, 3, 4, 7, 8]
    # a column given as passthrough is the user's choice, whatever it holds
    given = student(module__categorical=[6], module__passthrough=[7], alpha=1).fit(X, y)
    assert given.net_.module_.passthrough_columns.tolist() == [7]
    # a constant column that is not 0/1 is a number too: one piecewise-linear bin
    X[:, 7] = 2020
    ple = student(module__categorical=[6], module__numeric_encoding="ple", alpha=1).fit(X, y)
    assert ple.encoding_["bins"][5] == [2020.0, 2021.0]


def test_boolean_masks_are_masks(table):
    X, y = table
    mask = np.arange(X.shape[1]) == 6
    clf = student(module__categorical=mask, module__passthrough=(np.arange(7) == 5).tolist(),
                  alpha=1).fit(X, y)
    module = clf.net_.module_
    assert module.categorical_columns.tolist() == [6]
    assert module.passthrough_columns.tolist() == [5]
    assert clf.encoding_.keys() == {"categories", "bins"}
    assert clf.encoding_["categories"] == [[0, 1, 2, 3]]
    # two columns, a mask read as indices would name both
    assert TabularMLP(2, 2, categorical=[False, True], cardinalities=[3],
                      numeric_encoding="periodic").categorical_columns.tolist() == [1]
    with pytest.raises(ValueError, match=r"module__categorical is a boolean mask of 3 values, "
                                         r"but X has 7 features"):
        student(module__categorical=[False, False, True], alpha=1).fit(X, y)


def test_category_tables_hold_the_codes_seen_and_one_unknown_row(table):
    X, y = table
    X = X.copy()
    X[0, 6] = 1_000_000  # one large code: one more row, not a million
    clf = student(module__categorical=[6], alpha=1).fit(X, y)
    module = clf.net_.module_
    assert tuple(module.categories.weight.shape) == (6, 16)
    assert sum(p.numel() for p in module.parameters()) < 200_000
    assert clf.encoding_["categories"] == [[0, 1, 2, 3, 1_000_000]]
    rows = np.repeat(X[:1], 6, axis=0)
    rows[:, 6] = [-1, 4, 999_999, 1_000_001, 1_000_000, 2]
    proba = clf.predict_proba(rows)
    for row in (1, 2, 3):  # codes never seen in training: the unknown row, as -1
        np.testing.assert_allclose(proba[row], proba[0], rtol=1e-6)
    assert not np.allclose(proba[4], proba[0]) and not np.allclose(proba[5], proba[0])
    # codes 0 .. k-1 keep the direct lookup
    assert student(module__categorical=[6], alpha=1).fit(*table).net_.module_._sparse == ()


def test_codes_outside_the_seen_ones_share_the_unknown_row_by_hand():
    model = TabularMLP(1, 2, categorical=[0], categories=[[2, 7, 1_000_000]], d_embedding=2,
                       hidden_sizes=()).eval()
    x = torch.tensor([[2.0], [7.0], [1e6], [-1.0], [3.0], [7.5], [1e6 + 1], [float("nan")]])
    with torch.no_grad():
        out = model(x)
        unknown = model.backbone(model.categories.weight[3:4])[0]
    for row in range(3, 8):
        torch.testing.assert_close(out[row], unknown)
    for row in range(3):
        assert not torch.allclose(out[row], unknown)
    assert list(model.state_dict()) == list(
        TabularMLP(1, 2, categorical=[0], cardinalities=[3], hidden_sizes=()).state_dict())


def test_fractional_codes_are_the_unknown_category(table):
    X, y = table
    clf = student(module__categorical=[6], alpha=1).fit(X, y)
    rows = np.repeat(X[:1], 4, axis=0)
    rows[:, 6] = [-1, 1.5, 2.999, 1]
    proba = clf.predict_proba(rows)
    np.testing.assert_allclose(proba[1], proba[0], rtol=1e-6)
    np.testing.assert_allclose(proba[2], proba[0], rtol=1e-6)
    assert not np.allclose(proba[3], proba[0])


@pytest.mark.parametrize("options, match", [
    ({"module__d_embedding": 0}, r"module__d_embedding=0 must be an integer >= 1"),
    ({"module__n_frequencies": 0}, r"module__n_frequencies=0 must be an integer >= 1"),
    ({"module__d_embedding": 2.5}, r"module__d_embedding=2.5 must be an integer >= 1"),
    ({"module__frequency_scale": 0.0}, r"module__frequency_scale=0.0 must be a finite"),
    ({"module__numeric_encoding": "ple", "module__n_bins": 1},
     r"module__n_bins=1 must be (an integer >= 2|at least 2)"),
    ({"module__categorical": [6], "module__cardinalities": [0]},
     r"module__cardinalities=0 must be an integer >= 1"),
    ({"module__hidden_sizes": (0,)}, r"module__hidden_sizes must be a sequence of integer"),
])
def test_widths_are_at_least_one(table, options, match):
    X, y = table
    with pytest.raises((InvalidParameterError, ValueError), match=match):
        student(alpha=1, **options).fit(X, y)


def test_onnx_export_reads_codes_as_the_student_does(table):
    pytest.importorskip("onnxruntime")
    from skkd.export import compare_onnx, to_onnx

    X, y = table
    X = X.copy()
    X[:, 6] = X[:, 6] * 10 + 5  # codes 5, 15, 25, 35: looked up through a search
    clf = student(module__categorical=[6], alpha=1).fit(X, y)
    assert clf.net_.module_._sparse
    rows = X[:40].copy()
    rows[::4, 6] = [-1, 6, 15.5, 1e6, 25, 0, 35, 5, 100, 7][: len(rows[::4])]
    assert compare_onnx(clf, to_onnx(clf, zipmap=False), rows)["ok"]


def test_codes_seen_travel_with_the_student(table, tmp_path):
    from skkd.persistence import load_student, save_student

    X, y = table
    X = X.copy()
    X[:, 6] = X[:, 6] * 10 + 5  # codes 5, 15, 25, 35
    clf = student(module__categorical=[6], alpha=1).fit(X, y)
    rows = X[:20].copy()
    rows[::2, 6] = 6  # not a code seen in training
    expected = clf.predict_proba(rows)
    save_student(clf, tmp_path / "student.skkd")
    for copy in (pickle.loads(pickle.dumps(clf)), load_student(tmp_path / "student.skkd")):
        assert copy.encoding_["categories"] == [[5, 15, 25, 35]]
        np.testing.assert_allclose(copy.predict_proba(rows), expected, rtol=1e-6)


def test_hints_reach_a_piecewise_linear_student(table):
    """The hints' probe student learns its bins from a sample: the default 'ple' needs them."""
    X, y = table
    teacher = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 16), torch.nn.ReLU(),
                                  torch.nn.Linear(16, 3))
    clf = student(teacher=teacher, hints=[("backbone.layers.0", "1")]).fit(X, y)
    assert clf.net_.module_.numeric_encoding == "ple" and clf.score(X, y) > 0
