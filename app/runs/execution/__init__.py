"""What a worker does to one slot of a run (BEHAVIOUR.md, "Probe job"), in the order it
happens: the slot's contract and plan (slot.py), room under the provider's limits and the gate
(gate.py), the conversation (probe.py), the outcome stored with the run's advance (outcome.py).
A transcript's summary is the second job of a slot's life (summary.py)."""
