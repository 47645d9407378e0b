"""Many strings looked for in each response body at once: the erased PII no later answer may hold.

Looking for each of E strings in each of R bodies one by one costs O(E x R), and E grows with
every call the run deletes: at the thorough budget, or with many deleted calls, that would be
most of the run. `Needles` files each string under `STRIDE` consecutive `PIECE`-byte pieces of it
(the run of pieces that the fewest strings share so far). Wherever a string occurs in a body, one of
those pieces starts at a multiple of `STRIDE` in the body: so a body is cut into the pieces that
start there, once, and only the strings filed under one of them are looked for. That is
O(len(body)) a body, whatever E. Shorter strings are looked for one by one, and so is everything
while there are few.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet

__all__ = ["Needles", "found_in"]

PIECE = 8  # bytes
STRIDE = 4  # a body is cut into the pieces that start at every STRIDE-th byte
SHORTEST = PIECE + STRIDE - 1  # shorter strings are looked for one by one
ONE_BY_ONE = 40  # up to this many strings, `in` one by one is quicker than cutting the body (measured)


class Needles(MutableSet[str]):
    """A set of strings that answers, for a body, which of them it holds (as UTF-8 bytes)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._raw: dict[str, bytes] = {}
        self._short: set[bytes] = set()
        self._filed: dict[bytes, set[bytes]] = {}  # piece -> the strings filed under it
        self._pieces: dict[bytes, list[bytes]] = {}  # string -> the pieces it is filed under
        for value in values:
            self.add(value)

    def __contains__(self, value: object) -> bool:
        return value in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"Needles({sorted(self._raw)!r})"

    def add(self, value: str) -> None:
        if value in self._raw:
            return
        raw = self._raw[value] = value.encode()
        if len(raw) < SHORTEST:
            self._short.add(raw)
            return
        shared = [len(self._filed.get(raw[i : i + PIECE], ())) for i in range(len(raw) - PIECE + 1)]
        # The run whose most shared piece is the least shared; on a tie the last (ids and marks end strings).
        start = min(range(len(raw) - SHORTEST + 1), key=lambda i: (max(shared[i : i + STRIDE]), -i))
        # Distinct: in a string that repeats itself ("ééééé") two of the run's pieces can be the same.
        pieces = list(dict.fromkeys(raw[start + j : start + j + PIECE] for j in range(STRIDE)))
        for piece in pieces:
            self._filed.setdefault(piece, set()).add(raw)
        self._pieces[raw] = pieces

    def discard(self, value: str) -> None:
        raw = self._raw.pop(value, None)
        if raw is None:
            return
        self._short.discard(raw)
        for piece in self._pieces.pop(raw, []):
            self._filed[piece].discard(raw)
            if not self._filed[piece]:
                del self._filed[piece]

    def found_in(self, body: bytes) -> list[str]:
        """The strings `body` holds, sorted."""
        if len(self._raw) <= ONE_BY_ONE:
            return sorted(value for value, raw in self._raw.items() if raw in body)
        found = {raw for raw in self._short if raw in body}
        if self._filed and len(body) >= SHORTEST:
            pieces = {body[i : i + PIECE] for i in range(0, len(body) - PIECE + 1, STRIDE)}
            for piece in pieces & self._filed.keys():
                found |= {raw for raw in self._filed[piece] if raw in body}
        return sorted(raw.decode() for raw in found)


def found_in(values: Iterable[str], body: bytes) -> list[str]:
    """The strings of `values` that `body` holds, sorted (any collection; `Needles` in O(len(body)))."""
    if isinstance(values, Needles):
        return values.found_in(body)
    return sorted(value for value in values if value.encode() in body)
