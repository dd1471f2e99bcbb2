"""``Headers``: ``wsgiref.headers``, typed, refusing anything that could break the wire."""

from wsgi_headers._headers import Headers, tspecials
from wsgi_headers._syntax import check_field_name, check_field_value

__all__ = ["Headers", "check_field_name", "check_field_value", "tspecials"]
