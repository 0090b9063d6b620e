"""A probe's gate and its reservation in one function call: the run's advance lock shared, the
gate (PENDING → RUNNING at the first probe, the run live and neither paused nor ended, the
slot without a result), the call's expected cost (the average of the model's latest 50
successful calls in the run, else the pre-run estimate, else the bound), the run's budget lock and standing when it
has a cap, and the call's ledger row when the cap admits it. Called outside a transaction it
is one round trip where the transaction it replaces took six (issue 14); its locks end with
the statement, which is when the transaction's ended too.

Python keeps the decisions about what to do with a refusal (app/runs/execution/admit.py):
wait for calls in flight, or pause the run.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The observed average is taken over the model's latest 50 successful calls in the run,
    # read through this index: over all of them it grew with the run (a 100,000-slot run's
    # last probes would each have averaged 100,000 rows).
    op.create_index(
        "ix_provider_calls_observed",
        "provider_calls",
        ["run_id", "model_id", "purpose", "id"],
        postgresql_where=sa.text("outcome = 'SUCCESS' AND NOT estimated"),
    )
    op.execute(
        """
        CREATE FUNCTION vr_probe_admit(
            _run text, _scenario text, _model text, _sample integer, _provider text,
            _attempt integer, _ttl double precision, _fallback double precision
        ) RETURNS TABLE (gate_open boolean, call_id bigint, cap double precision,
                         expected double precision, spent double precision,
                         reserved double precision)
        LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            r record;
            v_expected double precision;
            v_spent double precision := 0;
            v_reserved double precision := 0;
            v_call bigint;
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(hashtext('vr-run-advance'), hashtext(_run));
            UPDATE runs SET status = 'RUNNING', started_at = now(), updated_at = now()
            WHERE id = _run AND status = 'PENDING' AND deleted_at IS NULL;
            IF FOUND THEN
                PERFORM pg_notify('vr_run_progress', json_build_object(
                    'runId', _run, 'event', 'status', 'status', 'RUNNING')::text);
            END IF;
            SELECT x.status, x.deleted_at IS NULL AS live, x.max_budget_usd, x.config
            INTO r FROM runs x WHERE x.id = _run;
            IF NOT FOUND OR NOT r.live OR r.status NOT IN ('PENDING', 'RUNNING')
               OR EXISTS (SELECT 1 FROM probe_results p
                          WHERE p.run_id = _run AND p.scenario_id = _scenario
                            AND p.model_id = _model AND p.sample_index = _sample) THEN
                RETURN QUERY SELECT false, NULL::bigint, NULL::double precision,
                    NULL::double precision, NULL::double precision, NULL::double precision;
                RETURN;
            END IF;
            v_expected := coalesce(
                (SELECT avg(recent.cost_usd) FROM (
                    SELECT c.cost_usd FROM provider_calls c
                    WHERE c.run_id = _run AND c.model_id = _model AND c.purpose = 'PROBE'
                      AND c.outcome = 'SUCCESS' AND NOT c.estimated
                    ORDER BY c.id DESC LIMIT 50) recent),
                CAST(r.config->'budgetEstimates'->>_model AS double precision),
                _fallback);
            IF r.max_budget_usd IS NOT NULL THEN
                -- Its own statements: the sums are read after the lock is held.
                PERFORM pg_advisory_xact_lock(hashtext('vr-run-budget'), hashtext(_run));
                SELECT coalesce(sum(c.cost_usd) FILTER (WHERE c.outcome IS NOT NULL), 0),
                       coalesce(sum(c.reserved_usd) FILTER (
                           WHERE c.outcome IS NULL AND c.expires_at > clock_timestamp()), 0)
                INTO v_spent, v_reserved
                FROM provider_calls c WHERE c.run_id = _run;
                IF v_spent + v_reserved + v_expected > r.max_budget_usd THEN
                    RETURN QUERY SELECT true, NULL::bigint, r.max_budget_usd, v_expected,
                        v_spent, v_reserved;
                    RETURN;
                END IF;
            END IF;
            INSERT INTO provider_calls (run_id, purpose, scenario_id, model_id, sample_index,
                                        provider_id, attempt, expires_at, reserved_usd)
            VALUES (_run, 'PROBE', _scenario, _model, _sample, _provider, _attempt,
                    clock_timestamp() + make_interval(secs => _ttl), v_expected)
            RETURNING id INTO v_call;
            RETURN QUERY SELECT true, v_call, r.max_budget_usd, v_expected, v_spent, v_reserved;
        END
        $$
        """
    )


def downgrade() -> None:
    op.drop_index("ix_provider_calls_observed", table_name="provider_calls")
    op.execute(
        "DROP FUNCTION vr_probe_admit(text, text, text, integer, text, integer, "
        "double precision, double precision)"
    )
