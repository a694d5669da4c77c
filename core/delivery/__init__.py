"""Notification delivery: channels resolved to senders, the outbox that records every page and hands it to its
channel, the page payload, and retry timing. The webhook toolkit is in :mod:`tocsin.delivery.webhook`."""
