"""What a watcher sees: a run's snapshot (snapshot.py), one feed per watched run (feed.py),
run changes (changes.py), and the process's live view that serves them (service.py)."""
