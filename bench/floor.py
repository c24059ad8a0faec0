"""Two floor servers for the ``prism`` comparison, each run as its own process:
``python -m bench.floor {werkzeug,stack} PORT``.

Both read each request's body and answer mockseg's success answer (200, ``{"success":true}``,
its headers) without looking at the body; what they cost is what a server of their kind costs
before it does any of mockseg's work:

- ``werkzeug``: http.server reads the request line and headers, werkzeug's
  ``WSGIRequestHandler.make_environ`` builds the environ, the answer is written in one piece,
  and the connection is kept alive. No server that parses HTTP with http.server and werkzeug
  (the project's rule) can answer faster.
- ``stack``: mockseg's own connection handling (``KeepAliveServer``: deadlines, strict framing,
  drain and keep-alive, the answer's head) around a WSGI app that does nothing. mockseg's
  figure less this one is the app's share.
"""

from __future__ import annotations

import argparse
import socketserver
from http.server import HTTPServer
from typing import Any

from werkzeug.serving import WSGIRequestHandler

from mockseg.responses import success_answer, with_cors

__all__ = ["main"]

#: mockseg's own answer to an accepted call without Origin: its body and its headers.
_ANSWER = with_cors(success_answer(), None)
BODY = _ANSWER.body
HEADERS = list(_ANSWER.headers)


def idle_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Read the body, answer success: a WSGI app that does none of mockseg's work."""
    stream = environ["wsgi.input"]
    while stream.read(65_536):
        pass
    start_response("200 OK", HEADERS)
    return [BODY]


class FloorHandler(WSGIRequestHandler):
    """http.server's head parsing and werkzeug's environ, kept alive, a canned answer."""

    protocol_version = "HTTP/1.1"

    def run_wsgi(self) -> None:
        environ = self.make_environ()
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        head = "".join(f"{name}: {value}\r\n" for name, value in HEADERS)
        self.wfile.write(f"HTTP/1.1 200 OK\r\nServer: floor\r\nDate: {self.date_time_string()}"
                         f"\r\n{head}\r\n".encode("latin-1") + BODY)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class FloorServer(socketserver.ThreadingMixIn, HTTPServer):
    """What ``FloorHandler`` needs of a werkzeug server, and no more."""

    daemon_threads = True
    multithread = True
    multiprocess = False
    passthrough_errors = False
    ssl_context = None
    shutdown_signal = False
    app = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("kind", choices=("werkzeug", "stack"))
    parser.add_argument("port", type=int)
    args = parser.parse_args(argv)
    if args.kind == "werkzeug":
        FloorServer(("127.0.0.1", args.port), FloorHandler).serve_forever()
    else:
        from mockseg.listener import KeepAliveServer

        KeepAliveServer("127.0.0.1", args.port, idle_app).serve_forever()


if __name__ == "__main__":
    main()
