"""An execution context that completes plain attribute fields inline.

graphql-core executes every field the same way: it builds a resolve-info object and a path,
calls the resolver, checks for awaitables and completes the value. For a list of 1,000
transcripts with five scalar fields that is 5,000 such round trips, most of them for fields
that only read an attribute. Strawberry already marks those fields ("basic": no resolver, no
permission, no extension); this context reads them with one `getattr` and one output coercion
and sends every other field (resolvers, objects, lists, nulls, errors) down graphql-core's
normal path, so the results and errors are exactly the same. An object field read the same
way (a basic attribute, or a value its list prefetched: app/graphql/prefetch.py) is completed
inline too when it holds an object. The plan for a selection set is worked out once per
request and reused for each object of a list; a list of objects whose selection is all such
fields (a run's 1,000 transcripts, a page of runs) is completed in one loop, without
graphql-core's five nested calls per item.

Subscriptions: graphql-core runs each event on a shallow copy of the subscription's executor,
which shares its caches. Those caches are keyed by the identity of field groups rebuilt for
every event, so shared they never hit and grow for as long as the subscription lives (the
garbage collector then spends seconds walking them): each event gets its own. And one state
of a run is sent to every subscriber of it: a payload naming a `shared_source` is executed
once per source, operation and variables, and the result is handed to the other subscribers.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, NamedTuple, cast

from graphql import (
    GraphQLID,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from app.graphql import prefetch
from app.graphql.limits import FieldBudget

TYPENAME = "__typename"
SHARED_RESULTS = 512


class _Step(NamedTuple):
    response_name: str
    field_details_list: Any
    # Set when the value can be read straight off the source: a basic field's attribute, or
    # (`prefetched`) the name it has in the source's prefetched values (app/graphql/prefetch.py).
    attribute: str | None
    prefetched: bool
    return_type: Any  # the field's GraphQLOutputType; None on the normal path
    leaf: GraphQLLeafType | None  # the leaf type; None for an object
    object_type: GraphQLObjectType | None  # the object type; None for a leaf
    non_null: bool
    text: bool  # String or ID, for which a str is its own output


def _slow(response_name: str, details: Any) -> _Step:
    return _Step(response_name, details, None, False, None, None, None, False, False)


class BasicFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    # Fields one execution (a request, or one subscription event) may complete; a schema
    # sets its own limit on a subclass (app/graphql/limits.py).
    max_fields = 50_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._budget = FieldBudget(self.max_fields)
        # Keyed by id(grouped_field_set); the set is kept alive beside its plan so that
        # its id cannot be reused while this request runs.
        self._plans: dict[int, tuple[Any, list[_Step] | None]] = {}

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = cast("BasicFieldsExecutionContext", super().build_per_event_executor(payload))
        executor._plans = {}
        executor._relevant_sub_fields = {}
        executor._budget = FieldBudget(self.max_fields)
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        source = getattr(self.root_value, "shared_source", None)
        if source is None:
            return super().execute_operation(serially)
        sink = getattr(self.root_value, "sink", None)
        if sink is not None:  # app/graphql/broadcast.py: it renders this operation's later events
            sink.adopt(self)
        variables = variables_key(self)
        found = _shared.get(source, self.operation, variables)
        if found is not None:
            return found
        result = super().execute_operation(serially)
        if not self.is_awaitable(result) and not getattr(result, "errors", None):
            _shared.put(source, self.operation, variables, result)
        return result

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> list[_Step] | None:
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None:
            return cached[1]
        plan: list[_Step] | None = None
        if not (self.middleware_manager and self.middleware_manager.middlewares):
            plan = [
                self._step(parent_type, name, details)
                for name, details in grouped_field_set.items()
            ]
            if not any(step.attribute for step in plan):
                plan = None
        self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    @staticmethod
    def _step(parent_type: GraphQLObjectType, response_name: str, details: Any) -> _Step:
        node = details[0].node
        field_def = parent_type.fields.get(node.name.value)
        if field_def is None or node.arguments or details[0].fragment_variable_values:
            return _slow(response_name, details)
        strawberry_field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        prefetched = prefetch.is_prefetched(field_def.resolve)
        basic = (
            isinstance(strawberry_field, StrawberryField)
            and strawberry_field.is_basic_field
            and getattr(field_def.resolve, "_is_default", False)
            and strawberry_field.default_resolver is getattr
        )
        if not (basic or prefetched) or not isinstance(strawberry_field, StrawberryField):
            return _slow(response_name, details)
        output_type = field_def.type
        non_null = isinstance(output_type, GraphQLNonNull)
        named = output_type.of_type if non_null else output_type
        leaf = named if is_leaf_type(named) else None
        plain_object = isinstance(named, GraphQLObjectType) and named.is_type_of is None
        if leaf is None and not plain_object:
            return _slow(response_name, details)  # lists, interfaces, unions
        return _Step(
            response_name,
            details,
            strawberry_field.python_name,
            prefetched,
            output_type,
            leaf,
            None if leaf is not None else named,
            non_null,
            named is GraphQLString or named is GraphQLID,
        )

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Path,
        items: Any,
        position_context: Any,
    ) -> Any:
        found = self._plain_items(item_type, field_details_list, path, items)
        if found is None:
            return super().complete_iterable_value(
                item_type, field_details_list, info, path, items, position_context
            )
        object_type, grouped_field_set = found
        results: list[Any] = []
        pending: list[tuple[int, Path]] = []
        for index, item in enumerate(items):
            item_path = path.add_key(index, None)
            try:
                completed = self.execute_fields(
                    object_type, item, item_path, grouped_field_set, None
                )
            except Exception as raw_error:
                self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                completed = None
            if completed is not None and type(completed) is not dict:
                pending.append((index, item_path))  # awaitable: an attribute held one
            results.append(completed)
        if not pending:
            return results
        return self._settle(results, pending, item_type, field_details_list)

    async def _settle(
        self,
        results: list[Any],
        pending: list[tuple[int, Path]],
        item_type: GraphQLOutputType,
        field_details_list: Any,
    ) -> list[Any]:
        for index, item_path in pending:
            try:
                results[index] = await results[index]
            except Exception as raw_error:
                self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                results[index] = None
        return results

    def _plain_items(
        self, item_type: GraphQLOutputType, field_details_list: Any, path: Path, items: Any
    ) -> tuple[GraphQLObjectType, Any] | None:
        """The object type and fields of a list whose items are all present objects of one
        type without `is_type_of`, selecting only fields read off the source; else None."""
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of is not None:
            return None
        if not isinstance(items, list) or self.get_stream_usage(field_details_list, path):
            return None
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        plan = self._plan(object_type, grouped_field_set)
        if new_defer_usages or plan is None or any(step.attribute is None for step in plan):
            return None
        is_awaitable = self.is_awaitable
        if any(i is None or isinstance(i, Exception) or is_awaitable(i) for i in items):
            return None
        return object_type, grouped_field_set

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        self._budget.spend(len(grouped_field_set))
        plan = self._plan(parent_type, grouped_field_set)
        if plan is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        slow: dict[str, Any] = {}
        pending: list[tuple[_Step, Path]] = []
        for step in plan:
            if step.attribute is not None:
                value = self._read(step, source_value, parent_type, path, pending)
                if value is not _SLOW:
                    results[step.response_name] = value
                    continue
            results[step.response_name] = None  # placeholder keeps the selection order
            slow[step.response_name] = step.field_details_list
        rest = (
            super().execute_fields(parent_type, source_value, path, slow, position_context)
            if slow
            else {}
        )
        if pending or self.is_awaitable(rest):
            return _merge_later(self, results, rest, pending)
        results.update(cast("dict[str, Any]", rest))
        return results

    def _read(
        self,
        step: _Step,
        source: Any,
        parent_type: GraphQLObjectType,
        path: Path | None,
        pending: list[tuple[_Step, Path]],
    ) -> Any:
        """The step's completed value, or _SLOW for graphql-core's normal path."""
        if step.prefetched:
            value = source.prefetched.get(step.attribute, _SLOW)
            if value is _SLOW:
                return _SLOW
        else:
            value = getattr(source, cast("str", step.attribute))
        if value is None:
            return _SLOW if step.non_null else None
        if step.leaf is not None:
            if step.text and type(value) is str:
                return value
            try:
                coerced = step.leaf.coerce_output_value(value)
            except Exception:  # the normal path reports it with its location
                return _SLOW
            return _SLOW if coerced is None or coerced is Undefined else coerced
        if isinstance(value, Exception) or self.is_awaitable(value):
            return _SLOW
        object_type = cast("GraphQLObjectType", step.object_type)
        field_path = Path(path, step.response_name, parent_type.name)
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, step.field_details_list
        )
        if new_defer_usages:
            return _SLOW
        try:
            completed = self.execute_fields(object_type, value, field_path, grouped_field_set, None)
        except Exception as raw_error:
            self.handle_field_error(
                raw_error, step.return_type, step.field_details_list, field_path
            )
            return None
        if self.is_awaitable(completed):
            pending.append((step, field_path))
        return completed


# `_read`'s answer for a field left to graphql-core's normal path.
_SLOW = object()


class SharedByState:
    """What one state of a shared source gives for one operation and its variables, kept for
    the latest `size` of them. Keyed by identity: the source and the operation are kept
    beside each value, so that their ids cannot be reused while it is held."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[int, int, str], tuple[Any, Any, Any]] = OrderedDict()

    def get(self, source: object, operation: object, variables: str) -> Any:
        found = self._items.get((id(source), id(operation), variables))
        if found is not None and found[0] is source and found[1] is operation:
            return found[2]
        return None

    def put(self, source: object, operation: object, variables: str, value: Any) -> None:
        self._items[(id(source), id(operation), variables)] = (source, operation, value)
        if len(self._items) > self._size:
            self._items.popitem(last=False)


def variables_key(executor: Any) -> str:
    """An executor's coerced variables, as one part of a `SharedByState` key."""
    return repr(sorted(executor.variable_values.coerced.items()))


# The results of shared sources' states (subscription events), for every subscriber.
_shared = SharedByState(SHARED_RESULTS)


async def _merge_later(
    executor: BasicFieldsExecutionContext,
    results: dict[str, Any],
    rest: Any,
    pending: list[tuple[_Step, Path]],
) -> dict[str, Any]:
    """Await the objects completed inline that ended up awaiting something, and the fields
    left to the normal path, together, so that none is left unawaited when another fails."""
    awaitables = [results[step.response_name] for step, _ in pending]
    rest_awaits = executor.is_awaitable(rest)
    settled = await asyncio.gather(
        *awaitables, *([rest] if rest_awaits else []), return_exceptions=True
    )
    for (step, field_path), value in zip(pending, settled, strict=False):
        if isinstance(value, BaseException) and not isinstance(value, Exception):
            raise value  # cancelled: not a field error
        if isinstance(value, Exception):
            executor.handle_field_error(
                value, step.return_type, step.field_details_list, field_path
            )
            value = None
        results[step.response_name] = value
    merged = settled[-1] if rest_awaits else rest
    if isinstance(merged, BaseException):
        raise merged
    results.update(merged)
    return results
