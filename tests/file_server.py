"""A local HTTP server for the checkpoint download tests: one payload under any path, on a free port."""

from __future__ import annotations

import http.server
import threading


class FileServer:
    """Serves `payload` at any path on `host`, honours `Range: bytes=N-` and can cut a transfer short; with
    `redirect`, answers every request with a redirect to `redirect` + the path instead. Records requests."""

    def __init__(self, payload: bytes = b"", host: str = "127.0.0.1", redirect: str | None = None) -> None:
        self.payload, self.redirect = payload, redirect
        self.cut_after: int | None = None  # close the connection after this many body bytes (once)
        self.requests: list[str] = []  # the paths asked for
        self.ranges: list[str | None] = []  # their Range headers
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requested = self.headers.get("Range")
                server.requests.append(self.path)
                server.ranges.append(requested)
                if server.redirect is not None:
                    self.send_response(302)
                    self.send_header("Location", server.redirect + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                begin = int(requested.split("=")[1].rstrip("-")) if requested else 0
                body = server.payload[begin:]
                self.send_response(206 if requested else 200)
                self.send_header("Content-Length", str(len(body)))
                if requested:
                    self.send_header(
                        "Content-Range", f"bytes {begin}-{len(server.payload) - 1}/{len(server.payload)}"
                    )
                self.end_headers()
                if server.cut_after is not None:
                    body, server.cut_after = body[: server.cut_after], None
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
