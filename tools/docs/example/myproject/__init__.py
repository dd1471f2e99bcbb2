"""The example project of the documentation: its commands serve
``myproject.wsgi:application`` or call ``myproject:create_app(...)``, and its Python
examples import ``myproject``. The docs tests put this folder on ``sys.path`` (pytest's
``pythonpath``) and copy it where they run the documented commands."""

from wsgi_util.types import WSGIApplication

from .wsgi import application


def make_app() -> WSGIApplication:
    """The application, made by a factory."""
    return application


def create_app(environment: str) -> WSGIApplication:
    """The application for *environment* (``"prod"``, ``"dev"``...): the same one."""
    return application
