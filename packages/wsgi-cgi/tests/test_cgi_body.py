"""Where a CGI request body ends (RFC 3875 section 4.1.2): ``body_length``."""

import pytest
from wsgi_cgi._body import body_length


@pytest.mark.parametrize(
    ("content_length", "length"),
    [("0", 0), ("12", 12), ("012", 12), ("1048576", 1048576)],
)
def test_a_content_length_of_digits_is_the_bodys_length(content_length: str, length: int) -> None:
    assert body_length({"CONTENT_LENGTH": content_length}) == length


@pytest.mark.parametrize("environ", [{}, {"CONTENT_LENGTH": ""}, {"CONTENT_LENGTH": None}])
def test_an_unset_or_empty_content_length_is_no_body(environ: dict[str, object]) -> None:
    assert body_length(environ) == 0


@pytest.mark.parametrize(
    "transfer_encoding",
    [
        "chunked",
        "CHUNKED",
        "gzip, chunked",
        "gzip,chunked",
        " chunked ",
        "chunked;x=1",
        "a,,chunked",
    ],
)
@pytest.mark.parametrize("content_length", [None, ""])
def test_a_chunked_body_without_a_length_ends_at_eof(
    transfer_encoding: str, content_length: str | None
) -> None:
    environ = {"HTTP_TRANSFER_ENCODING": transfer_encoding}
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    assert body_length(environ) is None


@pytest.mark.parametrize(
    "transfer_encoding",
    ["", "gzip", "identity", "xchunked", "chunkedx", "chunked-x", "not chunked"],
)
def test_a_transfer_encoding_without_the_chunked_coding_is_no_body(
    transfer_encoding: str,
) -> None:
    assert body_length({"HTTP_TRANSFER_ENCODING": transfer_encoding}) == 0


def test_content_length_wins_over_transfer_encoding() -> None:
    environ = {"CONTENT_LENGTH": "7", "HTTP_TRANSFER_ENCODING": "chunked"}
    assert body_length(environ) == 7


@pytest.mark.parametrize(
    "content_length", ["-1", "abc", "1e3", "1.0", " 12", "12 ", "+5", "0x10", "\u0661", "\xb2"]
)
@pytest.mark.parametrize("transfer_encoding", [None, "chunked"])
def test_a_malformed_content_length_is_no_body(
    content_length: str, transfer_encoding: str | None
) -> None:
    environ = {"CONTENT_LENGTH": content_length}
    if transfer_encoding is not None:
        environ["HTTP_TRANSFER_ENCODING"] = transfer_encoding
    assert body_length(environ) == 0
