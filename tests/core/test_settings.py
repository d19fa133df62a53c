"""Settings: precedence, validation messages, and that the README documents every setting."""

from pathlib import Path

import pytest

from cartwise.core.errors import ConfigError
from cartwise.core.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]


def test_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert f"`{name}`" in readme and f"CARTWISE_{name.upper()}" in readme, name
        assert field.description, name


def test_precedence_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cartwise.toml"
    config.write_text('db = "from-file.duckdb"\nport = 9000\ncors_origins = ["https://a.example"]\n')
    monkeypatch.setenv("CARTWISE_CONFIG", str(config))
    monkeypatch.setenv("CARTWISE_PORT", "9100")
    monkeypatch.setenv("CARTWISE_CORS_ORIGINS", "https://b.example, https://c.example")
    settings = get_settings(db=None)
    assert settings.db == Path("from-file.duckdb") and settings.port == 9100
    assert settings.cors_origins == ["https://b.example", "https://c.example"]
    assert get_settings(db=tmp_path / "flag.duckdb").db == tmp_path / "flag.duckdb"


def test_invalid_setting_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTWISE_PORT", "eighty")
    with pytest.raises(ConfigError, match="`port`"):
        get_settings()


@pytest.mark.parametrize("name", ["memory_limit", "checkpoint_wal"])
def test_a_size_that_duckdb_cannot_read_names_the_setting(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(f"CARTWISE_{name.upper()}", "lots")
    with pytest.raises(ConfigError, match=f"`{name}`"):
        get_settings()
    monkeypatch.setenv(f"CARTWISE_{name.upper()}", "512MB")
    assert getattr(get_settings(), name) == "512MB"
