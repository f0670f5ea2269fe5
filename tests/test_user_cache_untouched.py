"""Runs last (file order): the whole suite left the user's caches exactly as they were (tests/conftest.py points
every cache into a temporary folder)."""

import os

from conftest import TEST_HOME, USER_CACHES, _cache_listing


def test_caches_point_into_the_test_folder():
    from huggingface_hub import constants

    gradio_files = os.environ["GRADIO_TEMP_DIR"]
    for path in (constants.HF_HOME, constants.HF_HUB_CACHE, os.environ["XDG_CACHE_HOME"], gradio_files):
        assert os.path.realpath(path).startswith(os.path.realpath(TEST_HOME) + os.sep), path


def test_the_users_caches_are_untouched():
    for path, before in USER_CACHES.items():
        after = _cache_listing(path)
        added = sorted(set(after) - set(before))
        changed = sorted(k for k in set(after) & set(before) if after[k] != before[k])
        assert not added and not changed, f"{path}: added {added[:5]}, changed {changed[:5]}"
