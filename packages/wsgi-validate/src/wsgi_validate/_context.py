"""What happens when a rule is broken (raise, warn or record) and the per-request state.

``_Policy`` is fixed when ``validator()`` wraps an application; ``_Exchange`` lives for
one request and remembers what the checks of later phases need: the request method,
how much of ``wsgi.input`` is left, the status and Content-Length of the response and
how many body bytes the application produced.
"""

import warnings

from wsgi_validate._report import ValidationReport, Violation
from wsgi_validate._rules import RULES

__all__ = ["WSGIWarning"]


class WSGIWarning(Warning):
    """Raised in response to WSGI-spec-related warnings."""


def _request_label(environ: object) -> str:
    """Return ``"METHOD /script/path"`` for *environ*, or ``""`` if it cannot tell."""
    if type(environ) is not dict:
        return ""
    parts = (environ.get(k, "") for k in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO"))
    method, script, path = (p if type(p) is str else "" for p in parts)
    return f"{method} {script}{path}".strip()


class _Policy:
    """How broken rules are handled: raise (or warn), or record into a report."""

    __slots__ = ("ignored", "report", "strict")

    def __init__(
        self, report: ValidationReport | None, strict: bool, ignored: frozenset[str]
    ) -> None:
        self.report = report
        self.strict = strict
        self.ignored = ignored

    def raises(self, rule_id: str) -> bool:
        """Return true if breaking *rule_id* raises (or warns) rather than records."""
        return self.report is None and rule_id not in self.ignored

    def fail(self, rule_id: str, args: tuple[object, ...], environ: object) -> None:
        """Handle a broken rule: raise, warn, record, or ignore it as configured."""
        if rule_id in self.ignored:
            return
        rule = RULES[rule_id]
        if self.report is not None:
            self.report.add(
                Violation(
                    rule.id,
                    rule.side,
                    rule.format(args),
                    rule.reference,
                    rule.severity,
                    _request_label(environ),
                )
            )
        elif rule.severity == "warning":
            # Five frames up is whoever called the validator's entry point: the
            # application calling start_response, the server calling the app, or the
            # caller of a public check_* function.
            warnings.warn(rule.format(args), WSGIWarning, stacklevel=5)
        elif rule.message is None:
            raise AssertionError
        else:
            raise AssertionError(rule.format(args))


STDLIB_POLICY = _Policy(None, True, frozenset())
"""Raise like ``wsgiref.validate``: what the public ``check_*`` functions use."""

_NO_BODY = frozenset({204, 304})


class _Exchange:
    """The state of one request/response through the validator."""

    __slots__ = (
        "body_allowed",
        "body_flagged",
        "declared_length",
        "environ",
        "file_wrapped",
        "head",
        "headers_sent",
        "input_left",
        "items_expected",
        "items_yielded",
        "policy",
        "produced",
        "reraised",
        "returned",
        "started",
        "status_code",
        "watch_body",
    )

    def __init__(self, policy: _Policy, environ: object = None) -> None:
        self.policy = policy
        self.environ = environ
        # stdlib's start_response_started: appended to on each start_response call.
        self.started: list[None] = []
        self.head = False
        self.input_left: int | None = None
        self.headers_sent = False
        self.status_code: int | None = None
        self.declared_length: int | None = None
        self.produced = 0
        self.body_allowed = True
        self.body_flagged = False
        self.watch_body = False
        # start_response re-raised exc_info: the application must not go on.
        self.reraised = False
        # The application returned its iterable: write() must not be called any more.
        self.returned = False
        # len() of the iterable (None if it has no working __len__), and items seen.
        self.items_expected: int | None = None
        self.items_yielded = 0
        # The last iterable wsgi.file_wrapper returned (the server's own type).
        self.file_wrapped: object = None

    def fail(self, rule_id: str, *args: object) -> None:
        """Handle a broken rule under this request's policy."""
        self.policy.fail(rule_id, args, self.environ)

    # -- the response ---------------------------------------------------------------

    def set_response(self, code: int | None, declared_length: int | None) -> None:
        """Remember the status and Content-Length just passed to start_response."""
        self.status_code = code
        self.declared_length = declared_length
        self.produced = 0
        self.body_flagged = False
        if code is None:
            self.body_allowed = True
            self.watch_body = False
            return
        self.body_allowed = not self.head and code >= 200 and code not in _NO_BODY
        self.watch_body = not self.body_allowed or declared_length is not None

    def on_body(self, size: int) -> None:
        """Account for *size* (> 0) body bytes the application produced."""
        self.headers_sent = True
        self.produced += size
        if self.watch_body:
            self._check_body()

    def _check_body(self) -> None:
        produced = self.produced
        if not self.body_allowed:
            if not self.body_flagged:
                self.body_flagged = True
                if self.head:
                    self.fail("head-response-body", produced)
                else:
                    self.fail("body-not-allowed", self.status_code, produced)
            return
        declared = self.declared_length
        if declared is not None and produced > declared and not self.body_flagged:
            self.body_flagged = True
            self.fail("content-length-mismatch", declared, f"more ({produced} bytes)")

    def on_trapped(self) -> None:
        """The application went on after start_response re-raised its exc_info."""
        self.reraised = False
        self.fail("exc-info-trapped")

    def on_body_end(self) -> None:
        """Check the body length once the application's iterable is exhausted."""
        expected = self.items_expected
        if expected is not None and self.items_yielded != expected:
            self.items_expected = None
            self.fail("iterator-length", expected, self.items_yielded)
        declared = self.declared_length
        if (
            declared is not None
            and self.body_allowed
            and self.produced < declared
            and not self.body_flagged
        ):
            self.body_flagged = True
            self.fail("content-length-mismatch", declared, f"{self.produced} bytes")


STDLIB_EXCHANGE = _Exchange(STDLIB_POLICY)
"""The exchange of wrappers built on their own, outside ``validator()``."""
