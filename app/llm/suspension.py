"""A provider suspended because its vendor said the credit is exhausted or the key is bad.

Every later call of that provider would fail the same way, so no call starts while it is
suspended (`limits.try_take` reads the flag before every call, in every process) and the slot
that met it stays open instead of failing. Only an admin lifts it (resumeLlmProvider): a top-up
or a new key is something a person does, and the server cannot tell when it has happened
without spending a call to find out.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.llm.providers.base import ErrorKind, ProviderError

SUSPENDING = frozenset({ErrorKind.QUOTA_EXHAUSTED, ErrorKind.AUTH})


def suspends(error: ProviderError) -> bool:
    """Whether this answer is about the account, not the call: every call would meet it."""
    return error.kind in SUSPENDING


async def suspend(session: AsyncSession, provider_id: str, error: ProviderError) -> bool:
    """Suspend the provider with the vendor's message (already redacted by the adapter). The
    first answer wins; later ones in flight change nothing. True when this call suspended it."""
    suspended = (
        await (await session.connection()).execute(
            sa.text(
                """
                UPDATE llm_providers
                SET suspended_at = now(), suspended_reason = :reason, updated_at = now()
                WHERE id = :p AND suspended_at IS NULL
                RETURNING id
                """
            ),
            {"p": provider_id, "reason": f"{error.kind.value}: {error.message}"},
        )
    ).one_or_none()
    return suspended is not None


async def lift(session: AsyncSession, provider_id: str) -> bool:
    """Clear the suspension; True when the provider was suspended."""
    lifted = (
        await (await session.connection()).execute(
            sa.text(
                """
                UPDATE llm_providers
                SET suspended_at = NULL, suspended_reason = NULL, updated_at = now()
                WHERE id = :p AND suspended_at IS NOT NULL
                RETURNING id
                """
            ),
            {"p": provider_id},
        )
    ).one_or_none()
    return lifted is not None
