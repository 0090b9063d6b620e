"""The job queue: the only code that names Procrastinate's own tables and functions
(`procrastinate_jobs`, `procrastinate_workers`, `procrastinate_retry_job_v2` ...).

    jobs.py       defer, cancel and abort jobs by task name, in the caller's transaction
    state.py      what the queue holds: counts per task, live workers, a run's live jobs
    controls.py   the dispatch switch (pauseQueue / resumeQueue) every worker reads
    stalled.py    jobs left running by dead or disconnected workers, back to `todo`
    graphql.py    queueStatus, pauseQueue, resumeQueue
"""
