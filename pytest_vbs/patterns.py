"""Path patterns that cannot stall the server: the regular expressions a fault rule's ``path`` may use.

Python's ``re`` holds the GIL for a whole search, so one pattern that backtracks catastrophically (``(a+)+$`` on a
path of 30 ``a``s) stalls every thread of the process for seconds; matching outside a lock does not help. A
pattern is checked once, when the rule is made (:func:`check_pattern`), and searched on at most
:data:`MAX_PATH_SEARCHED` characters.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

#: A rule with a ``path`` searches at most this many characters: a longer path (no operation has one) never
#: matches it. With :func:`check_pattern`, this bounds the time one search can take.
MAX_PATH_SEARCHED = 200
#: The most backtracking steps :func:`check_pattern` lets a pattern promise on :data:`MAX_PATH_SEARCHED`
#: characters: two unbounded quantifiers and two optional ones (about 0.1 s of ``re``'s time at worst).
PATTERN_BUDGET = 4 * 10**7


def check_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled, if a search of it on :data:`MAX_PATH_SEARCHED` characters cannot backtrack for long.

    Python's ``re`` holds the GIL for a whole search, so one catastrophic pattern (``(a+)+$``) would stall every
    thread of the server for seconds. Refused, with a ``ValueError``: a repeated group that contains a
    quantifier or an alternation, a backreference, and quantifiers whose combinations on that many characters
    exceed :data:`PATTERN_BUDGET` (three ``.*`` do; two do not)."""
    try:
        compiled = re.compile(pattern)
        steps = MAX_PATH_SEARCHED * _choices(_parse(pattern))
    except re.error as error:
        raise ValueError(f"path is not a valid regular expression: {error}") from None
    except RecursionError:
        raise ValueError("path nests groups too deeply") from None
    except _Catastrophic as error:
        raise ValueError(f"path {pattern!r} could take exponential time to search: {error}") from None
    if steps > PATTERN_BUDGET:
        raise ValueError(f"path {pattern!r} has too many quantifiers: a search could take seconds (at most "
                         "two unbounded ones such as '.*' or '+', and two optional ones such as '?')")
    return compiled


class _Catastrophic(Exception):
    pass


def _parse(pattern: str) -> Any:
    parser: Any = getattr(re, "_parser", None) or importlib.import_module("sre_parse")  # re._parser from 3.11
    return parser.parse(pattern)


_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _choices(items: Iterable[tuple[Any, Any]]) -> int:
    """An upper bound of the ways a search may match ``items`` (a parsed pattern) at one position."""
    total = 1
    for opcode, argument in items:
        name = str(opcode).upper()
        if name in _REPEATS:
            low, high, body = argument
            inner = _choices(body)
            if high > 1 and inner > 1:
                raise _Catastrophic("a repeated group contains a quantifier or an alternation")
            total *= inner * (min(high, MAX_PATH_SEARCHED) - low + 1)
        elif name == "BRANCH":
            total *= sum(_choices(branch) for branch in argument[1])
        elif name in ("SUBPATTERN", "ATOMIC_GROUP", "ASSERT", "ASSERT_NOT"):
            total *= _choices(argument if name == "ATOMIC_GROUP" else argument[-1])
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            raise _Catastrophic("backreferences are not supported")
    return total
