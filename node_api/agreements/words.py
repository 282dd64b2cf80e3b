"""Amounts in words, as an agreement writes them next to the figures."""

from __future__ import annotations

from chain.money import MINOR_UNITS

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
         "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**15, "quadrillion"), (10**12, "trillion"), (10**9, "billion"), (10**6, "million"),
           (10**3, "thousand"))

#: Currency names for the words: (major unit singular, plural, minor unit plural).
CURRENCY_WORDS: dict[str, tuple[str, str, str]] = {
    "USD": ("US dollar", "US dollars", "cents"), "EUR": ("euro", "euros", "cents"),
    "GBP": ("pound sterling", "pounds sterling", "pence"), "CNY": ("yuan renminbi", "yuan renminbi", "fen"),
    "SGD": ("Singapore dollar", "Singapore dollars", "cents"), "JPY": ("yen", "yen", ""),
    "KWD": ("Kuwaiti dinar", "Kuwaiti dinars", "fils"),
}


def _below_thousand(n: int) -> str:
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words.append(f"{_ONES[hundreds]} hundred")
    if rest:
        if rest < 20:
            words.append(_ONES[rest])
        else:
            tens, ones = divmod(rest, 10)
            words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    return " ".join(words)


def integer_words(n: int) -> str:
    """``1250000`` -> ``one million two hundred fifty thousand``."""
    if n < 0:
        return "minus " + integer_words(-n)
    if n == 0:
        return "zero"
    words = []
    for scale, name in _SCALES:
        if n >= scale:
            count, n = divmod(n, scale)
            words.append(f"{integer_words(count)} {name}")
    if n:
        words.append(_below_thousand(n))
    return " ".join(words)


def amount_words(minor: int, currency: str, decimals: int | None = None) -> str:
    """``125000050 USD`` -> ``one million two hundred fifty thousand US dollars and 50 cents``."""
    digits = MINOR_UNITS.get(currency, decimals or 0)
    whole, frac = divmod(int(minor), 10**digits)
    one, many, minor_name = CURRENCY_WORDS.get(currency, (currency, currency, "minor units"))
    text = f"{integer_words(whole)} {one if whole == 1 else many}"
    if digits:
        text += f" and {frac:0{digits}d} {minor_name or 'minor units'}"
    return text


__all__ = ["amount_words", "integer_words"]
