"""What the submitter does with each ledger revert: wait (a reversible state), or fail the items for good."""

from __future__ import annotations

NOT_ACTIVE_MESSAGE = "the gateway's signer {} is not an active lender of the consortium"

#: Contract errors of a reversible state (a pause, a suspension): the batch's items go back to wait.
WAIT_ERRORS = {"LedgerPaused": "ledger_paused", "LedgerNotActiveLender": "signer_not_active_lender"}

#: Contract errors that no retry can fix: the items fail with the error as their reason.
FATAL_ERRORS = {
    "LedgerZeroKey": "invalid_item",
    "LedgerUnknownItemType": "invalid_item",
    "LedgerInvalidDay": "invalid_item",
    "LedgerInvalidAmounts": "invalid_item",
    "LedgerInvalidPurpose": "invalid_item",
    "LedgerNonZeroPadding": "invalid_item",
    "LedgerInvalidRecordRef": "invalid_original",
    "LedgerNotRecordOwner": "not_record_owner",
}
