"""Typed errors of the exchange layer (turned into an OperationOutcome by ``api/errors.py``)."""

from __future__ import annotations


class ExchangeError(ValueError):
    """Base class: an import or export input cannot be used."""


class SessionFileError(ExchangeError):
    """A session file as a whole cannot be read (format, encoding, missing columns).

    Carries the message in both languages; ``str(error)`` is the English one.
    """

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en


class ExportInputError(ExchangeError):
    """The measurements handed to an exporter lack a column or hold impossible values."""
