"""wsgiref's CGI handlers (CGIHandler, IISCGIHandler, read_environ), typed and hardened."""
