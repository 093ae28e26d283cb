"""Request and response models of the key-share holder's API (defined with the wire protocol in
`creditshare.keyshare.wire`, which the gateway's client speaks too)."""

from creditshare.keyshare.wire import EvaluateRequest, EvaluateResponse, LogHead

__all__ = ["EvaluateRequest", "EvaluateResponse", "LogHead"]
