"""Report mode: violations recorded as values instead of raised."""

import threading
from dataclasses import dataclass

from wsgi_validate._rules import Severity, Side


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, as report mode records it.

    ``rule`` is a key of ``RULES``; ``side`` says who broke it (``"application"`` or
    ``"server"``); ``message`` is the text raise mode would raise (or warn) with, or
    the rule's summary where the stdlib raises a bare ``AssertionError``;
    ``reference`` is the section of PEP 3333 or the RFC that states the rule;
    ``request`` is ``"METHOD /path"`` of the request it happened in (empty when
    unknown).
    """

    rule: str
    side: Side
    message: str
    reference: str
    severity: Severity = "error"
    request: str = ""

    def __str__(self) -> str:
        where = f" [{self.request}]" if self.request else ""
        return (
            f"{self.severity} {self.rule} ({self.side}){where}: {self.message} ({self.reference})"
        )


class ValidationReport:
    """Collects the violations of every request validated with ``report=`` it.

    One report can serve many wrapped applications, threads and requests at once;
    ``violations`` keeps them in the order they were found.
    """

    def __init__(self) -> None:
        """Create an empty report."""
        self.violations: list[Violation] = []
        self._lock = threading.Lock()

    def add(self, violation: Violation) -> None:
        """Record *violation* (the validator calls this; tests may too)."""
        with self._lock:
            self.violations.append(violation)

    @property
    def errors(self) -> list[Violation]:
        """The violations that raise mode raises as ``AssertionError``."""
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        """The violations that raise mode emits as ``WSGIWarning``."""
        return [v for v in self.violations if v.severity == "warning"]

    def rules(self) -> set[str]:
        """Return the ids of the rules broken so far."""
        return {v.rule for v in self.violations}

    def clear(self) -> None:
        """Forget every violation recorded so far."""
        with self._lock:
            self.violations.clear()

    def format(self) -> str:
        """Return the violations, one per line (empty string when there are none)."""
        return "\n".join(str(v) for v in self.violations)

    def raise_for_violations(self, *, include_warnings: bool = False) -> None:
        """Raise ``AssertionError`` listing every error (and warning, if asked).

        Does nothing when there are none: call it at the end of a test or a run.
        """
        found = self.violations if include_warnings else self.errors
        if found:
            listing = "\n".join(f"  {v}" for v in found)
            raise AssertionError(f"{len(found)} WSGI violation(s):\n{listing}")

    def __repr__(self) -> str:
        return f"<ValidationReport with {len(self.violations)} violation(s)>"
