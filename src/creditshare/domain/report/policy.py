"""The report policy: the thresholds and grading rules a report is folded with (data/policy.json by default)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from creditshare.core.exceptions import ConfigError


class Rule(BaseModel):
    code: str
    grade: Literal["A", "B", "C", "D", "E"]
    metric: str
    min: int
    text: str


class Policy(BaseModel):
    """Thresholds of the report (package default: data/policy.json; override with a file of the same shape)."""

    version: str
    negative_info_years: int = Field(5, ge=1)
    dispute_verification_days: int = Field(20, ge=1)
    disputed_in_grade: Literal["kept", "left_out"] = Field(
        "kept", description="whether loans with an open dispute count in the grade (a reason says which)"
    )
    history_months: int = Field(24, ge=1, le=120)
    max_loans_listed: int = Field(
        100, ge=1, le=10_000, description="loans a report lists per lender (the summary counts all)"
    )
    rules: list[Rule]

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        try:
            text = (
                path.read_text("utf-8")
                if path
                else resources.files("creditshare.data").joinpath("policy.json").read_text("utf-8")
            )
            return cls.model_validate(json.loads(text))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"report policy {path or 'default'} is unreadable: {exc}") from exc
