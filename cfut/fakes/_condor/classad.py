"""Job ClassAds for the fake HTCondor: values, the output forms of condor_q/condor_history, and the
small part of the ClassAd expression language that ``-constraint`` needs.

Values are Python ``int``, ``float``, ``bool``, ``str`` or :class:`Expr` (an expression kept as text,
e.g. ``Requirements``). Output forms follow the reference (section 2.3): ``-af`` prints strings
unquoted and ``undefined`` for a missing attribute; ``-long`` prints sorted ``Attr = value`` lines and
a blank line after each ad; ``-json`` prints ``[``, ads separated by ``,``, ``]``, with non-literal
expressions as ``"\\/Expr(...)\\/"``. The tests parse both with ``classad2``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from .._errors import FakeUnsupported


@dataclass(frozen=True)
class Expr:
    """A ClassAd expression that is not a literal; printed as written, never evaluated."""

    text: str


Value = Union[int, float, bool, str, Expr]  # noqa: UP007 - a runtime alias on Python 3.10
Ad = Mapping[str, Value]


def lookup(ad: Ad, name: str) -> Value | None:
    """Attribute names are case-insensitive in ClassAds."""
    if name in ad:
        return ad[name]
    lower = name.lower()
    for key, value in ad.items():
        if key.lower() == lower:
            return value
    return None


def quote_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: Value) -> str:
    """A value as ``-long`` and ``-af:V`` print it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, Expr):
        return value.text
    return repr(value)


def af_text(value: Value | None, *, quoted: bool = False, raw: bool = False) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, Expr):
        if not raw:
            raise FakeUnsupported(f"evaluating the expression {value.text!r} for -af; use the :r qualifier")
        return value.text
    if isinstance(value, str) and not quoted:
        return value
    return literal(value)


def long_form(ads: Sequence[Ad]) -> str:
    out = []
    for ad in ads:
        for name in sorted(ad, key=str.lower):
            out.append(f"{name} = {literal(ad[name])}\n")
        out.append("\n")
    return "".join(out)


def _json_value(value: Value) -> str:
    if isinstance(value, Expr):
        return json.dumps(f"/Expr({value.text})/").replace("/", "\\/")
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def json_form(ads: Sequence[Ad], *, empty_brackets: bool) -> str:
    """condor_q prints nothing for no ads; condor_history prints ``[`` and ``]`` regardless."""
    if not ads:
        return "[\n]\n" if empty_brackets else ""
    parts = []
    for i, ad in enumerate(ads):
        entries = ",".join(f'\n  "{name}": {_json_value(ad[name])}' for name in sorted(ad, key=str.lower))
        parts.append(("[\n" if i == 0 else ",\n") + "{" + entries + "\n}\n")
    return "".join(parts) + "]\n"


_CONVERSION = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?([dioxXeEfgGsvV%])")


def format_one(fmt: str, value: Value | None) -> str | None:
    """One ``-format FMT Attr``: None when the attribute is missing (HTCondor skips it)."""
    conversions = [m for m in _CONVERSION.finditer(fmt) if m.group(1) != "%"]
    if len(conversions) != 1:
        raise FakeUnsupported(f"-format needs exactly one conversion, got {fmt!r}")
    if value is None:
        return None
    kind = conversions[0].group(1)
    start, end = conversions[0].span()
    spec = fmt[start:end]
    if kind in "vV":
        text = af_text(value, quoted=kind == "V", raw=True)
        return (fmt[:start] + "%s" + fmt[end:]) % text
    if isinstance(value, Expr):
        raise FakeUnsupported(f"-format {spec} of the expression {value.text!r}")
    if kind == "s" and isinstance(value, bool):
        value = "true" if value else "false"
    try:
        return fmt % value
    except TypeError as exc:
        raise FakeUnsupported(f"-format {fmt!r} of {value!r}: {exc}") from exc


# ---------------------------------------------------------------- -constraint


_TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\d+)|(\"(?:[^\"\\]|\\.)*\")|(=\?=|=!=|==|!=|<=|>=|&&|\|\||[()<>!])"
                    r"|([A-Za-z_][A-Za-z0-9_.]*))")


class ConstraintError(ValueError):
    """The expression cannot be parsed (condor_q: ``-- Parse error in constraint expression``)."""


class _Parser:
    """A recursive-descent parser for ``||``, ``&&``, ``!``, comparisons, literals and attributes:
    enough for the constraints cfut and typical tests write. Anything else is a parse error here,
    reported as :class:`FakeUnsupported` by the caller when the expression is valid ClassAd."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise ConstraintError(text)
            number, string, op, name = match.groups()
            if number is not None:
                self.tokens.append(("num", number))
            elif string is not None:
                self.tokens.append(("str", string))
            elif op is not None:
                self.tokens.append(("op", op))
            else:
                self.tokens.append(("name", name))
            pos = match.end()
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ConstraintError("unexpected end")
        self.i += 1
        return token

    def parse(self) -> Any:
        tree = self.or_()
        if self.peek() is not None:
            raise ConstraintError(f"unexpected {self.peek()}")
        return tree

    def or_(self) -> Any:
        left = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            left = ("||", left, self.and_())
        return left

    def and_(self) -> Any:
        left = self.compare()
        while self.peek() == ("op", "&&"):
            self.take()
            left = ("&&", left, self.compare())
        return left

    def compare(self) -> Any:
        left = self.unary()
        token = self.peek()
        if token and token[0] == "op" and token[1] in ("==", "!=", "=?=", "=!=", "<", ">", "<=", ">="):
            self.take()
            return (token[1], left, self.unary())
        return left

    def unary(self) -> Any:
        token = self.take()
        kind, text = token
        if token == ("op", "!"):
            return ("!", self.unary())
        if token == ("op", "("):
            inner = self.or_()
            if self.take() != ("op", ")"):
                raise ConstraintError("missing )")
            return inner
        if kind == "num":
            return ("lit", float(text) if "." in text else int(text))
        if kind == "str":
            return ("lit", json.loads(text))
        if kind == "name":
            if text.lower() in ("true", "false"):
                return ("lit", text.lower() == "true")
            if text.lower() == "undefined":
                return ("lit", None)
            return ("attr", text)
        raise ConstraintError(f"unexpected {text}")


def _eval(tree: Any, ad: Ad) -> Any:
    op = tree[0]
    if op == "lit":
        return tree[1]
    if op == "attr":
        value = lookup(ad, tree[1])
        if isinstance(value, Expr):
            raise FakeUnsupported(f"evaluating the expression attribute {tree[1]} in a constraint")
        return value
    if op == "!":
        value = _eval(tree[1], ad)
        return None if value is None else not value
    left, right = _eval(tree[1], ad), _eval(tree[2], ad)
    if op == "=?=":  # "is identical to": same type and value, strings compared with their case
        return type(left) is type(right) and left == right
    if op == "=!=":
        return not (type(left) is type(right) and left == right)
    if op in ("&&", "||"):
        if op == "&&":
            return False if left is False or right is False else (None if None in (left, right) else True)
        return True if left is True or right is True else (None if None in (left, right) else False)
    if left is None or right is None:
        return None
    if op == "==":
        return _same(left, right)
    if op == "!=":
        return not _same(left, right)
    try:
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
    except TypeError:
        return None


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()  # == on strings ignores case in ClassAds
    return bool(left == right)


def compile_constraint(text: str) -> Any:
    return _Parser(text).parse()


def attributes(tree: Any) -> set[str]:
    """The attribute names a compiled constraint refers to."""
    if tree[0] == "attr":
        return {tree[1]}
    if tree[0] == "lit":
        return set()
    return set().union(*(attributes(part) for part in tree[1:]))


def matches(tree: Any, ad: Ad) -> bool:
    """A constraint selects an ad only when it evaluates to true (undefined does not match)."""
    return _eval(tree, ad) is True
