"""A query's cost computed from its AST the way Shopify documents it (docs/channels.md has the rule).

- A scalar or enum field costs 0; an object field 1 plus its selection; a field of an abstract
  type (``Node``) the most expensive of its possible types' selections.
- A connection (a type named ``…Connection``) costs 2 plus, for each object it may return
  (``first`` / ``last``, or what it did return for the actual cost), the node's cost (1 plus its
  selection). ``edges``, ``pageInfo`` and ``cursor`` inside it are covered by the 2.
- A list of objects costs its objects: ``nodes(ids:)`` one per id, a list with ``first`` that
  many, any other list one (Shopify prices those as one object).
- A mutation costs 10 per mutation field, its payload included.

The requested cost (before running, with the arguments' sizes) must fit in the bucket; the
actual cost (from the data returned: an empty page costs little, a null object its 1) is what
is taken in the end. Both come from one walk: ``data`` is None for the requested cost.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values

MUTATION_COST = 10
MAX_QUERY_COST = 1000  # a single query's requested cost may not exceed it (MAX_COST_EXCEEDED)
UNSIZED_CONNECTION = 250  # a connection asked without first/last (refused when run) is priced at its cap
FREE_IN_CONNECTION = frozenset({"edges", "pageInfo", "cursor"})


class QueryCost:
    """Walks one operation; ``variables`` are the coerced variable values."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema, self.fragments, self.variables = schema, fragments, variables

    def operation(self, operation: OperationDefinitionNode, data: dict[str, Any] | None = None) -> int:
        if operation.operation == OperationType.MUTATION:
            return MUTATION_COST * len(self._fields(operation.selection_set, None))
        root = self.schema.query_type
        assert root is not None
        return self.selection(operation.selection_set, root, data)

    def selection(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, data: Any) -> int:
        """The cost of what is selected on an object of type ``parent`` (its fields, not itself)."""
        if selection_set is None:
            return 0
        if is_abstract_type(parent):
            return max(
                (self.selection(selection_set, kind, data) for kind in self.schema.get_possible_types(parent)),  # type: ignore[arg-type]
                default=0,
            )
        assert isinstance(parent, GraphQLObjectType)
        total = 0
        for node in self._fields(selection_set, parent):
            definition = parent.fields.get(node.name.value)
            if definition is None:  # __typename and friends
                continue
            key = node.alias.value if node.alias else node.name.value
            if data is not None and (not isinstance(data, dict) or key not in data):
                continue  # another possible type's field, or nothing returned
            total += self.field(node, definition, None if data is None else data[key], measured=data is not None)
        return total

    def field(self, node: FieldNode, definition: GraphQLField, value: Any, *, measured: bool) -> int:
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        if named.name.endswith("Connection"):
            return 2 + self._connection(node, definition, value, measured=measured)
        if isinstance(get_nullable_type(definition.type), GraphQLList):  # type: ignore[arg-type]
            if measured:
                items = value if isinstance(value, list) else []
                return sum(1 + self.selection(node.selection_set, named, item) for item in items if item is not None)
            return self._list_size(node, definition) * (1 + self.selection(node.selection_set, named, None))
        if measured and value is None:
            return 1
        return 1 + self.selection(node.selection_set, named, value if measured else None)

    def _connection(self, node: FieldNode, definition: GraphQLField, value: Any, *, measured: bool) -> int:
        connection = get_named_type(definition.type)
        assert isinstance(connection, GraphQLObjectType)
        node_type = get_named_type(connection.fields["nodes"].type)
        per_node = 0
        for inner in self._fields(node.selection_set, connection):
            name = inner.name.value
            key = inner.alias.value if inner.alias else name
            if name == "nodes":
                items = [None] if not measured else (value or {}).get(key) or []
                costs = [1 + self.selection(inner.selection_set, node_type, item) for item in items]
            elif name == "edges":
                edges = [None] if not measured else (value or {}).get(key) or []
                costs = [
                    1 + self.selection(self._node_of(inner), node_type, None if edge is None else edge.get("node"))
                    for edge in edges
                ]
            else:
                continue
            per_node = max(per_node, sum(costs) if measured else costs[0])
        if measured:
            return per_node
        arguments = get_argument_values(definition, node, self.variables)
        size = arguments.get("first") or arguments.get("last") or UNSIZED_CONNECTION
        return max(0, int(size)) * per_node

    def _list_size(self, node: FieldNode, definition: GraphQLField) -> int:
        arguments = get_argument_values(definition, node, self.variables)
        if isinstance(arguments.get("ids"), list):
            return len(arguments["ids"])
        if isinstance(arguments.get("first"), int):
            return max(0, arguments["first"])
        return 1

    def _node_of(self, edges: FieldNode) -> SelectionSetNode | None:
        for inner in self._fields(edges.selection_set, None):
            if inner.name.value == "node":
                return inner.selection_set
        return None

    def _fields(self, selection_set: SelectionSetNode | None, parent: GraphQLObjectType | None) -> list[FieldNode]:
        """The fields selected, fragments flattened (those whose type condition ``parent`` meets)."""
        found: list[FieldNode] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                found.append(selection)
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition, inner = fragment.type_condition.name.value, fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition = selection.type_condition.name.value if selection.type_condition else ""
                inner = selection.selection_set
            if not condition or parent is None or self._applies(condition, parent):
                found += self._fields(inner, parent)
        return found

    def _applies(self, condition: str, parent: GraphQLObjectType) -> bool:
        if condition == parent.name:
            return True
        kind = self.schema.get_type(condition)
        return kind is not None and is_abstract_type(kind) and self.schema.is_sub_type(kind, parent)  # type: ignore[arg-type]
