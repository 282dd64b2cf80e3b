"""Exact money: integer minor units with an explicit ISO 4217 currency. No floats anywhere."""

from __future__ import annotations

from dataclasses import dataclass

# ISO 4217 minor-unit exponents for the currencies the network settles in.
MINOR_UNITS: dict[str, int] = {"USD": 2, "EUR": 2, "CNY": 2, "GBP": 2, "SGD": 2, "JPY": 0, "KWD": 3}

#: The largest amount the API accepts for one money value: 10^15 major units (a quadrillion: far
#: above any trade), and in any case below 2^96 minor units, so sums of many amounts stay far
#: inside uint256 and every value fits the read model exactly.
MAX_MAJOR_UNITS = 10**15
MAX_MINOR_UNITS = 2**96 - 1

_ASCII_DIGITS = frozenset("0123456789")


def max_minor(currency: str) -> int:
    """The largest amount of `currency`, in minor units, that the API accepts."""
    return min(MAX_MAJOR_UNITS * 10 ** MINOR_UNITS[currency], MAX_MINOR_UNITS)


def is_ascii_digits(text: str) -> bool:
    """Only 0-9 (``str.isdigit`` also accepts Arabic-Indic, full-width, superscript digits...)."""
    return bool(text) and all(c in _ASCII_DIGITS for c in text)


class MoneyError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Money:
    currency: str
    minor: int  # amount in the currency's minor unit

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError(f"amount must be an integer number of minor units, got {self.minor!r}")
        if self.currency not in MINOR_UNITS:
            raise MoneyError(f"unknown currency {self.currency!r}")

    @classmethod
    def parse(cls, currency: str, text: str) -> "Money":
        """'1250000.50' -> Money('USD', 125000050); rejects more decimals than the currency has."""
        digits = MINOR_UNITS.get(currency)
        if digits is None:
            raise MoneyError(f"unknown currency {currency!r}")
        neg = text.startswith("-")
        whole, _, frac = text.lstrip("-").replace(",", "").partition(".")
        if not is_ascii_digits(whole) or (frac and not is_ascii_digits(frac)) or len(frac) > digits:
            raise MoneyError(f"{text!r} is not an amount in {currency} (max {digits} decimals)")
        minor = int(whole) * 10**digits + int(frac.ljust(digits, "0") or 0)
        return cls(currency, -minor if neg else minor)

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.currency, self.minor + other.minor)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.currency, self.minor - other.minor)

    def _same(self, other: "Money") -> None:
        if self.currency != other.currency:
            raise MoneyError(f"cannot combine {self.currency} and {other.currency}")

    def __str__(self) -> str:
        digits = MINOR_UNITS[self.currency]
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), 10**digits)
        text = f"{whole:,}" + (f".{frac:0{digits}d}" if digits else "")
        return f"{self.currency} {sign}{text}"


def fmt(minor: int, currency: str) -> str:
    return str(Money(currency, minor))
