"""GNU getopt_long as the Slurm commands use it, with glibc's exact error messages.

The fake parses command lines the way the real tools do, so that an abbreviation (``--par``), an
option glued to its value (``-t5``) or a value in the next word (``--time 5``) means the same as it
does on a real cluster, and a mistake gets the real complaint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Arity = Literal["none", "required", "optional"]


@dataclass(frozen=True)
class Option:
    """One option: its long name, short letter (if any), whether it takes a value, and the option it
    is another name of (``alias_of``: the same entry of the command's getopt table, as squeue's
    ``--clusters`` is ``--cluster``), which is what a parse reports."""

    long: str
    short: str | None = None
    arity: Arity = "required"
    alias_of: str | None = None


@dataclass(frozen=True)
class Parsed:
    """One option as given: the option, its value (None if it has none), and how it was spelled."""

    option: Option
    value: str | None
    spelled: str


class GetoptError(Exception):
    """A command line getopt_long rejects; ``message`` is the line it prints (without the prefix)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OptionTable:
    """The options of one command."""

    def __init__(self, options: Iterable[Option]) -> None:
        self.options = tuple(options)
        self.by_long = {o.long: o for o in self.options}
        self.by_short = {o.short: o for o in self.options if o.short}

    def canonical(self, option: Option) -> Option:
        """The option ``option`` is another name of (itself if none)."""
        return self.by_long[option.alias_of] if option.alias_of else option

    def find_long(self, name: str, spelled: str | None = None) -> Option:
        """Exact name, else the option it abbreviates; glibc's messages otherwise (``spelled``: the
        word as given, value included, which glibc's messages quote).

        As glibc does, an abbreviation matching several options is ambiguous only if one of them
        differs from the first match (in the table's order) in its argument or its meaning; the
        message lists the first and those that differ, in the table's order."""
        spelled = spelled if spelled is not None else f"--{name}"
        if name in self.by_long:
            return self.by_long[name]
        matches = [o for o in self.options if o.long.startswith(name)]
        if not matches:
            raise GetoptError(f"unrecognized option '{spelled}'")
        first = matches[0]
        key = (first.arity, self.canonical(first).long)
        differing = [o for o in matches[1:] if (o.arity, self.canonical(o).long) != key]
        if not differing:
            return first
        names = " ".join(f"'--{o.long}'" for o in (first, *differing))
        raise GetoptError(f"option '{spelled}' is ambiguous; possibilities: {names}")

    def parse(self, argv: Sequence[str], *, permute: bool) -> tuple[list[Parsed], list[str]]:
        """Options and positional arguments of ``argv`` (without the program name).

        ``permute`` is GNU's default (options may follow positionals); without it, as for sbatch,
        the first positional argument ends the options (the rest are the script's arguments).
        """
        parsed: list[Parsed] = []
        positionals: list[str] = []
        i = 0
        while i < len(argv):
            word = argv[i]
            i += 1
            if word == "--":
                positionals.extend(argv[i:])
                break
            if word.startswith("--"):
                name, eq, value = word[2:].partition("=")
                option = self.find_long(name, word)
                if option.arity == "none" and eq:
                    raise GetoptError(f"option '--{option.long}' doesn't allow an argument")
                if option.arity == "required" and not eq:
                    if i >= len(argv):
                        raise GetoptError(f"option '--{option.long}' requires an argument")
                    value, eq = argv[i], "="
                    i += 1
                parsed.append(Parsed(self.canonical(option), value if eq else None, word))
                continue
            if word.startswith("-") and word != "-":
                j = 1
                while j < len(word):
                    letter = word[j]
                    option_or_none = self.by_short.get(letter)
                    if option_or_none is None:
                        raise GetoptError(f"invalid option -- '{letter}'")
                    option = option_or_none
                    rest = word[j + 1:]
                    if option.arity == "none":
                        parsed.append(Parsed(self.canonical(option), None, f"-{letter}"))
                        j += 1
                        continue
                    if rest:
                        parsed.append(Parsed(self.canonical(option), rest, word))
                    elif option.arity == "optional":
                        parsed.append(Parsed(self.canonical(option), None, word))
                    elif i < len(argv):
                        parsed.append(Parsed(self.canonical(option), argv[i], f"-{letter}"))
                        i += 1
                    else:
                        raise GetoptError(f"option requires an argument -- '{letter}'")
                    break
                continue
            positionals.append(word)
            if not permute:
                positionals.extend(argv[i:])
                break
        return parsed, positionals
