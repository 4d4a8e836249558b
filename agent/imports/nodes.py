"""A tree from parent pointers, as both exports give it: every parent before its children, the nodes
that are not kept skipped with their children re-attached to the nearest kept ancestor.

Iterative throughout (a 10,000-turn thread is a 10,000-deep chain), and tolerant of a broken file: a
parent that is not in the export makes its node a root; nodes caught in a parent cycle reach no root
and are left out (counted by the caller as skipped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def parents_first(order: Iterable[str], parent_of: Mapping[str, str | None]) -> list[str]:
    """The ids of `order` (which also gives the order among siblings), each after its parent: a
    depth-first walk from the roots. Ids in a cycle are not in the result."""
    ids = list(dict.fromkeys(order))
    known = set(ids)
    children: dict[str | None, list[str]] = {}
    for node in ids:
        parent = parent_of.get(node)
        if parent not in known or parent == node:
            parent = None
        children.setdefault(parent, []).append(node)
    result: list[str] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        node = stack.pop()
        result.append(node)
        stack.extend(reversed(children.get(node, [])))
    return result


def kept_parents(ordered: list[str], parent_of: Mapping[str, str | None], kept: set[str]) -> dict[str, str | None]:
    """For each id in `ordered` (parents first), its nearest kept ancestor, or None."""
    nearest: dict[str, str | None] = {}
    for node in ordered:
        parent = parent_of.get(node)
        if parent is None or parent not in nearest:
            nearest[node] = None
        else:
            nearest[node] = parent if parent in kept else nearest[parent]
    return nearest


def nearest_kept(node: str | None, nearest: Mapping[str, str | None], kept: set[str]) -> str | None:
    """`node` itself if kept, else its nearest kept ancestor; None for an unknown node."""
    if node is None or node not in nearest:
        return None
    return node if node in kept else nearest[node]
