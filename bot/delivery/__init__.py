"""Delivery (Alertmanager's notify stage): the outbox drain, the pacer, Telegram error classification,
message texts, the quiet-hours summary, the digest and the pinned status."""
