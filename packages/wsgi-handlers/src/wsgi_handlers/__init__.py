"""wsgiref.handlers' gateway base classes, typed and hardened, with HTTP/1.1 responses and sendfile."""
