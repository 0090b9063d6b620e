"""Look-ahead: which fields the client selected below the field being resolved.

Resolvers use it to leave out what nobody asked for (a transcript's conversation, say), so a
list of 1,000 transcripts does not decode 1,000 conversations to print their decision codes.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from app.graphql.context import Info


def child_field_names(info: Info) -> frozenset[str]:
    """The schema names of the fields selected directly inside this field, through fragments."""
    raw = info._raw_info
    names: set[str] = set()

    def walk(selection_sets: Iterable[SelectionSetNode | None]) -> None:
        for selection_set in selection_sets:
            if selection_set is None:
                continue
            for node in selection_set.selections:
                if isinstance(node, FieldNode):
                    names.add(node.name.value)
                elif isinstance(node, InlineFragmentNode):
                    walk([node.selection_set])
                elif isinstance(node, FragmentSpreadNode):
                    fragment = raw.fragments.get(node.name.value)
                    walk([fragment.selection_set if fragment else None])

    walk(node.selection_set for node in raw.field_nodes)
    return frozenset(names)
