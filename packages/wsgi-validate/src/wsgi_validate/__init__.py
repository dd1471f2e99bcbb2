"""wsgiref.validate, typed, with the PEP 3333 rules the stdlib misses and a report mode."""
