"""Filling a run with many transcripts in one statement each (export tests and bench)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

# Two models alternate; every 7th decision text needs CSV quoting (comma, quote, newline) and
# every 5th transcript has no decision yet.
FILL = """
INSERT INTO transcripts (id, run_id, scenario_id, model_id, model_version, sample_index, content,
                         turn_count, token_count, input_tokens, output_tokens, duration_ms,
                         estimated_cost, decision_code, decision_text, summary_status,
                         dimension_values, created_at)
SELECT CAST(:prefix AS text) || lpad(g::text, 7, '0'), CAST(:run_id AS text),
       (SELECT id FROM scenarios WHERE definition_id = r.definition_id ORDER BY position LIMIT 1),
       CASE WHEN g % 2 = 0 THEN 'sim-steady' ELSE 'sim-instant' END, 'v1', g,
       jsonb_build_object('messages', jsonb_build_array(
           jsonb_build_object('role', 'user', 'content', 'Question ' || g || ' — é'),
           jsonb_build_object('role', 'assistant', 'content', 'Rating: ' || (g % 5 + 1)))),
       1, 30 + g % 10, 10 + g % 7, 20 + g % 3, 100 + g % 50, (g % 13) / 1000.0,
       CASE WHEN g % 5 = 0 THEN NULL ELSE ((g % 5) + 1)::text END,
       CASE WHEN g % 5 = 0 THEN NULL
            WHEN g % 7 = 0 THEN 'Says "yes", then' || chr(10) || 'hesitates, ' || g
            ELSE 'Plain answer ' || g END,
       CASE WHEN g % 5 = 0 THEN 'PENDING' ELSE 'SUMMARIZED' END,
       jsonb_build_object('stakes', CASE WHEN g % 2 = 0 THEN 'low' ELSE 'high' END),
       now() - make_interval(secs => CAST(:count AS int) - g)
FROM generate_series(1, CAST(:count AS int)) g, runs r WHERE r.id = CAST(:run_id AS text)
"""
RESULTS = """
INSERT INTO probe_results (id, run_id, scenario_id, model_id, sample_index, status, transcript_id)
SELECT 'p' || t.id, t.run_id, t.scenario_id, t.model_id, t.sample_index, 'SUCCESS', t.id
FROM transcripts t WHERE t.run_id = :run_id
"""


async def fill_transcripts(session: AsyncSession, run_id: str, count: int) -> None:
    """`count` transcripts (and their probe results) for the run."""
    connection = await session.connection()
    params = {"run_id": run_id, "count": count, "prefix": f"t{run_id[-6:]}"}
    await connection.execute(sa.text(FILL), params)
    await connection.execute(sa.text(RESULTS), {"run_id": run_id})
