"""The Atlas's text rules: the no-duplicates test and what "Promote to Atlas" pre-fills."""

import pytest

from agent.memory.sources import parse_source
from agent.memory.text import dedup_key, is_duplicate, normalise, shorten_label, strip_markdown, word_overlap


@pytest.mark.parametrize("a, b", [
    ("Prefers tea over coffee", "prefers TEA over coffee!"),  # case and punctuation
    ("Prefers tea over coffee", "**Prefers** tea   over\ncoffee"),  # Markdown marks and spacing
    ("Ｌｉｋｅｓ tea", "Likes tea"),  # NFKC: full-width letters
    ("Prefers the window seat", "Prefers a window seat"),  # articles
    ("Has a dog named Rex", "Has dog named Rex."),
    ("Doesn't eat meat", "Does not eat meat"),  # contractions written out
    ("Can’t drink milk", "cannot drink milk"),  # ... with a typographic apostrophe too
    ("Won't fly", "will not fly"),
    ("🍵", "🍵"),  # no words at all: the text itself is compared
])
def test_duplicates(a, b):
    assert is_duplicate(a, b) and is_duplicate(b, a)
    assert dedup_key(a) == dedup_key(b)


@pytest.mark.parametrize("a, b", [
    ("Likes tea", "Likes coffee"),
    ("Likes tea", "Like tea"),  # no stemming: a near-duplicate is kept rather than two facts merged
    ("Likes cat", "Likes cats"),  # plurals are words of their own too
    # the order of the compared terms: the pair, and others where order is the fact
    ("Prefers coffee over tea", "Prefers tea over coffee"),
    ("Coffee over tea prefers", "prefers tea over coffee"),
    ("Trusts Ana more than Ben", "Trusts Ben more than Ana"),
    ("Flies from Lisbon to Porto on Mondays", "Flies from Porto to Lisbon on Mondays"),
    # differ in a number: different facts however much else they share
    ("Monthly food budget is 300 euros for the whole family this year",
     "Monthly food budget is 400 euros for the whole family this year"),
    ("Has 2 cats", "Has 3 cats"),
    # differ in a negation: the meaning flips
    ("Does like spicy food at dinner with friends on the weekend", "Does not like spicy food at dinner "
     "with friends on the weekend"),
    ("Likes spicy food at dinner with friends on weekends and holidays",
     "Doesn't like spicy food at dinner with friends on weekends and holidays"),
    ("Eats meat", "Never eats meat"),
    # one extra word is another fact (the old rule merged these at 10 of 11 shared words)
    ("Works as a nurse at the children's hospital in Porto on weekdays",
     "Works as a nurse at the children's hospital in Porto on weekdays mostly"),
    ("Name is Ana", "Name is Anabel"),
    ("🍵", "☕"),
    ("", ""),
])
def test_not_duplicates(a, b):
    assert not is_duplicate(a, b) and not is_duplicate(b, a)


def test_the_key_is_the_words_in_order():
    assert dedup_key("  **The** user's dog: Rex!  ") == "user s dog rex"
    assert dedup_key("The") == "the"  # an article alone is still a word
    assert dedup_key("🍵 ") == "=🍵" and dedup_key("") == ""


def test_overlap_and_normalise():
    assert normalise("  **Hello**, World!  ") == "hello world"
    assert word_overlap("a b c d", "a b c e") == 3 / 5
    assert word_overlap("", "x") == 0.0


def test_strip_markdown_keeps_the_fact_not_the_markup():
    reply = """## Summary

You prefer **green tea** over _coffee_, see [the notes](https://example.com/a_(b)).

- Drink it at `80°C`
- Steep 2 minutes

```python
brew(tea)
```

> Quote here
---
| a | b |
|---|---|
| 1 | 2 |
"""
    assert strip_markdown(reply) == ("Summary: You prefer green tea over coffee, see the notes. Drink it at 80°C; "
                                     "Steep 2 minutes; brew(tea) Quote here a b 1 2")
    assert strip_markdown("snake_case_name and 2*3*4 stay") == "snake_case_name and 2*3*4 stay"
    assert strip_markdown("<b>bold</b> <https://x.org>") == "bold https://x.org"
    assert strip_markdown("```\n```\n") == ""


def test_shorten_label():
    assert shorten_label("short", 10) == "short"
    assert shorten_label("one two three four", 10) == "one two…"
    assert shorten_label("x" * 30, 10) == "x" * 9 + "…"


def test_sources_are_parsed_leniently():
    cid, mid = "0f8fad5b-d9cb-469f-a165-70867728950e", "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    assert parse_source(f"conversation:{cid}#{mid}").message_id == mid
    assert parse_source(f"conversation:{cid}").kind == "conversation"
    assert parse_source(f"mirror:{cid.upper()}").id == cid
    assert parse_source(None).kind == parse_source("manual").kind == "manual"
    assert parse_source("imported from chatgpt").kind == "other"
    assert parse_source(f"template:{cid}#{mid}").kind == "other"  # only conversations name a message
