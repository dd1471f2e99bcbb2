"""``python -m wsgi_simple_server``: serve a WSGI application (``demo_app`` by default)."""

import sys

from wsgi_simple_server._cli import main

if __name__ == "__main__":
    sys.exit(main())
