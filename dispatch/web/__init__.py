"""velocal's web pages: server-rendered shells (Jinja2) with small JavaScript modules that call
the JSON API, plus the static files they need (vendored, so the pages work offline)."""
