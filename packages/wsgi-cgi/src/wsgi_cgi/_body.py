"""Where a CGI request body ends: how many bytes of the script's stdin are the body.

RFC 3875 section 4.1.2 (CONTENT_LENGTH)::

    CONTENT_LENGTH = "" | 1*digit

    The server MUST set this meta-variable if and only if the request is
    accompanied by a message-body entity. The CONTENT_LENGTH value must reflect
    the length of the message-body after the server has removed any
    transfer-codings or content-codings.

RFC 3875 section 4.2: "the script MUST NOT attempt to read more than CONTENT_LENGTH
bytes, even if more data is available". So an unset or empty ``CONTENT_LENGTH`` is
no body, with one exception servers rely on: a body that arrives without a length
(a chunked upload, RFC 9112 section 7.1) is passed through by some web servers
(Apache's mod_cgi) with no ``CONTENT_LENGTH`` and its ``Transfer-Encoding`` as
``HTTP_TRANSFER_ENCODING`` (RFC 3875 section 4.1.18), and ends where the server
closes the script's stdin. Reading to EOF anywhere else hangs: ``python -m
http.server --cgi`` sets ``CONTENT_LENGTH=""`` for every GET and hands the script
the client's socket, which ends only when the client gives up.
"""

import re

from wsgi_util.types import WSGIEnvironment

# RFC 3875 section 4.1.2: CONTENT_LENGTH = "" | 1*digit (ASCII digits only: str.isdigit
# also takes "\u0661" and "²").
_CONTENT_LENGTH = re.compile(r"[0-9]+")

# RFC 9112 sections 6.1 and 7:
#   Transfer-Encoding = #transfer-coding
#   transfer-coding   = token *( OWS ";" OWS transfer-parameter )
# "chunked" as one element of the list, in any case ("All transfer-coding names are
# case-insensitive").
_CHUNKED_CODING = re.compile(r"(?:^|,)[ \t]*chunked[ \t]*(?=$|[,;])", re.IGNORECASE)


def body_length(environ: WSGIEnvironment) -> int | None:
    """Return how many bytes of stdin are the request body, or ``None`` when the body
    ends at EOF (``wsgi.input_terminated``).

    * ``CONTENT_LENGTH`` of ASCII digits: that many bytes (``"0"``: none). It wins over
      any ``HTTP_TRANSFER_ENCODING``: the server has already removed the
      transfer-coding (RFC 3875 section 4.1.2).
    * ``CONTENT_LENGTH`` unset or empty: no body (RFC 3875 section 4.1.2), unless
      ``HTTP_TRANSFER_ENCODING`` lists ``chunked``: then the server passes a body of
      unknown length and closes stdin after it, so ``None``.
    * anything else (``"-1"``, ``"abc"``, ``" 12"``, ``"1e3"``): no body. The length
      is broken, so nothing is read rather than guessed: reading less than the body
      loses data the server sent, reading more could wait forever.
    """
    content_length: str = environ.get("CONTENT_LENGTH") or ""
    if content_length:
        return int(content_length) if _CONTENT_LENGTH.fullmatch(content_length) else 0
    if _CHUNKED_CODING.search(environ.get("HTTP_TRANSFER_ENCODING") or ""):
        return None
    return 0
