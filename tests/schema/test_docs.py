"""The data model document is generated from the schema and must stay in sync."""

from pathlib import Path

from cartwise.schema.docs import data_model_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_data_model_doc_matches_the_schema() -> None:
    committed = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert committed == data_model_markdown(), "run `cartwise schema --markdown > docs/data-model.md`"
