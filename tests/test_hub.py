import os

import pytest

from text2lora.hub import DEFAULT_BASE_MODEL, OfflineModelError, packaged_model_path, resolve_model


def test_packaged_hub_id_resolves_to_the_local_copy():
    path = resolve_model(DEFAULT_BASE_MODEL)
    assert os.path.isdir(path) and os.path.exists(os.path.join(path, "config.json"))
    assert path == str(packaged_model_path(DEFAULT_BASE_MODEL))


def test_local_directory_is_returned_as_is(tmp_path):
    assert resolve_model(str(tmp_path)) == str(tmp_path)


def test_unknown_hub_id_offline_says_so(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OfflineModelError, match="cannot be reached"):
        resolve_model("someone/not-a-cached-model-xyz")


def test_bad_model_id():
    with pytest.raises(ValueError):
        resolve_model("  ")


def test_zoo_hub_id_offline_is_one_clear_error(monkeypatch):
    from huggingface_hub import constants

    from text2lora.data.zoo import Zoo

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match="could not be fetched from the Hub"):
        Zoo.load("someone/no-such-zoo-xyz")
