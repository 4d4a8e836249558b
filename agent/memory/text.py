"""Text rules of the Memory Atlas, deterministic and free of I/O (see docs/memory.md):

- `dedup_key(text)` / `is_duplicate(a, b)`: the no-duplicates rule every add goes through;
- `reply_uses_node(reply, label)`: when an injected node counts as used by a reply (reinforcement);
- `strip_markdown(text)` and `shorten_label(text)`: what "Promote to Atlas" pre-fills.
"""

from __future__ import annotations

import re
import unicodedata

# --- words --------------------------------------------------------------------------------------------
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces, ends trimmed: how a label is stored
    and shown to the model."""
    return " ".join((text or "").split())


def normalise(text: str) -> str:
    """Compatibility-normalised (NFKC), case-folded words joined by single spaces; punctuation, Markdown
    marks and spacing dropped. "**Likes** tea!" and "likes  tea" normalise to the same "likes tea"."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text or "").casefold()))


def words(text: str) -> set[str]:
    return set(normalise(text).split())


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the two texts' word sets (see `words`): shared / all distinct words, 0..1.
    Blind to word order: a dream's consolidation uses it to find pairs worth asking a model about,
    never to decide that two facts are one."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


# --- the no-duplicates rule ------------------------------------------------------------------------------
# Words that never change what a fact says: two labels that differ only in these are one fact.
_ARTICLES = frozenset({"a", "an", "the"})
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "′": "'"})
# Contractions written out, so "doesn't" and "does not" are one wording (specials first: "won't" is not "wo not").
_CONTRACTIONS = ((re.compile(r"\bcan't\b"), "can not"), (re.compile(r"\bcannot\b"), "can not"),
                 (re.compile(r"\bwon't\b"), "will not"), (re.compile(r"\bshan't\b"), "shall not"),
                 (re.compile(r"([^\W_])n't\b"), r"\1 not"))


def dedup_key(text: str) -> str:
    """The text the no-duplicates rule compares: two labels are the same fact exactly when their keys
    are equal (see `is_duplicate`). The words of the label in their order, Unicode NFKC and case-folded,
    contractions written out ("doesn't" -> "does not"), articles (a, an, the) dropped; punctuation,
    Markdown marks and spacing do not count. A label without words (emoji) is compared as written.

    The Atlas keeps these keys in a local index (local migration v10, `agent.memory.atlas`): changing this
    function needs a migration that clears the stored keys."""
    folded = unicodedata.normalize("NFKC", text or "").casefold().translate(_APOSTROPHES)
    for pattern, replacement in _CONTRACTIONS:
        folded = pattern.sub(replacement, folded)
    tokens = _WORD.findall(folded)
    kept = [t for t in tokens if t not in _ARTICLES] or tokens  # "The" alone is still a word
    if kept:
        return " ".join(kept)
    raw = one_line(text).casefold()
    return "=" + raw if raw else ""  # "=" never starts a key made of words


def is_duplicate(a: str, b: str) -> bool:
    """The Atlas's no-duplicates rule: `a` and `b` say the same thing when their `dedup_key`s are equal —
    the same words in the same order, whatever the case, punctuation, spacing, Markdown, contractions or
    articles. So a rephrasing that only changes those is one fact, and everything else is two:

    - word order: "Prefers tea over coffee" is not "Prefers coffee over tea";
    - a number: "budget 300 euros" is not "budget 400 euros";
    - a negation: "likes spicy food" is not "does not like spicy food" (nor "doesn't like…");
    - any other word, plurals included ("Likes cat" / "Likes cats"): no stemming, no synonyms.

    The rule would rather keep a near-duplicate, which the user can see and delete (and a dream's
    consolidation proposes merging), than silently drop a different fact.
    """
    key = dedup_key(a)
    return bool(key) and key == dedup_key(b)


# --- "does the reply use this node?" ---------------------------------------------------------------------
_STOPWORD_TEXT = """a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its just me more most my no nor not now of off
    on once only or other our out over own same she should so some such than that the their them then
    there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours user users agent"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def content_words(text: str) -> set[str]:
    """Lower-cased words of 3+ characters, minus stop words, with a plural/3rd-person 's' removed."""
    found = set()
    for word in _WORD.findall((text or "").lower()):
        if len(word) < 3 or word in _STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.add(word)
    return found


def reply_uses_node(reply: str, label: str) -> bool:
    """The deterministic word-overlap test for "the assistant's reply uses this memory node".

    Both texts are reduced to content words (see `content_words`: lower case, 3+ letters, common
    English stop words and the generic words user/agent dropped, a trailing plural 's' removed).
    The reply uses the node when it contains at least half of the label's distinct content words,
    and at least two of them if the label has two or more (so one shared common word is not enough).
    A label with no content words is never considered used.

    Example: label "Prefers Python for data work" -> {prefer, python, data, work}; a reply mentioning
    "python" and "data" uses it, a reply mentioning only "python" does not.
    """
    label_words = content_words(label)
    if not label_words:
        return False
    shared = len(label_words & content_words(reply))
    return shared >= min(2, len(label_words)) and shared * 2 >= len(label_words)


# --- promote: keep the fact, not the message ----------------------------------------------------------------
_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_QUOTE = re.compile(r"^\s{0,3}(>\s?)+")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_CODE = re.compile(r"`+([^`]+?)`+")
_EMPHASIS = (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"),
             re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])"),
             re.compile(r"(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])"))
_END_PUNCTUATION = ".!?:;,…"


def _inline(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _CODE.sub(r"\1", text)
    for pattern in _EMPHASIS:
        text = pattern.sub(lambda m: m.group(m.lastindex), text)
    return text


def strip_markdown(text: str) -> str:
    """The plain text of a Markdown reply, on one line: fence lines, rules and table borders dropped
    (the code inside a fence is kept), heading/quote/list marks removed, links reduced to their text,
    emphasis and inline-code marks removed. A heading or list item that does not end in punctuation
    gets ":" (heading) or ";" (item) so the joined line still reads as separate statements."""
    pieces: list[str] = []
    for raw in (text or "").splitlines():
        if _FENCE.match(raw) or _RULE.match(raw) or _TABLE_RULE.match(raw):
            continue
        line, mark = raw, ""
        if _HEADING.match(line):
            line, mark = _HEADING.sub("", line).rstrip().rstrip("#"), ":"
        line = _QUOTE.sub("", line)
        if _BULLET.match(line):
            line, mark = _BULLET.sub("", line), ";"
        if line.strip().startswith("|"):
            line = " ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        line = one_line(_inline(line))
        if not line:
            continue
        if mark and line[-1] not in _END_PUNCTUATION:
            line += mark
        pieces.append(line)
    if pieces and pieces[-1][-1] in ":;":
        pieces[-1] = pieces[-1][:-1]
    return one_line(" ".join(pieces))


def shorten_label(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start cut at a word boundary (when one is
    near the end) plus an ellipsis, `limit` characters at most."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > 0 and space >= limit - 200:  # do not throw away a long unbroken tail (code, a URL) for a tidy cut
        cut = cut[:space]
    return cut.rstrip() + "…"
