"""Code that worked around gaps in typeshed's ``wsgiref`` stubs, written so that it
type-checks against both (``tools/docs/pages/migration.md``, Type checking)."""

from wsgi_handlers import BaseHandler, SimpleHandler
from wsgi_simple_server import ServerHandler, WSGIRequestHandler, WSGIServer


class Handler(WSGIRequestHandler):
    def app_name(self) -> str:
        # Not cast(WSGIServer, self.server): a redundant cast here, an error under --strict.
        assert isinstance(self.server, WSGIServer)
        return repr(self.server.get_app())


# What typeshed's stubs leave out is declared here: "unused-ignore" keeps the comment
# that wsgiref needs from being an error against the packages.
def status_of(handler: BaseHandler) -> object:
    return handler.status  # type: ignore[attr-defined, unused-ignore]


def sent(handler: SimpleHandler) -> object:
    return handler.bytes_sent  # type: ignore[attr-defined, unused-ignore]


def back(handler: ServerHandler) -> object:
    return handler.request_handler  # type: ignore[attr-defined, unused-ignore]
