"""A provider lease is taken by one function call: the provider's advisory lock, then the
count and the insert. Called outside a transaction, the lock is held only while that one
statement runs (it was held to the end of the probe's start transaction, and every start of a
provider waited on it: the profile's top wait in issue 14).

Its counting query runs after the lock is held, with a snapshot of its own (PL/pgSQL takes
one per statement in a VOLATILE function), so it sees the lease the previous holder committed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION vr_take_lease(
            _p text, _ttl double precision, _run text, _model text, _tokens bigint
        ) RETURNS TABLE (lease_id bigint, suspended boolean, minute_bound boolean,
                         minute_wait double precision)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext('vr-provider-limit'), hashtext(_p));
            RETURN QUERY
            WITH now AS (SELECT clock_timestamp() AS t),
            limits AS (
                SELECT lp.max_parallel_requests AS parallel, lp.requests_per_minute AS rpm,
                       lp.tokens_per_minute AS tpm, lp.suspended_at IS NOT NULL AS off
                FROM llm_providers lp WHERE lp.id = _p
            ),
            in_flight AS (
                SELECT count(*) AS n FROM provider_leases l
                WHERE l.provider_id = _p AND l.finished_at IS NULL
                  AND l.expires_at > clock_timestamp()
            ),
            recent AS (
                SELECT coalesce(sum(s.calls), 0) AS n, coalesce(sum(s.tokens), 0) AS used,
                       min(s.second) AS oldest FROM provider_starts s
                WHERE s.provider_id = _p
                  AND s.second > date_trunc('second', clock_timestamp()) - interval '60 seconds'
            ),
            taken AS (
                INSERT INTO provider_leases (provider_id, run_id, model_id, started_at,
                                             expires_at, tokens)
                SELECT _p, _run, _model, now.t, now.t + make_interval(secs => _ttl), _tokens
                FROM limits, in_flight, recent, now
                WHERE NOT limits.off AND in_flight.n < limits.parallel
                  AND recent.n < limits.rpm AND (limits.tpm = 0 OR recent.used < limits.tpm)
                RETURNING id
            ),
            counted AS (
                INSERT INTO provider_starts AS s (provider_id, second, calls, tokens)
                SELECT _p, date_trunc('second', now.t), 1, _tokens FROM taken, now
                ON CONFLICT (provider_id, second) DO UPDATE
                SET calls = s.calls + 1, tokens = s.tokens + EXCLUDED.tokens
            )
            SELECT (SELECT taken.id FROM taken),
                   (SELECT limits.off FROM limits),
                   (SELECT recent.n >= limits.rpm OR (limits.tpm > 0 AND recent.used >= limits.tpm)
                    FROM recent, limits),
                   (SELECT CAST(EXTRACT(EPOCH FROM recent.oldest + interval '61 seconds'
                           - clock_timestamp()) AS double precision) FROM recent);
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION vr_take_lease(text, double precision, text, text, bigint)")
