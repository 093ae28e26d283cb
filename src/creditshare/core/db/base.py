"""The declarative base every table derives from (its metadata is what migrations compare against)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Base of every creditshare table."""
