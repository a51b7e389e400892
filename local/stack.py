"""`make dev`: moto's server as AWS, the template's resources and routes, demo data, clean stop."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote

from moto.server import ThreadedMotoServer

from local import moto_fixes, s3_links

# The console (web/) is served at `/`; these routes never reach the template's handlers.
WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}


def console_csp(s3_origin: str) -> str:
    """The console page's Content-Security-Policy: everything from 'self', and uploads to S3.

    The Import screen PUTs the file to the presigned S3 URL the API returns, so `connect-src`
    names the S3 origin too (locally moto's server, `AWS_ENDPOINT_URL`; deployed the bucket's
    regional endpoint, README "Deploying the console"). Downloads are navigations, not connects.
    """
    connect = " ".join(filter(None, ["'self'", s3_origin.rstrip("/")]))
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src {connect}; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


# What the emulator itself answers before any route: API.md's error body, a code per status.
EDGE_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 408: "REQUEST_TIMEOUT", 413: "TOO_LARGE", 414: "URI_TOO_LONG"}
EDGE_CODES |= {431: "HEADERS_TOO_LARGE", 500: "INTERNAL", 501: "NOT_IMPLEMENTED", 505: "BAD_REQUEST"}
# SIGTERM: seconds the stack waits for its own clean stop before the process exits anyway
# (a handler thread still running cannot be stopped, and must not keep the process alive).
STOP_GRACE_SECONDS = 10.0
#: How often the main thread wakes to run a signal handler another thread received (see main()).
SIGNAL_POLL_SECONDS = 0.25
# The functions' and moto's output (Powertools log and metric JSON) goes here, not to the console.
LOG_FILE = Path(os.environ.get("SEGSHARE_LOG_FILE", Path(__file__).resolve().parent.parent / ".local-stack.log"))


class _Server(ThreadingHTTPServer):
    """http.server's threading server with a listen backlog for a console's burst of requests.

    socketserver listens with a backlog of 5: a sixth connection arriving while the accept
    loop is busy was reset under 20 concurrent clients. 128 is the usual SOMAXCONN.
    """

    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints the traceback to stderr, the console: a client that left before its
        # answer (broken pipe, reset) is routine, and anything else belongs in the log file.
        if isinstance(sys.exc_info()[1], ConnectionError):
            logging.getLogger("segshare.local").debug("client left before its answer", exc_info=True)
        else:
            logging.getLogger("segshare.local").exception("request handling failed")


def static_file(url_path: str, root: Path = WEB_ROOT) -> tuple[Path, str] | None:
    """The file under `root` that `url_path` names, with its content type; None for anything else.

    `/` is index.html. A path with `..`, a backslash, a NUL or a hidden segment, or one that
    resolves (symlinks included) outside `root`, is never served.
    """
    path = unquote(url_path)
    if path == "/":
        path = "/index.html"
    segments = path.split("/")[1:]
    if not path.startswith("/") or "\\" in path or "\x00" in path or any(s in ("", ".", "..") or s.startswith(".") for s in segments):
        return None
    base = root.resolve()
    candidate = base.joinpath(*segments).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    content_type = CONTENT_TYPES.get(candidate.suffix.lower())
    return (candidate, content_type) if content_type else None


def local_users(demo_loaded: bool) -> list[dict[str, str]]:
    """The demo users and their tokens, for the console's local sign-in (a route the template does not have)."""
    if not demo_loaded:
        return []
    from local import demo

    return [{"userId": user.user_id, "label": user.label, "token": user.token()} for user in demo.USERS]


@dataclass
class Settings:
    port: int = field(default_factory=lambda: int(os.environ.get("SEGSHARE_PORT", "3000")))
    demo: bool = field(default_factory=lambda: os.environ.get("SEGSHARE_DEMO", "1") != "0")
    schedule_seconds: float = field(default_factory=lambda: float(os.environ.get("SEGSHARE_SCHEDULE_SECONDS", "300")))
    console: TextIO | None = None  # where the access lines go (sys.stderr when None)


#: Items a second one in-request evaluation reads and parses on this stack: moto's server over
#: HTTP, not DynamoDB (AWS's figure is ``domain.scale.ITEMS_PER_SECOND``, 15,000). Measured
#: here alone: a 20k x 20k share (bench ``stack:``'s data, 55,886 items by the cost model) took
#: 10.2-10.9 s in the request, 5,100-5,500 items a second; under the bench's 20 concurrent
#: clients it passed the function's 29 s. The stack gives the cost model this rate, so it
#: hands such an evaluation to the workflow here (202) as its own speed requires.
MOTO_ITEMS_PER_SECOND = 5_000


def _aws_environment(endpoint: str, moto_port: int) -> None:
    """Point boto3 and pynamodb at moto (before anything of ours reads its configuration)."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["MOTO_PORT"] = str(moto_port)  # moto's Step Functions interpreter calls back on it
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        os.environ[key] = value
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "segshare-local")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", os.environ.get("SEGSHARE_LOG_LEVEL", "WARNING"))
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("EVALUATION_ITEMS_PER_SECOND", str(MOTO_ITEMS_PER_SECOND))


class Stack:
    """The running local stack; `start()` returns once it serves requests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.http: ThreadingHTTPServer | None = None
        self.timer: Any = None
        self._threads: list[threading.Thread] = []
        self.stopped = threading.Event()

    @property
    def base_url(self) -> str:
        assert self.http is not None
        host, port = self.http.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address: typeshed allows bytes for other families
        return f"http://{host}:{port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        moto_fixes.apply()
        from local import iam

        # Every handler's AWS calls are checked against its deployed role: a denied one fails here too.
        iam.install()
        iam.policies()  # compiled now (the SAM translator takes a second or two), not on the first request
        s3_links.apply()  # presigned links expire and keep their signature, as on S3
        self.moto.start()
        host, moto_port = self.moto.get_host_and_port()
        _aws_environment(f"http://{host}:{moto_port}", moto_port)

        from local import template as tpl
        from local.apigw import Gateway
        from local.openapi import document, swagger_page
        from local.resources import create_all

        template = tpl.load()
        for key, value in tpl.environment(template).items():
            os.environ.setdefault(key, value)
        create_all(template)
        from local.lambdas import bridge_lambda_invoke
        from local.schedule import Timer, create_state_machines, enable_interpreter

        enable_interpreter(f"http://{host}:{moto_port}")
        bridge_lambda_invoke(template.functions())
        self.state_machines = create_state_machines(template)
        self.timer = Timer(self.state_machines["ScheduledEvaluationStateMachine"], self.settings.schedule_seconds)
        self.gateway = Gateway(template)
        from local.events import Pump

        self.pump = Pump(template)
        self.http = _Server(("127.0.0.1", self.settings.port), _handler_for(self, self.settings.console))
        self.spec = document(template, self.base_url)
        self.docs_html = swagger_page(self.spec).encode()
        serve = threading.Thread(target=self.http.serve_forever, name="http", daemon=True)
        serve.start()
        self._threads.append(serve)
        if self.settings.demo:
            from local import demo

            demo.seed(self.call)
        self.timer.start()
        self.pump.start()

    def call(self, method: str, path: str, user: Any, body: Any = None) -> tuple[int, Any]:
        """Invoke a route in-process as `user` (used to load the demo data through the API)."""
        headers = {"authorization": f"Bearer {user.token()}", "content-type": "application/json"}
        raw = json.dumps(body).encode() if body is not None else b""
        response = self.gateway.handle(method, path, headers, raw)
        return response.status, json.loads(response.body or b"null")

    def stop(self) -> None:
        if getattr(self, "timer", None) is not None:
            self.timer.stop()
        if getattr(self, "pump", None) is not None:
            self.pump.stop()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        self.moto.stop()
        _write_iam_record()
        self.stopped.set()


def _write_iam_record() -> None:
    """The calls checked and denied, for the e2e tests (SEGSHARE_IAM_RECORD names the file)."""
    target = os.environ.get("SEGSHARE_IAM_RECORD")
    if target:
        from local import iam

        Path(target).write_text(json.dumps(iam.RECORDER.as_json()))


def _handler_for(stack: Stack, console: TextIO | None = None) -> type[BaseHTTPRequestHandler]:
    from local.apigw import PAYLOAD_LIMIT_BYTES, head_too_large

    access_log = console or sys.stderr

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "segshare-local"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # http.server's own lines (errors included) are not for the console; log_request writes the access line

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if os.environ.get("SEGSHARE_ACCESS_LOG") == "1":
                status = getattr(code, "value", code)
                access_log.write(f'{self.address_string()} "{self.command} {self.path.split("?", 1)[0]}" {status}\n')
                access_log.flush()

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """http.server's own refusals (a line over 64 KB: 431, a bad request line: 400) with API.md's body."""
            self.close_connection = True
            body = json.dumps({"error": {"code": EDGE_CODES.get(code, "BAD_REQUEST"), "message": (message or "bad request").lower()}})
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("connection", "close")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body.encode())

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _send_file(self, file: Path, content_type: str) -> None:
            headers = {"content-type": content_type, "cache-control": "no-cache", "x-content-type-options": "nosniff"}
            if content_type.startswith("text/html"):
                headers["content-security-policy"] = console_csp(os.environ.get("AWS_ENDPOINT_URL", ""))
            self._send(200, headers, file.read_bytes())

        def _edge_refusal(self) -> tuple[int, str] | None:
            """What API Gateway refuses before any route: oversized headers or body, a bad length, two tokens."""
            # API Gateway's quota on the request line and header values (local/apigw.py); a single
            # line past 64 KB never gets here: http.server refuses it (431) through send_error.
            too_large = head_too_large(self.requestline, [value for _name, value in self.headers.items()])
            if too_large is not None:
                return 431, too_large
            lengths = self.headers.get_all("content-length") or []
            if any(not re.fullmatch(r"[0-9]{1,19}", v.strip()) for v in lengths) or len({v.strip() for v in lengths}) > 1:
                return 400, "content-length must be one non-negative integer"
            if lengths and int(lengths[0]) > PAYLOAD_LIMIT_BYTES:
                return 413, f"request body over {PAYLOAD_LIMIT_BYTES} bytes"
            if len(self.headers.get_all("authorization") or []) > 1:
                return 401, "more than one authorization header"
            return None

        def _dispatch(self) -> None:
            refusal = self._edge_refusal()
            if refusal is not None:
                self.send_error(*refusal)  # the body, if any, is never read: the connection closes
                return
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            if self.command == "GET" and path == "/openapi.json":
                self._send(200, {"content-type": "application/json"}, json.dumps(stack.spec).encode())
                return
            if self.command == "GET" and path == "/docs":
                self._send(200, {"content-type": "text/html; charset=utf-8"}, stack.docs_html)
                return
            if self.command == "GET" and path == "/local/users":
                users = local_users(stack.settings.demo)
                self._send(200, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(users).encode())
                return
            if self.command in ("GET", "HEAD") and not path.startswith("/v1/"):
                found = static_file(path)
                if found is not None:
                    self._send_file(*found)
                    return
            try:
                response = stack.gateway.handle(self.command, self.path, dict(self.headers.items()), body, self.client_address[0])
            except Exception:  # the emulator itself failed: answer like API Gateway would
                logging.getLogger("segshare.local").exception("local gateway error")
                self._send(500, {"content-type": "application/json"}, b'{"error":{"code":"INTERNAL","message":"internal error"}}')
                return
            self._send(response.status, response.headers, response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, QUERY, ...) reaches the gateway too: API Gateway answers a
            # method without a route with 404, where http.server would answer 501.
            if name.startswith("do_"):
                return self._dispatch
            raise AttributeError(name)

    return Handler


def _banner(stack: Stack) -> str:
    url = stack.base_url
    lines = [
        f"segshare local stack on {url}",
        f"  console {url}/   Swagger UI {url}/docs   OpenAPI {url}/openapi.json",
    ]
    if stack.settings.demo:
        from local import demo

        lines.append("demo data: company 'acme', projects proj-a (A) proj-b (B) proj-c (C) proj-d (D)")
        lines.append("tokens (valid 7 days, HS256 with SEGSHARE_JWT_SECRET):")
        for user in demo.USERS:
            lines.append(f"  {user.label}:\n    export TOKEN_{user.user_id.upper().replace('-', '_')}={user.token()}")
        lines.append("try:")
        lines.append(f'  curl -s {url}/v1/me -H "Authorization: Bearer $TOKEN_DEMO_ADMIN_AB"')
        lines.append(f'  curl -s {url}/v1/companies/acme/projects -H "Authorization: Bearer $TOKEN_DEMO_COMPANY_ADMIN"')
        lines.append(f'  curl -s {url}/v1/projects/proj-b/profiles/b-user-0000 -H "Authorization: Bearer $TOKEN_DEMO_ADMIN_B"')
    else:
        lines.append("started empty (SEGSHARE_DEMO=0)")
    lines.append(f"logs (functions, moto): {LOG_FILE}; one line per request with SEGSHARE_ACCESS_LOG=1")
    lines.append("ready")
    return "\n".join(lines)


def _to_log_file(path: Path) -> TextIO:
    """Send stdout (Powertools' log and metric JSON), Python logging and warnings to `path`; return the console."""
    console = sys.stdout
    log = path.open("a", buffering=1, encoding="utf-8")
    sys.stdout = log
    logging.basicConfig(stream=log, level=os.environ.get("SEGSHARE_LOG_LEVEL", "WARNING").upper(), force=True)
    logging.captureWarnings(True)
    return console


def main() -> int:
    console = _to_log_file(LOG_FILE)
    stack = Stack(Settings(console=console))
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        stopping.set()
        threading.Thread(target=stack.stop, name="stop", daemon=True).start()
        # Leave in time whatever the main thread then blocks in (a console pipe nobody reads, a
        # lock a handler thread holds).
        watchdog = threading.Timer(STOP_GRACE_SECONDS + 5, os._exit, args=(0,))
        watchdog.daemon = True
        watchdog.start()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    stack.start()
    print(_banner(stack), file=console, flush=True)
    # From here the console is for people: an uncaught error in a handler's or moto's thread
    # goes to the log file too (Python prints those to stderr), so nothing piles up in a
    # console nobody reads (a test's pipe that fills would block the stack mid-write).
    sys.stderr = sys.stdout
    # Woken now and then, not blocked for good: a process-directed signal may be delivered to
    # any thread (Linux picks another when the main thread cannot take it at once), and then
    # only the main thread's next bytecode runs the Python handler; a main thread blocked in
    # a bare wait() never gets there (this is how a busy stack once outlived SIGTERM).
    while not stopping.wait(SIGNAL_POLL_SECONDS):
        pass
    stopped = stack.stopped.wait(STOP_GRACE_SECONDS)
    note = "" if stopped else " (requests still running were dropped)"
    print(f"segshare local stack stopped{note}", file=console, flush=True)
    # Handler threads still running cannot be stopped, and an interpreter exit would wait for
    # non-daemon threads (moto's executions, executor pools): leave now, as a stopped container would.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
