"""The key-share holder's HTTP service (`creditshare keyshare serve`): a separate, small app from the gateway's."""

from creditshare.api.holder.app import create_holder_app

__all__ = ["create_holder_app"]
