"""One exception tree for the whole package.

Chain errors (connection failures, decoded custom errors) are translated into it in `chain.py`; HTTP errors are
made only in the API layer.
"""

from __future__ import annotations

from typing import Any


class CreditShareError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(CreditShareError):
    """Raised when settings are missing, malformed or unsafe (e.g. a placeholder secret outside development)."""


class SchemaVersionError(ConfigError):
    """Raised when the database's schema revision is not the one this creditshare needs: behind it (or created
    before migrations), ahead of it, or unknown to it. The message says which, and the command that fixes it."""


class ToolchainError(CreditShareError):
    """Raised when the offline toolchain (node, solcjs, ganache) is missing or fails."""


class ArtifactError(CreditShareError):
    """Raised when a compiled contract artifact is missing or does not match the sources."""


class ChainError(CreditShareError):
    """Raised when talking to the chain fails."""


class ChainUnavailable(ChainError):
    """Raised when the JSON-RPC endpoint cannot be reached or does not answer in time."""


class TransactionFailed(ChainError):
    """Raised when a transaction was mined but reverted without a decodable reason."""


class ContractRevert(ChainError):
    """Raised when a call or transaction reverts with a custom error declared in our contract interfaces.

    `name` is the error's name (e.g. ``LedgerBatchOutOfOrder``) and `args` its decoded arguments, so callers can
    react to specific conditions without parsing messages.
    """

    def __init__(self, name: str, args: tuple[Any, ...], selector: str) -> None:
        self.name = name
        self.args_ = args
        self.selector = selector
        super().__init__(f"{name}{args!r}" if args else f"{name}()")


class DeploymentError(CreditShareError):
    """Raised when a deployment file is missing, malformed or points at contracts that are not there."""
