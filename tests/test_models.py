"""The paper's architecture: exact parameter counts, the summary table and the JSON round trip."""

import json

import pytest
import torch

from realtime_fer.architectures import (
    count_macs,
    count_parameters,
    create_model,
    list_models,
    model_from_json,
    model_to_json,
    summary,
)


def test_paper_model_has_the_papers_parameter_counts():
    counts = count_parameters(create_model("paper"))
    assert counts == {"total": 4_478_727, "trainable": 4_474_759, "non_trainable": 3_968}


def test_paper_model_layers_match_table_2():
    model = create_model("paper")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [
        (64, (3, 3)),
        (128, (5, 5)),
        (512, (3, 3)),
        (512, (3, 3)),
    ]
    linears = [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [256, 512, 7]
    dropouts = {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}
    assert dropouts == {0.25}
    assert model(torch.zeros(2, 1, 48, 48)).shape == (2, 7)


def test_macs_of_the_paper_model_match_a_count_by_hand():
    convs = 48 * 48 * 64 * 9 + 24 * 24 * 128 * 64 * 25 + 12 * 12 * 512 * 128 * 9 + 6 * 6 * 512 * 512 * 9
    dense = 4608 * 256 + 256 * 512 + 512 * 7
    assert count_macs(create_model("paper")) == convs + dense
    assert "Multiply-accumulates per face: 290,475,520" in summary(create_model("paper"))


@pytest.mark.parametrize("name", ["compact", "vgg"])
def test_registered_models_classify_48x48_faces_and_round_trip(name):
    model = create_model(name).eval()
    rebuilt = model_from_json(json.loads(json.dumps(model_to_json(model)))).eval()
    rebuilt.load_state_dict(model.state_dict())
    faces = torch.rand(2, 1, 48, 48)
    assert model(faces).shape == (2, 7)
    assert torch.equal(model(faces), rebuilt(faces))


def test_summary_shows_shapes_and_totals():
    table = summary(create_model("paper"))
    assert "(None, 64, 48, 48)" in table
    assert "(None, 512, 3, 3)" in table
    assert "Total params: 4,478,727" in table
    assert "Trainable params: 4,474,759" in table
    assert "Non-trainable params: 3,968" in table


def test_json_round_trip_rebuilds_the_same_network():
    model = create_model("paper", dropout=0.3).eval()
    spec = json.loads(json.dumps(model_to_json(model)))
    rebuilt = model_from_json(spec).eval()
    rebuilt.load_state_dict(model.state_dict())
    faces = torch.rand(3, 1, 48, 48)
    assert torch.equal(model(faces), rebuilt(faces))
    assert spec["architecture"] == "paper"
    assert spec["config"] == {"dropout": 0.3}


def test_unknown_model_and_bad_spec_are_clear_errors():
    assert "paper" in list_models()
    with pytest.raises(KeyError, match="unknown architecture 'vgg99'"):
        create_model("vgg99")
    with pytest.raises(ValueError, match="not a realtime-fer/1 model spec"):
        model_from_json({"architecture": "paper"})
