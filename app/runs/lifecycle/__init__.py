"""What an admin asks of a run: start it (start.py); pause, resume, cancel, delete, rename it
and control its summaries (control.py); recover it when its work was lost (recovery.py)."""
