"""``Settings``: the one place that reads ``TENANTRY_*`` (and ``XDG_CACHE_HOME``); the fields that carry the
ablation switch and the model cache down to the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tenantry.settings import Settings


def test_ablate_is_a_comma_separated_list_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().ablate == frozenset()
    monkeypatch.setenv("TENANTRY_ABLATE", "speaker, turn-memories")
    assert Settings().ablate == frozenset({"speaker", "turn-memories"})
    assert Settings(ablate="").ablate == frozenset(), "a keyword wins over the environment"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("passages,temporal", id="string"),
        pytest.param(["passages", "temporal"], id="list"),
        pytest.param(frozenset({"passages", "temporal"}), id="frozenset"),
    ],
)
def test_ablate_keyword_forms(value: object) -> None:
    assert Settings(ablate=value).ablate == frozenset({"passages", "temporal"})


def test_unknown_ablated_component_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="unknown component"):
        Settings(ablate="speaker,bogus")
    monkeypatch.setenv("TENANTRY_ABLATE", "bogus")
    with pytest.raises(ValidationError, match="unknown component"):
        Settings()


def test_model_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert Settings().model_cache == Path.home() / ".cache" / "tenantry"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Settings().model_cache == tmp_path / "xdg" / "tenantry"
    monkeypatch.setenv("TENANTRY_MODEL_CACHE", str(tmp_path / "models"))
    assert Settings().model_cache == tmp_path / "models"


def test_settings_survive_a_round_trip_through_keywords() -> None:
    """What the benches do to hand settings to the embedded SDK: every field passed back as a keyword."""
    s = Settings(embedder="hashing", ablate="passages", workers=0)
    assert Settings(**s.model_dump()) == s
