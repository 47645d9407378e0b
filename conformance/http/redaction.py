"""Secrets never leak: API keys, webhook tokens and the fixtures token are replaced in every
report, log and reproduction.

Redaction is structural where it can be: the values of the credential headers and the path
segment after `/hooks/` are always replaced, even when they hold a variant of a secret (a
truncated token, a key in other case) that a substring search would miss. Known secrets become
the shell variable that holds them (`${HUSKY_API_KEY}`), so a reproduction runs as it is once the
variables are set; anything else in those places becomes `[REDACTED]`.
"""

from __future__ import annotations

import re
import weakref

__all__ = ["SENSITIVE_HEADERS", "Secrets"]

SENSITIVE_HEADERS = frozenset({"authorization", "x-api-key", "x-fixtures-token"})
MIN_SUBSTRING = 8  # shorter values are redacted only where they stand, not wherever they occur
REDACTED = "[REDACTED]"
_HOOK_SEGMENT = re.compile(r"(/hooks/)([^/?#\s]*)", re.IGNORECASE)  # no raw whitespace in a URL: free text goes on
_LIVE: weakref.WeakSet[Secrets] = weakref.WeakSet()  # every store of the process (`Secrets.known`)
_MARK = "\0"  # placeholders travel as \0NAME\0 until `render` decides how to write them


class Secrets:
    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        _LIVE.add(self)

    @classmethod
    def known(cls) -> Secrets:
        """Every secret any store of this process holds: for a crash, whose store may be out of reach."""
        found = cls()
        for store in list(_LIVE):
            found._names.update(store._names)
        return found

    def __repr__(self) -> str:
        return f"Secrets({len(self._names)} held)"

    def add(self, value: str | None, name: str) -> None:
        if value:
            self._names[value] = name

    def _placeholder(self, value: str) -> str:
        name = self._names.get(value)
        return f"{_MARK}{name}{_MARK}" if name else REDACTED

    def _substrings(self, text: str) -> str:
        for value in sorted(self._names, key=len, reverse=True):
            if len(value) >= MIN_SUBSTRING:
                text = text.replace(value, f"{_MARK}{self._names[value]}{_MARK}")
        return text

    def mark_header(self, name: str, value: str) -> str:
        if name.lower() not in SENSITIVE_HEADERS:
            return self._substrings(value)
        scheme, _, rest = value.partition(" ")
        if name.lower() == "authorization" and rest:
            return f"{scheme} {self._placeholder(rest)}"
        return self._placeholder(value) if value else value

    def mark_url(self, url: str) -> str:
        from urllib.parse import unquote

        url = _HOOK_SEGMENT.sub(lambda m: m.group(1) + self._placeholder(unquote(m.group(2))), url)
        return self._substrings(url)

    def mark_text(self, text: str) -> str:
        return self._substrings(text)

    @staticmethod
    def render(marked: str, *, shell: bool = False) -> str:
        """Placeholders as `${NAME}`; with `shell`, a double-quoted word where only they expand."""
        if not shell:
            return re.sub(f"{_MARK}([^{_MARK}]*){_MARK}", r"${\1}", marked)
        for char in ("\\", '"', "`", "$"):
            marked = marked.replace(char, "\\" + char)
        parts = marked.split(_MARK)
        return '"' + "".join("${" + p + "}" if i % 2 else p for i, p in enumerate(parts)) + '"'

    def redact(self, text: str) -> str:
        """Free text (messages, log lines) with every known secret and webhook path redacted."""
        return self.render(self.mark_url(text))
