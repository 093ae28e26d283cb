"""Why a report was requested: the purpose codes of on-chain inquiries."""

from __future__ import annotations

from enum import IntEnum


class Purpose(IntEnum):
    """Why a report was requested (the on-chain inquiry's purpose code)."""

    LOAN_APPLICATION = 1  # pre-loan review: the only purpose counted as a "recent inquiry"
    POST_LOAN = 2
    GUARANTEE = 3
    DISPUTE_VERIFICATION = 4
    REGULATORY = 5
    OWN_REPORT = 6  # the person's own request (征信业管理条例 art. 17): never an application, free twice a year

    @property
    def label(self) -> str:
        return self.name.lower()
