"""A typed reader over parsed TOML that reports the file and key path on every error."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from healthbridge.clinical.ages import Age, parse_age
from healthbridge.clinical.errors import RuleTableError
from healthbridge.clinical.vocab import Evidence

E = TypeVar("E", bound=StrEnum)


class Reader:
    """Read typed values from one TOML table; ``where`` names the file and key path."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self._data = data
        self.where = where

    def _fail(self, key: str, message: str) -> RuleTableError:
        return RuleTableError(f"{self.where}.{key}: {message}")

    def mapping(self) -> dict[str, Any]:
        """A shallow copy of the underlying table (for overlay merging)."""
        return dict(self._data)

    def has(self, key: str) -> bool:
        return key in self._data

    def raw(self, key: str) -> Any:
        if key not in self._data:
            raise self._fail(key, "missing")
        return self._data[key]

    def text(self, key: str, default: str | None = None) -> str:
        if key not in self._data and default is not None:
            return default
        value = self.raw(key)
        if not isinstance(value, str):
            raise self._fail(key, f"expected text, got {value!r}")
        return value

    def opt_text(self, key: str) -> str | None:
        return self.text(key) if key in self._data else None

    def number(self, key: str, default: float | None = None) -> float:
        if key not in self._data and default is not None:
            return default
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, f"expected a number, got {value!r}")
        return float(value)

    def opt_number(self, key: str) -> float | None:
        return self.number(key) if key in self._data else None

    def integer(self, key: str, default: int | None = None) -> int:
        if key not in self._data and default is not None:
            return default
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, f"expected an integer, got {value!r}")
        return value

    def boolean(self, key: str, default: bool | None = None) -> bool:
        if key not in self._data and default is not None:
            return default
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self._fail(key, f"expected true/false, got {value!r}")
        return value

    def day(self, key: str) -> date:
        value = self.raw(key)
        if not isinstance(value, date):
            raise self._fail(key, f"expected a TOML date, got {value!r}")
        return value

    def age(self, key: str) -> Age:
        text = self.text(key)
        try:
            return parse_age(text)
        except RuleTableError as exc:
            raise self._fail(key, str(exc)) from exc

    def opt_age(self, key: str) -> Age | None:
        return self.age(key) if key in self._data else None

    def texts(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if key not in self._data and default is not None:
            return default
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, f"expected a list of text, got {value!r}")
        return tuple(value)

    def enum(self, key: str, enum: type[E], default: E | None = None) -> E:
        if key not in self._data and default is not None:
            return default
        text = self.text(key)
        try:
            return enum(text)
        except ValueError as exc:
            allowed = ", ".join(e.value for e in enum)
            raise self._fail(key, f"{text!r} is not one of {allowed}") from exc

    def evidence(self, key: str = "evidence", default: Evidence | None = None) -> Evidence:
        return self.enum(key, Evidence, default)

    def table(self, key: str) -> Reader:
        value = self.raw(key)
        if not isinstance(value, Mapping):
            raise self._fail(key, "expected a table")
        return Reader(value, f"{self.where}.{key}")

    def tables(self, key: str, *, required: bool = True) -> tuple[Reader, ...]:
        if key not in self._data and not required:
            return ()
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self._fail(key, "expected an array of tables")
        if required and not value:
            raise self._fail(key, "must not be empty")
        return tuple(Reader(v, f"{self.where}.{key}[{i}]") for i, v in enumerate(value))
