"""The request grammar of RFC 9112 and RFC 9110, as regular expressions beside the ABNF.

Each rule is written once, as data, next to the RFC text it transcribes; the parser
only matches against these. Everything works on bytes: a request head is bytes on the
wire, and no decoding happens before the grammar has accepted it.
"""

import re

# RFC 9110 section 5.6.2 (Tokens)
#   token          = 1*tchar
#   tchar          = "!" / "#" / "$" / "%" / "&" / "'" / "*"
#                  / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
#                  / DIGIT / ALPHA
#                  ; any VCHAR, except delimiters
TCHAR = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
TOKEN = TCHAR + rb"+"

# RFC 9112 section 2.3 (HTTP Version)
#   HTTP-version  = HTTP-name "/" DIGIT "." DIGIT
#   HTTP-name     = %s"HTTP"
HTTP_VERSION = rb"HTTP/(?P<major>[0-9])\.(?P<minor>[0-9])"

# RFC 9110 section 9.1 (Methods)
#   method = token
METHOD = TOKEN

# RFC 9112 section 3.2 (Request Target); RFC 3986 for the URI parts.
#   request-target = origin-form / absolute-form / authority-form / asterisk-form
#   origin-form    = absolute-path [ "?" query ]
#   absolute-form  = absolute-URI
#   authority-form = uri-host ":" port
#   asterisk-form  = "*"
#   absolute-path  = 1*( "/" segment )
#   segment = *pchar ; pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
#   query   = *( pchar / "/" / "?" )
# As h11 does, path and query characters are any VCHAR but the fragment delimiter "#"
# (clients send "|", "{" or '"' unencoded); bytes outside US-ASCII, spaces and controls
# are refused, as RFC 3986 requires them percent-encoded.
_PATH_CHAR = rb"[\x21-\x22\x24-\x3e\x40-\x7e]"  # VCHAR except "#" and "?"
_QUERY_CHAR = rb"[\x21-\x22\x24-\x7e]"  # VCHAR except "#"
ORIGIN_FORM = rb"(?P<path>/" + _PATH_CHAR + rb"*)(?:\?(?P<query>" + _QUERY_CHAR + rb"*))?"
#   absolute-URI  = scheme ":" hier-part [ "?" query ]
#   scheme        = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
#   hier-part     = "//" authority path-abempty
#   uri-host    = IP-literal / IPv4address / reg-name
#   reg-name    = *( unreserved / pct-encoded / sub-delims )
#   IP-literal  = "[" ( IPv6address / IPvFuture  ) "]"
#   port        = *DIGIT
URI_HOST = rb"(?:\[[0-9A-Fa-f:.vV]+\]|[-A-Za-z0-9._~!$&'()*+,;=%]*)"
PORT = rb"[0-9]*"
# RFC 9110 section 4.2.1: "A recipient that processes such a URI reference [an "http"
# URI with an empty host identifier] MUST reject it as invalid." The same host, never empty:
NON_EMPTY_URI_HOST = rb"(?:\[[0-9A-Fa-f:.vV]+\]|[-A-Za-z0-9._~!$&'()*+,;=%]+)"
# Only the http and https schemes are meaningful to an origin server. Their authority is
# a host and an optional port, as in Host: RFC 9110 section 4.2.4 forbids the userinfo
# subcomponent ("user:password@") in them, and a port is digits only.
ABSOLUTE_FORM = (
    rb"(?i:https?)://(?P<authority>" + NON_EMPTY_URI_HOST + rb"(?::" + PORT + rb")?)"
    rb"(?P<path>(?:/" + _PATH_CHAR + rb"*)?)(?:\?(?P<query>" + _QUERY_CHAR + rb"*))?"
)
# RFC 9112 section 3.2.3; RFC 9110 section 9.3.6 for CONNECT, the only method that uses
# it: "There is no default port; a client MUST send the port number", so the port has
# at least one digit here, and the host is the non-empty one of an http URI.
AUTHORITY_FORM = NON_EMPTY_URI_HOST + rb":[0-9]+"
ASTERISK_FORM = rb"\*"

# RFC 9112 section 3 (Request Line)
#   request-line   = method SP request-target SP HTTP-version
# A request-target holds no whitespace; a single SP separates the three parts.
REQUEST_LINE = rb"(?P<method>" + METHOD + rb") (?P<target>[^ ]+) " + HTTP_VERSION

# RFC 9110 section 5.5 (Field Values), RFC 9112 section 5 (Field Syntax)
#   field-line   = field-name ":" OWS field-value OWS
#   field-name   = token
#   field-value    = *field-content
#   field-content  = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
#   field-vchar    = VCHAR / obs-text
#   obs-text       = %x80-FF
#   OWS            = *( SP / HTAB )
# No whitespace is allowed between the field name and the colon (RFC 9112 section
# 5.1: such a request MUST be answered 400), and obs-fold is not accepted (5.2).
FIELD_VALUE = rb"[\t\x20-\x7e\x80-\xff]*"
FIELD_LINE = rb"(?P<name>" + TOKEN + rb"):[ \t]*(?P<value>" + FIELD_VALUE + rb")"

# RFC 9110 section 7.2 (Host and :authority)
#   Host = uri-host [ ":" port ]
HOST = URI_HOST + rb"(?::" + PORT + rb")?"

# RFC 9110 section 8.6 (Content-Length)
#   Content-Length = 1*DIGIT
CONTENT_LENGTH = rb"[0-9]+"

# RFC 9112 section 7.1 (Chunked Transfer Coding)
#   chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
#   chunk-size     = 1*HEXDIG
#   last-chunk     = 1*("0") [ chunk-ext ] CRLF
#   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
#   chunk-ext-name = token
#   chunk-ext-val  = token / quoted-string
# RFC 9110 section 5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
#   qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
#   quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
_QUOTED_STRING = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
CHUNK_EXT = (
    rb"(?:[ \t]*;[ \t]*"
    + TOKEN
    + rb"(?:[ \t]*=[ \t]*(?:"
    + TOKEN
    + rb"|"
    + _QUOTED_STRING
    + rb"))?)*"
)
# The size is compared by value: any number of leading zeros is allowed (the line itself
# is bounded by the body reader), and what is left is at most 16 hex digits there.
CHUNK_SIZE_LINE = rb"(?P<size>[0-9A-Fa-f]+)" + CHUNK_EXT


def _full(pattern: bytes) -> "re.Pattern[bytes]":
    return re.compile(pattern, re.DOTALL)


request_line_re = _full(REQUEST_LINE)
origin_form_re = _full(ORIGIN_FORM)
absolute_form_re = _full(ABSOLUTE_FORM)
authority_form_re = _full(AUTHORITY_FORM)
field_line_re = _full(FIELD_LINE)
token_re = _full(TOKEN)
host_re = _full(HOST)
content_length_re = _full(CONTENT_LENGTH)
chunk_size_line_re = _full(CHUNK_SIZE_LINE)
