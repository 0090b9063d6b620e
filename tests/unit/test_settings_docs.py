"""The README's configuration table is the code's: every setting, its default and meaning."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import Settings, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_table_is_generated_from_the_settings() -> None:
    block = re.search(
        r"<!-- settings:begin -->\n(.*?)\n<!-- settings:end -->", README.read_text(), re.S
    )
    assert block is not None, "README.md lost its settings markers"
    assert block.group(1) == settings_table(markdown=True), (
        "README.md's configuration table is stale: paste `valuerank settings --markdown`"
    )


def test_every_setting_says_what_it_does() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []
