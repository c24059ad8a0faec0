"""The journal page's files (``mockseg/ui/``), served from the installed package.

The page holds no data: it reads the admin API with the visitor's token, so it and its assets
are served without one.
"""

from __future__ import annotations

from importlib import resources

from werkzeug.wrappers import Request, Response

__all__ = ["ASSETS", "CONTENT_TYPES", "PAGE", "PAGE_SECURITY_POLICY", "asset_response"]

#: The files under ``mockseg/ui/`` and their content types.
CONTENT_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
#: The page itself, served at ``/__mockseg/``.
PAGE = "index.html"
#: What the page loads, served at ``/__mockseg/ui/<name>``.
ASSETS = ("app.js", "style.css")

#: Nothing but the server itself: no CDN, no inline script, no frames.
PAGE_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def asset_response(request: Request, name: str) -> Response:
    """The page or one of its assets, revalidated on every load (an ETag makes that cheap)."""
    body = resources.files("mockseg").joinpath("ui", name).read_bytes()
    response = Response(body, content_type=CONTENT_TYPES[name])
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if name == PAGE:
        response.headers["Content-Security-Policy"] = PAGE_SECURITY_POLICY
        response.headers["Referrer-Policy"] = "no-referrer"
    response.add_etag()
    response = response.make_conditional(request)
    response.headers.pop("Date", None)  # the server sends its own: one Date per answer
    return response
