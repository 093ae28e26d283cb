"""The gateway's HTTP API (FastAPI): one router per resource, auth and services as dependencies."""

from creditshare.api.app import create_app

__all__ = ["create_app"]
