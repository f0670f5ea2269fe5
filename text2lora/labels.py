"""Names of a generated classifier's two labels: label 1 names what the description asks for, label 0 its complement.

Label 1 comes from the seen task the description was snapped to (its ``label`` in the task suite, e.g. ``sst2_positive``
-> "positive") or, when there is none, from the description by a small rule (:func:`label_from_description`):
"detect spam" -> "spam", "is this text about sports?" -> "sports". Label 0 is its complement (:func:`complement`):
"not spam"; "not clickbait" -> "clickbait". When the rule finds no short name, the labels are "other" and "match".
"""

import re

DEFAULT_LABELS = ("other", "match")
MAX_LABEL_WORDS = 4

# Leading words that ask for the task rather than name the class (one is stripped at a time, longest first).
_LEADING = (
    "please", "detect", "classify", "identify", "find", "spot", "flag", "recognize", "recognise", "label", "tag",
    "determine", "decide", "check", "tell", "predict", "catch", "filter", "select", "mark", "pick out", "pick",
    "look for", "search for", "is this", "is it", "is the", "is there", "are these", "are there", "does this",
    "does the", "does it", "do these", "whether", "if", "which", "texts that are", "text that is", "those", "the", "a",
    "an", "any", "all", "about", "as", "for", "of", "on", "in", "with", "that", "these", "this", "it", "is", "are",
    "contain", "contains", "express", "expresses", "show", "shows", "mention", "mentions", "discuss", "discusses",
    "talk about", "talks about", "the writer", "the author", "the user", "the speaker", "writer", "author", "user",
    "speaker",
)
# Kinds of text named before or after the class ("tweets", "movie reviews"), stripped at either end.
_KINDS = (
    "text", "texts", "sentence", "sentences", "tweet", "tweets", "message", "messages", "post", "posts", "email",
    "emails", "mail", "mails", "comment", "comments", "review", "reviews", "movie review", "movie reviews",
    "product review", "product reviews", "news", "news article", "news articles", "news headline", "news headlines",
    "article", "articles", "headline", "headlines", "document", "documents", "question", "questions", "query",
    "queries", "request", "requests", "utterance", "utterances", "excerpt", "excerpts", "passage", "passages",
    "story", "stories", "content", "one", "ones", "example", "examples", "item", "items", "entry", "entries",
    "mention", "mentions", "detection", "classification", "identification", "recognition", "detector", "classifier",
)
# Words that name a family of classes, not one class: "classify sentiment" does not say which sentiment is label 1.
_CATEGORIES = {"sentiment", "topic", "topics", "emotion", "emotions", "intent", "intents", "stance", "language",
               "category", "categories", "class", "classes", "type", "types", "polarity", "label", "labels"}
_TRAILING = (" in", " from", " of", " on", " with", " or not", " and", " or")


def normalize_label(name):
    """A task label as a short lowercase name: "AddToPlaylist" -> "add to playlist", "not-hate" -> "not hate",
    "sci_tech" -> "sci tech" (punctuation but "/" and "," dropped, spaces collapsed)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name))
    text = re.sub(r"[_\-]+", " ", text)
    text = re.sub(r"[^\w\s/,']+", " ", text)
    return " ".join(text.lower().split())


def complement(name):
    """Label 0 for the label-1 name ``name``: "not <name>", or ``name`` without its "not"/"non" ("not clickbait" ->
    "clickbait")."""
    for prefix in ("not ", "non "):
        if name.startswith(prefix) and name[len(prefix):].strip():
            return name[len(prefix):].strip()
    return f"not {name}"


def _strip_words(text, words, at_start):
    """``text`` without one of ``words`` (longest first) as its first (``at_start``) or last word(s), and whether one
    was removed."""
    for word in sorted(words, key=len, reverse=True):
        if at_start and (text == word or text.startswith(word + " ")):
            return text[len(word):].strip(), True
        if not at_start and (text == word or text.endswith(" " + word)):
            return text[: len(text) - len(word)].strip(), True
    return text, False


def label_from_description(description):
    """The label-1 name a description asks for, or ``None`` when it has no short one.

    Rule: lowercase; drop punctuation; then repeatedly strip leading request words ("detect", "classify", "is this",
    articles ...) and kinds of text at either end ("tweets", "movie reviews", "news" ...) and dangling "in/of/from";
    the rest is the name if it has 1 to 4 words and is not only a family of classes ("sentiment", "topic").
    "detect spam" -> "spam"; "find sports news" -> "sports"; "detect angry tweets" -> "angry";
    "is this text about sports?" -> "sports"; "classify sentiment" -> ``None``.
    """
    if not isinstance(description, str):
        return None
    text = " ".join(re.sub(r"[^\w\s'/-]+", " ", description.lower()).replace("-", " ").split())
    changed = True
    while changed and text:
        text, lead = _strip_words(text, _LEADING, at_start=True)
        text, kind_start = _strip_words(text, _KINDS, at_start=True)
        text, kind_end = _strip_words(text, _KINDS, at_start=False)
        text, tail = _strip_words(text, [t.strip() for t in _TRAILING], at_start=False)
        changed = lead or kind_start or kind_end or tail
    words = text.split()
    if not words or len(words) > MAX_LABEL_WORDS or set(words) <= _CATEGORIES:
        return None
    return text


def check_labels(labels, name="labels"):
    """``labels`` as a ``[name0, name1]`` list: exactly two distinct non-empty strings (else ``ValueError``)."""
    if isinstance(labels, str) or not isinstance(labels, (list, tuple)):
        raise ValueError(f"{name} takes two names, label 0 then label 1 (e.g. [\"not spam\", \"spam\"]); "
                         f"got {labels!r}.")
    if len(labels) != 2:
        raise ValueError(f"{name} takes exactly two names, label 0 then label 1 (e.g. \"not spam\" \"spam\"); got "
                         f"{len(labels)}: {list(labels)!r}.")
    names = []
    for value in labels:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be non-empty text, got {value!r}.")
        names.append(" ".join(value.split()))
    if names[0] == names[1]:
        raise ValueError(f"{name} must be two different names, got {names[0]!r} twice.")
    return names


def suite_task_label(task):
    """The normalized ``label`` of a task of the shipped suite, or ``None`` for a task name the suite does not have
    (a user-trained generator's tasks)."""
    from .data.tasks import task_info

    if not isinstance(task, str):
        return None
    try:
        label = task_info(task).get("label")
    except ValueError:
        return None
    label = normalize_label(label) if label else ""
    return label or None


def label_names(description=None, task=None):
    """``[name0, name1]`` for an adapter: from the suite label of the seen ``task`` it was snapped to when the suite
    has that task, else from ``description`` (:func:`label_from_description`), else :data:`DEFAULT_LABELS`."""
    name = suite_task_label(task) if task is not None else None
    if name is None:
        name = label_from_description(description)
    if name is None:
        return list(DEFAULT_LABELS)
    return [complement(name), name]


def label_maps(labels):
    """``(id2label, label2id)`` of ``[name0, name1]`` as written to config files (string ids, as in config.json)."""
    id2label = {str(i): name for i, name in enumerate(labels)}
    label2id = {name: i for i, name in enumerate(labels)}
    return id2label, label2id
