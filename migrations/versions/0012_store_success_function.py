"""A probe's transcript and SUCCESS result in one function call, in the caller's transaction:
the run's advance lock shared, the check that the run still takes outcomes (live, RUNNING or
PAUSED: a cancelled run is frozen), the transcript (at most one per live slot), the result
and the progress event. Five round trips become one (issue 14); the statements and their
order are those app/runs/execution/outcome.py ran one by one.

Returns the transcript's id, or null when the run no longer takes outcomes or the slot's
transcript was stored by another delivery.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION vr_store_success(
            _run text, _scenario text, _model text, _sample integer, _id text,
            _version text, _content jsonb, _turns integer, _input integer, _output integer,
            _duration integer, _cost double precision, _dimensions jsonb, _reused_from text,
            _retries integer, _result_id text
        ) RETURNS text
        LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            v_id text;
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(hashtext('vr-run-advance'), hashtext(_run));
            PERFORM 1 FROM runs r
            WHERE r.id = _run AND r.deleted_at IS NULL AND r.status IN ('RUNNING', 'PAUSED');
            IF NOT FOUND THEN
                RETURN NULL;
            END IF;
            INSERT INTO transcripts (
                id, run_id, scenario_id, model_id, model_version, sample_index,
                definition_snapshot, content, turn_count, token_count, input_tokens,
                output_tokens, duration_ms, estimated_cost, dimension_values, summary_status,
                reused_from_id)
            SELECT _id, r.id, _scenario, _model, _version, _sample,
                   r.config->'definitionSnapshot', _content, _turns, _input + _output,
                   _input, _output, _duration, _cost, _dimensions, 'PENDING', _reused_from
            FROM runs r WHERE r.id = _run
            ON CONFLICT (run_id, scenario_id, model_id, sample_index)
                WHERE deleted_at IS NULL DO NOTHING
            RETURNING id INTO v_id;
            IF v_id IS NULL THEN
                RETURN NULL;
            END IF;
            INSERT INTO probe_results (
                id, run_id, scenario_id, model_id, sample_index, status, transcript_id,
                error_code, error_message, retry_count, input_tokens, output_tokens,
                duration_ms, completed_at)
            VALUES (_result_id, _run, _scenario, _model, _sample, 'SUCCESS', v_id, NULL, NULL,
                    _retries, _input, _output, _duration, now())
            ON CONFLICT ON CONSTRAINT uq_probe_results_slot DO UPDATE SET
                status = EXCLUDED.status, transcript_id = EXCLUDED.transcript_id,
                error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
                retry_count = EXCLUDED.retry_count, input_tokens = EXCLUDED.input_tokens,
                output_tokens = EXCLUDED.output_tokens, duration_ms = EXCLUDED.duration_ms,
                completed_at = EXCLUDED.completed_at
            WHERE probe_results.status <> 'SUCCESS';
            PERFORM pg_notify('vr_run_progress', json_build_object(
                'runId', _run, 'event', 'slot', 'modelId', _model, 'outcome', 'SUCCESS',
                'transcriptId', v_id)::text);
            RETURN v_id;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION vr_store_success(text, text, text, integer, text, text, jsonb, integer, "
        "integer, integer, integer, double precision, jsonb, text, integer, text)"
    )
