"""The underwriter console: server-rendered pages for people (underwriters, auditors), served by each gateway at
/console/ beside the JSON API and calling the same `Queries`."""

from creditshare.console.app import install

__all__ = ["install"]
