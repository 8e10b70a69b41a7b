"""The content words of a question or an event: what the reranker matches and what makes a question vague.

Example:
    >>> content_terms("did anyone pick up a bottle?")
    {'pick', 'up', 'bottle'}
    >>> content_terms("anything interesting going on")  # vague: the reranker ranks by salience
    set()
"""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """a an the and or but of in on at to for from by with without into onto over under
    is are was were be been being do does did done has have had any anyone anybody anything
    some someone somebody something who whom whose what which when where why how many much
    there here this that these those it its they them their he she his her him i me my we us
    our you your can could will would should may might please show find tell me list all
    between after before around about during first last minute minutes second seconds
    video clip footage happen happened happening event events people person
    everything else whatever going go goes went occur occurred notable interesting important""".split()
)


def stem(word: str) -> str:
    """A crude suffix strip: enough to meet 'picking' with 'picked' and 'picks'."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> set[str]:
    """The stemmed words of text that are not stop words."""
    return {stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS}
