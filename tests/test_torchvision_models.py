"""torchvision architectures by name, never with downloaded weights."""

import pytest
import torch

from skkd import DistilledClassifier
from skkd.plugins import get_model


def test_resnet18_as_a_student_on_one_channel_images(digits):
    X_train, X_test, y_train, _ = digits
    clf = DistilledClassifier(module="torchvision:resnet18", max_epochs=1, batch_size=64,
                              random_state=0).fit(X_train[:256], y_train[:256])
    assert clf.predict_proba(X_test[:5]).shape == (5, 10)
    network = clf.net_.module_.network
    assert network.fc.out_features == 10


def test_input_shape_and_other_channel_counts():
    model = get_model("torchvision:resnet18")(2 * 16 * 16, 3, input_shape=(2, 16, 16))
    assert model(torch.zeros(4, 2 * 16 * 16)).shape == (4, 3)
    with pytest.raises(ValueError, match=r"input_shape=\(1, 8, 8\) holds 64 values but X has 50"):
        get_model("torchvision:resnet18")(50, 3, input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="module__input_shape"):
        get_model("torchvision:resnet18")(50, 3)


def test_no_pretrained_weights_and_unknown_names():
    with pytest.raises(ValueError, match="never downloads pretrained weights"):
        get_model("torchvision:resnet18")(64, 10, weights="DEFAULT")
    with pytest.raises(ValueError, match="Unknown torchvision classification model 'resnet7'.*"
                                         "resnet18"):
        get_model("torchvision:resnet7")(64, 10)


def test_a_torchvision_model_is_a_teacher_too(digits):
    X_train, _, y_train, _ = digits
    teacher = get_model("torchvision:resnet18")(64, 10).eval()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    with pytest.warns(UserWarning, match="near chance"):  # an untrained teacher
        DistilledClassifier(teacher=teacher, max_epochs=1).fit(X_train[:128], y_train[:128])
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
