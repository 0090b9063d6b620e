"""What the ledger of provider calls and the spend cap cost, and how far the cap overshoots.

1. The 0 ms probe rate of one worker process under a cap that never binds (every call
   reserves under the run's budget lock, then settles its ledger row) beside the same rate
   without a cap (the ledger row only): the reservations may cost at most 10% of it.
2. The ledger's own cost per probe: the statements a probe adds (the quote, the locked sums,
   the row's insert and its settling, inside transactions the probe opens anyway), timed
   serially in this process, as a share of one probe's time at the 0 ms rate of one process
   (target <= 0.10; an upper bound, as a process runs 32 probes at once).
3. The cap's overshoot: a run whose cap binds after a few dozen calls, 2 worker processes at
   32 calls each: ledger total against the cap (target: within cap + the largest call).
"""

from __future__ import annotations

import asyncio
import time

from app.db import Database
from app.llm import costs
from app.runs import budget, ledger
from bench._support import fresh_database, gql, report, served
from bench.probes import (
    CONCURRENCY,
    bench_definition,
    probe_rate,
    sql,
    start_workers,
    stop,
)

LEDGER_ROUNDS = 400
CAP_USD = 0.001  # sim-instant's calls cost about $0.00002: some fifty calls' worth


async def start_capped(db: Database, client: object, key: str, cap: float) -> str:
    definition_id = await bench_definition(db, 8)
    data = await gql(
        client,  # type: ignore[arg-type]
        key,
        """mutation($d: ID!, $cap: Float) { startRun(input: {definitionId: $d,
           models: ["sim-instant"], maxBudgetUsd: $cap}) { run { id } } }""",
        {"d": definition_id, "cap": cap},
    )
    return str(data["startRun"]["run"]["id"])


async def ledger_seconds_per_probe(url: str) -> float:
    """Serial time of the ledger's statements for one probe (two transactions, as a probe's)."""
    async with served(url) as (app, client, key):
        db: Database = app.state.runtime.db
        run_id = await start_capped(db, client, key, 1e9)
        prices = costs.Prices(0.10, 0.30)
        spent = 0.0
        for _ in range(LEDGER_ROUNDS):
            # Inside the transactions a probe opens anyway: only the statements are counted.
            async with db.transaction() as session:
                began = time.perf_counter()
                quote = await budget.quote(session, run_id, "sim-instant", budget.bound(prices, 1))
                await budget.standing(session, run_id, quote.cap)
                call = await ledger.open_call(
                    session,
                    run_id=run_id,
                    purpose="PROBE",
                    model_id="sim-instant",
                    provider_id="simulated",
                    attempt=0,
                    ttl_seconds=60,
                    reserved_usd=quote.expected,
                    prices=prices,
                )
                spent += time.perf_counter() - began
            async with db.transaction() as session:
                began = time.perf_counter()
                usage = ledger.Usage(100, 30)
                await ledger.settle(session, call, ledger.Outcome.SUCCESS, usage=usage)
                spent += time.perf_counter() - began
        return spent / LEDGER_ROUNDS


async def overshoot(url: str) -> tuple[float, float]:
    """(ledger total, largest call) once a run under CAP_USD has paused and settled."""
    async with served(url) as (app, client, key):
        db: Database = app.state.runtime.db
        await sql(
            db,
            "UPDATE llm_providers SET max_parallel_requests = 10000, "
            "requests_per_minute = 10000000 WHERE name = 'simulated'",
        )
        run_id = await start_capped(db, client, key, CAP_USD)
        workers = start_workers(url, 2, CONCURRENCY)
        try:
            await _wait(db, "SELECT status = 'PAUSED' AS ok FROM runs WHERE id = :r", run_id)
            await _wait(
                db,
                "SELECT count(*) = 0 AS ok FROM provider_calls "
                "WHERE run_id = :r AND outcome IS NULL",
                run_id,
            )
        finally:
            stop(workers)
        row = await sql(
            db,
            "SELECT sum(cost_usd) AS total, max(cost_usd) AS largest FROM provider_calls "
            "WHERE run_id = :r",
            r=run_id,
        )
        return float(row.total), float(row.largest)


async def _wait(db: Database, statement: str, run_id: str, within: float = 300) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await sql(db, statement, r=run_id)).ok:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"never true: {statement}")


async def run() -> None:
    rates = {}
    for cap in (None, 1e9):
        with fresh_database() as url:
            rates[cap] = await probe_rate(
                url,
                latency_ms=0,
                per_dimension=10,
                processes=1,
                concurrency=CONCURRENCY,
                max_budget_usd=cap,
            )
    report(
        "probes/s, simulated 0 ms, 1 process, under a cap",
        rates[1e9],
        rates[None],
        "probes/s",
        ">= 0.90x",
        "limit = the same run without a cap (ledger rows only)",
    )
    with fresh_database() as url:
        seconds = await ledger_seconds_per_probe(url)
    per_probe = 1 / rates[None]
    report(
        "ledger + reservation, serial time per probe",
        seconds * 1000,
        per_probe * 1000,
        "ms",
        "<= 0.10x",
        f"limit = one probe's time at the 0 ms rate ({rates[None]:.0f} probes/s)",
    )
    with fresh_database() as url:
        total, largest = await overshoot(url)
    report(
        "cap overshoot, 2 processes x 32 in flight",
        total,
        CAP_USD + largest,
        "USD",
        "<= 1.00x",
        f"cap ${CAP_USD}, largest call ${largest:.6f}, overshoot {(total / CAP_USD - 1) * 100:+.1f}%",
    )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
