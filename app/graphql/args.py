"""Argument names fixed by ValueRank's schema that would shadow Python builtins."""

from typing import Annotated

import strawberry

IdArg = Annotated[str, strawberry.argument(name="id")]
IdArgID = Annotated[strawberry.ID, strawberry.argument(name="id")]
