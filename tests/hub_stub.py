"""A local HTTP server that speaks the part of the Hugging Face hub's API that downloads use.

Serves folders as model repositories at one fixed commit: repository info
(``/api/models/<repo>[/revision/<rev>]``), the file tree (``/api/models/<repo>/tree/<rev>``) and
files (``HEAD``/``GET /<repo>/resolve/<rev>/<path>``, with the commit and ETag headers the client
reads). Everything else is a 404 the client understands. It records every request, so a test can
assert that an offline run made none.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubStub:
    def __init__(self, repos: dict[str, Path]):
        self.repos = {name: Path(folder) for name, folder in repos.items()}
        self.requests: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):   # quiet
                pass

            def do_HEAD(self):
                stub._serve(self, body=False)

            def do_GET(self):
                stub._serve(self, body=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "HubStub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the API -----------------------------------------------------------------------------
    def _files(self, repo: str) -> dict[str, Path]:
        root = self.repos[repo]
        return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}

    def _split_repo(self, path: str) -> tuple[str | None, str]:
        for repo in self.repos:
            if path == repo or path.startswith(repo + "/"):
                return repo, path[len(repo):].lstrip("/")
        return None, path

    def _serve(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlparse(handler.path).path).lstrip("/")
        self.requests.append(f"{handler.command} /{path}")
        if path.startswith("api/models/"):
            repo, rest = self._split_repo(path[len("api/models/"):])
            if repo is None:
                return self._send(handler, 404, {"error": "Repository not found"}, body,
                                  {"X-Error-Code": "RepoNotFound"})
            files = self._files(repo)
            if rest.startswith("tree/"):
                tree = [{"type": "file", "path": name, "size": f.stat().st_size,
                         "oid": _git_blob_sha(f.read_bytes())} for name, f in files.items()]
                return self._send(handler, 200, tree, body)
            info = {"id": repo, "modelId": repo, "sha": COMMIT, "private": False, "disabled": False,
                    "siblings": [{"rfilename": name} for name in files]}
            return self._send(handler, 200, info, body)
        repo, rest = self._split_repo(path)
        if repo is not None and rest.startswith("resolve/"):
            name = rest.split("/", 2)[2] if rest.count("/") >= 2 else ""
            file = self._files(repo).get(name)
            if file is None:
                return self._send(handler, 404, {"error": "Entry not found"}, body, {"X-Error-Code": "EntryNotFound"})
            data = file.read_bytes()
            headers = {"ETag": f'"{_git_blob_sha(data)}"', "X-Repo-Commit": COMMIT,
                       "Content-Type": "application/octet-stream"}
            return self._send_bytes(handler, 200, data, body, headers)
        return self._send(handler, 404, {"error": "Repository not found"}, body, {"X-Error-Code": "RepoNotFound"})

    @staticmethod
    def _send(handler, status: int, payload, body: bool, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        HubStub._send_bytes(handler, status, data, body, {"Content-Type": "application/json", **(headers or {})})

    @staticmethod
    def _send_bytes(handler, status: int, data: bytes, body: bool, headers: dict) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if body:
            handler.wfile.write(data)
