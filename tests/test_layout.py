import pytest
import torch

from text2lora.data.layout import LayoutMismatchError, LoraLayout


def make_state(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight": torch.randn(2, 8, generator=g),
        "base_model.model.bert.encoder.layer.0.attention.self.query.lora_B.weight": torch.randn(8, 2, generator=g),
        "base_model.model.bert.encoder.layer.1.attention.self.value.lora_A.weight": torch.randn(2, 8, generator=g),
        "base_model.model.bert.encoder.layer.1.attention.self.value.lora_B.weight": torch.randn(8, 2, generator=g),
        "base_model.model.classifier.weight": torch.randn(2, 8, generator=g),
        "base_model.model.classifier.bias": torch.randn(2, generator=g),
    }


def test_flatten_unflatten_round_trip_is_exact():
    state = make_state()
    layout = LoraLayout.from_state_dict(state, token_size=5)
    vector = layout.flatten(state)
    assert vector.shape == (layout.num_params,) == (16 * 5 + 2,)
    back = layout.unflatten(vector)
    assert list(back) == list(state)
    for key in state:
        assert torch.equal(back[key], state[key])


def test_tokens_round_trip_and_segment_ids():
    state = make_state()
    layout = LoraLayout.from_state_dict(state, token_size=5)
    vectors = torch.stack([layout.flatten(make_state(s)) for s in range(3)])
    tokens = layout.to_tokens(vectors)
    # 16-element tensors need 4 tokens of 5 (last padded); the bias needs 1.
    assert tokens.shape == (3, 5 * 4 + 1, 5)
    assert torch.equal(layout.from_tokens(tokens), vectors)
    assert tokens[0, 3, 1:].abs().sum() == 0  # padding of the first segment's last token
    ids = layout.token_ids
    assert ids["kind"].tolist() == [0] * 4 + [1] * 4 + [0] * 4 + [1] * 4 + [2] * 4 + [2]
    assert ids["layer"][:4].tolist() == [1] * 4 and ids["layer"][8].item() == 2  # head has layer -1 -> index 0
    assert ids["position"][:4].tolist() == [0, 1, 2, 3]


def test_save_load_and_mismatch_errors(tmp_path):
    state = make_state()
    layout = LoraLayout.from_state_dict(state, token_size=4)
    layout.save(tmp_path / "layout.json")
    assert LoraLayout.load(tmp_path / "layout.json") == layout
    bad = dict(state)
    bad["base_model.model.classifier.bias"] = torch.zeros(3)
    with pytest.raises(LayoutMismatchError, match="shape"):
        layout.flatten(bad)
    missing = dict(state)
    missing.pop("base_model.model.classifier.bias")
    with pytest.raises(LayoutMismatchError, match="missing"):
        layout.check(missing)
    with pytest.raises(LayoutMismatchError):
        layout.unflatten(torch.zeros(layout.num_params + 1))
