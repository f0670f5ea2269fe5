"""Label names: the rule that names label 1 after a description or a seen task, its complement, and the checks of
user-given names."""

import pytest

from text2lora.labels import (
    DEFAULT_LABELS,
    check_labels,
    complement,
    label_from_description,
    label_maps,
    label_names,
    normalize_label,
)


@pytest.mark.parametrize("description,name", [
    ("detect spam", "spam"),
    ("spot spam", "spam"),
    ("spam detection", "spam"),
    ("detect spam in emails", "spam"),
    ("detect angry tweets", "angry"),
    ("find sports news", "sports"),
    ("is this text about sports?", "sports"),
    ("Is this tweet sarcastic?", "sarcastic"),
    ("identify positive movie reviews", "positive"),
    ("identify clickbait headlines", "clickbait"),
    ("detect hate speech", "hate speech"),
    ("emails that are phishing", "phishing"),
    ("find texts in French", "french"),
    ("flag questions about a lost parcel", "lost parcel"),
    ("positive", "positive"),
    # No short name: a family of classes, or a long definition.
    ("classify sentiment", None),
    ("classify news topics", None),
    ("sentiment classification", None),
    ("A text is positive if it praises something the writer bought", None),
    ("detect the", None),
    ("   ", None),
])
def test_label_from_description(description, name):
    assert label_from_description(description) == name


def test_label_names_prefer_the_snapped_suite_task_and_fall_back_to_the_description():
    assert label_names("detect spam") == ["not spam", "spam"]
    assert label_names("whatever", "sst2_positive") == ["not positive", "positive"]
    assert label_names("detect spam", "davidson_hate_speech") == ["not hate speech", "hate speech"]
    assert label_names("x", "clickbait_not_clickbait") == ["clickbait", "not clickbait"]
    assert label_names("x", "tweet_irony_non_irony") == ["irony", "non irony"]
    assert label_names("x", "snips_addtoplaylist") == ["not add to playlist", "add to playlist"]
    assert label_names("x", "situation_search_rescue") == ["not search/rescue", "search/rescue"]
    # A user-trained generator's task that the suite does not have: the description names the label.
    assert label_names("detect good texts", "good_task") == ["not good", "good"]
    assert label_names("classify sentiment", "good_task") == list(DEFAULT_LABELS) == ["other", "match"]
    assert label_names(None) == ["other", "match"]


def test_normalize_and_complement():
    assert normalize_label("AddToPlaylist") == "add to playlist"
    assert normalize_label("EducationalInstitution") == "educational institution"
    assert normalize_label("not-hate") == "not hate"
    assert normalize_label("reverted_card_payment?") == "reverted card payment"
    assert normalize_label("utilities, energy or sanitation") == "utilities, energy or sanitation"
    assert complement("spam") == "not spam"
    assert complement("not clickbait") == "clickbait"
    assert complement("non irony") == "irony"
    assert complement("not") == "not not"


def test_check_labels_and_maps():
    assert check_labels(["not spam", " spam "]) == ["not spam", "spam"]
    assert check_labels(("ham", "spam")) == ["ham", "spam"]
    assert label_maps(["ham", "spam"]) == ({"0": "ham", "1": "spam"}, {"ham": 0, "spam": 1})
    for bad, message in [(["spam"], "exactly two names"), (["a", "b", "c"], "exactly two names"),
                         (["spam", "spam"], "two different names"), (["", "spam"], "non-empty"),
                         (["ham", "  "], "non-empty"), (["ham", 1], "non-empty"), ("spam", "two names"),
                         (None, "two names")]:
        with pytest.raises(ValueError, match=message):
            check_labels(bad)
    with pytest.raises(ValueError, match="^--labels takes exactly two names"):
        check_labels(["x"], "--labels")
