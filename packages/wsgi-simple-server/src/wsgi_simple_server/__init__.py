"""wsgiref.simple_server, and a strict, fast HTTP/1.1 WSGI server."""
