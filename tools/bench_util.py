"""wsgi_util's environ helpers against ``wsgiref.util``, side by side."""

import io
import wsgiref.util

import wsgi_util
from _timing import print_ratio_table

_ENVIRON = {
    "wsgi.url_scheme": "http",
    "HTTP_HOST": "example.org",
    "SERVER_NAME": "example.org",
    "SERVER_PORT": "80",
    "SCRIPT_NAME": "/app",
    "PATH_INFO": "/users/42/profile",
    "QUERY_STRING": "tab=posts",
}
_NO_HOST = {**_ENVIRON, "HTTP_HOST": "", "SERVER_PORT": "8080"}


def _shift(module: object) -> None:
    environ = {"SCRIPT_NAME": "/app", "PATH_INFO": "/a/b/c"}
    shift = module.shift_path_info  # type: ignore[attr-defined]
    while shift(environ) is not None:
        pass


def _defaults(module: object) -> None:
    module.setup_testing_defaults({})  # type: ignore[attr-defined]


def main() -> None:
    """Print the per-call times and the ratio ours/stdlib for each helper."""
    ours, std = wsgi_util, wsgiref.util
    print_ratio_table(
        "wsgi_util (goal: ratio <= 1.0)",
        [
            (
                "guess_scheme",
                lambda: ours.guess_scheme(_ENVIRON),
                lambda: std.guess_scheme(_ENVIRON),
            ),
            (
                "application_uri (no host)",
                lambda: ours.application_uri(_NO_HOST),
                lambda: std.application_uri(_NO_HOST),
            ),
            ("request_uri", lambda: ours.request_uri(_ENVIRON), lambda: std.request_uri(_ENVIRON)),
            ("shift_path_info x3", lambda: _shift(ours), lambda: _shift(std)),
            ("setup_testing_defaults", lambda: _defaults(ours), lambda: _defaults(std)),
            (
                "is_hop_by_hop",
                lambda: ours.is_hop_by_hop("Transfer-Encoding"),
                lambda: std.is_hop_by_hop("Transfer-Encoding"),
            ),
            (
                "FileWrapper over 64 KiB",
                lambda: list(ours.FileWrapper(io.BytesIO(bytes(65536)))),
                lambda: list(std.FileWrapper(io.BytesIO(bytes(65536)))),
            ),
        ],
        number=20000,
    )


if __name__ == "__main__":
    main()
