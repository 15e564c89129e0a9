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
    """One option: its long name, short letter (if any) and whether it takes a value."""

    long: str
    short: str | None = None
    arity: Arity = "required"


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

    def find_long(self, name: str) -> Option:
        """Exact name, else the one option it abbreviates; glibc's messages otherwise."""
        if name in self.by_long:
            return self.by_long[name]
        matches = [o for o in self.options if o.long.startswith(name)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise GetoptError(f"unrecognized option '--{name}'")
        names = " ".join(f"'--{o.long}'" for o in matches)
        raise GetoptError(f"option '--{name}' is ambiguous; possibilities: {names}")

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
                try:
                    option = self.find_long(name)
                except GetoptError as exc:
                    if "unrecognized" in exc.message:
                        raise GetoptError(f"unrecognized option '{word}'") from None
                    raise
                if option.arity == "none" and eq:
                    raise GetoptError(f"option '--{option.long}' doesn't allow an argument")
                if option.arity == "required" and not eq:
                    if i >= len(argv):
                        raise GetoptError(f"option '--{option.long}' requires an argument")
                    value, eq = argv[i], "="
                    i += 1
                parsed.append(Parsed(option, value if eq else None, word))
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
                        parsed.append(Parsed(option, None, f"-{letter}"))
                        j += 1
                        continue
                    if rest:
                        parsed.append(Parsed(option, rest, word))
                    elif option.arity == "optional":
                        parsed.append(Parsed(option, None, word))
                    elif i < len(argv):
                        parsed.append(Parsed(option, argv[i], f"-{letter}"))
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
