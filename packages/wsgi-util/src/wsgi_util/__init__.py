"""Environ helpers, ``FileWrapper`` and the PEP 3333 types: ``wsgiref.util``, typed.

Every name here matches Python 3.11's ``wsgiref.util`` in signature and behaviour;
``wsgi_util.types`` matches ``wsgiref.types``. Beyond the stdlib, ``request_uri``,
``application_uri`` and ``shift_path_info`` give a valid URI or segment, never an
exception, for a ``PATH_INFO`` or ``SCRIPT_NAME`` without a leading ``/`` (``*`` of
``OPTIONS *``, RFC 9112 section 3.2.4) and for characters beyond latin-1.
"""

from wsgi_util._environ import (
    application_uri,
    guess_scheme,
    request_uri,
    setup_testing_defaults,
    shift_path_info,
)
from wsgi_util._file_wrapper import FileWrapper
from wsgi_util._hop_by_hop import HOP_BY_HOP_HEADERS, is_hop_by_hop

__all__ = [
    "HOP_BY_HOP_HEADERS",
    "FileWrapper",
    "application_uri",
    "guess_scheme",
    "is_hop_by_hop",
    "request_uri",
    "setup_testing_defaults",
    "shift_path_info",
]
