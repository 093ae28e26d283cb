"""Post-loan alerts (owned by `alerts`): what the follower raised for this lender, the subjects it watches
explicitly, and the webhook endpoints alerts are delivered to, with one delivery row per alert and endpoint."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from creditshare.core.clock import utcnow
from creditshare.core.db.base import Base
from creditshare.core.db.tables.index import unique_position


class Alert(Base):
    """One alert: a log of another member about a subject this lender watches, or a dispute against one of its
    records. Keyed by the log's position, so re-reading a range raises nothing twice; `id` is the feed's cursor."""

    __tablename__ = "alerts"
    __table_args__ = (unique_position("alerts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    subject_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    reference: Mapped[str | None] = mapped_column(String(64), nullable=True)  # this lender's own reference
    other_lender: Mapped[str] = mapped_column(String(42))
    occurred_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    block_time: Mapped[int] = mapped_column(BigInteger)
    dispute_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    deadline: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Watch(Base):
    """A subject this lender watches or stops watching explicitly, beyond its open loans, with its reference."""

    __tablename__ = "watchlist"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_key: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    reference: Mapped[str] = mapped_column(String(64))
    watching: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookEndpoint(Base):
    """A receiver of this lender's alerts; `secret` is the Standard Webhooks signing secret, sealed."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(512))
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    removed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookDelivery(Base):
    """One alert to one endpoint: `pending` (retried with exponential backoff), `delivered` or `dead` (the retry
    window passed; listed as a dead letter until re-delivered)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("uq_webhook_deliveries_alert_endpoint", "alert_id", "endpoint_id", unique=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
