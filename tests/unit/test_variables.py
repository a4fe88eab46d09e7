"""docs/variables.md is the code's: every variable, its default, its comment and what validate accepts."""

from __future__ import annotations

import runpy

from lib.validate import SCHEMA, TOP_LEVEL, TOP_LEVEL_RULES
from lib.variables import GROUP_DATA, REFERENCE, meanings, render


def test_reference_is_up_to_date():
    assert REFERENCE.read_text() == render(), "docs/variables.md is stale: run `python -m lib.variables`"


def test_every_variable_is_validated_and_explained():
    data = {k: v for k, v in runpy.run_path(str(GROUP_DATA)).items() if not k.startswith("_")}
    assert set(data) == TOP_LEVEL == {*TOP_LEVEL_RULES, *SCHEMA}
    assert {c: set(data[c]) for c in SCHEMA} == {c: set(schema) for c, schema in SCHEMA.items()}
    found = meanings()
    unexplained = [key for key in [(name,) for name in TOP_LEVEL_RULES]
                   + [(c, k) for c, schema in SCHEMA.items() for k in schema] if not found.get(key)]
    assert unexplained == [], "give these a comment in group_data/all.py"


def test_a_changed_default_or_comment_changes_the_reference(tmp_path):
    changed = tmp_path / "all.py"
    changed.write_text(GROUP_DATA.read_text().replace('"token": 1000,  # ms,', '"token": 1234,  # ms (changed),'))
    text = render(changed)
    assert "| `token` | `1234` | ms (changed), corosync's default" in text and text != render()
