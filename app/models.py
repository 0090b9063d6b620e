"""Every table, imported once so SQLModel's metadata is complete (Alembic, tests)."""

from app.auth import ApiKey
from app.definitions.models import Definition, DefinitionTag, Experiment, Scenario, Tag
from app.llm.models import LlmModel, LlmProvider
from app.runs.models import ProbeResult, Run, RunScenarioSelection, RunTag
from app.transcripts.models import Transcript

__all__ = [
    "ApiKey",
    "Definition",
    "DefinitionTag",
    "Experiment",
    "LlmModel",
    "LlmProvider",
    "ProbeResult",
    "Run",
    "RunScenarioSelection",
    "RunTag",
    "Scenario",
    "Tag",
    "Transcript",
]
