"""The HTTP server for people and scrapers, beside the gRPC API: /metrics for Prometheus and the
web view (its page, its JSON and its event stream). Off unless naas-controller gets
`--http-port`.

Who may look (docs/observability.md): anyone who can reach the port, which listens on
loopback unless `--http-listen` says otherwise. Anywhere else every request needs an operator's
token, as gRPC takes it (`Authorization: Bearer <token>`: what Prometheus sends with its
`authorization` setting), or, for a browser, the cookie that logging in at /login sets. A
tenant's token is refused: the view shows every tenant's intents.

Routes are functions of a Request that return a Reply, or a Stream of server-sent events
(a thread each for as long as the client stays: at most MAX_STREAMS at once)."""

import ipaddress
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = logging.getLogger('naas.http')
MAX_STREAMS = 32
MAX_FORM = 4096  # bytes of a login form
COOKIE = 'naas_token'


@dataclass(frozen=True)
class Request:
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Reply:
    body: bytes
    type: str = 'text/plain; charset=utf-8'
    status: int = HTTPStatus.OK
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Stream:
    """Server-sent events: each item is one event, already framed (`sse` below); the stream
    ends when the iterator does or the client goes. `close` is called either way."""

    events: Iterator[bytes]
    close: Callable[[], None] = field(default=lambda: None)


Route = Callable[[Request], 'Reply | Stream']


def sse(data: str, event: str | None = None) -> bytes:
    """One server-sent event; `data` may span lines."""
    head = f'event: {event}\n' if event else ''
    return (head + ''.join(f'data: {line}\n' for line in data.split('\n')) + '\n').encode()


def text(body: str, status: int = HTTPStatus.OK) -> Reply:
    return Reply(body.encode(), status=status)


class HttpServer:
    """Serving `routes` (path -> Route) on `address` (host, port; port 0 picks one) from a
    thread of its own until `stop`. `auth`: who may look when not on loopback (model.auth);
    `operators_only`: whether a token is needed (default: unless on loopback)."""

    def __init__(
        self, address: tuple[str, int], routes: Mapping[str, Route], auth, operators_only: bool | None = None
    ) -> None:
        self.routes, self.auth = dict(routes), auth
        self.open = not operators_only if operators_only is not None else _loopback(address[0])
        self._streams = threading.BoundedSemaphore(MAX_STREAMS)
        server = self

        class Handler(_Handler):
            owner = server

        try:
            self._httpd = ThreadingHTTPServer(address, Handler)
        except OSError as e:
            raise OSError(f'cannot listen for HTTP on {address[0]}:{address[1]}: {e.strerror}') from None
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        host = address[0] if ':' not in address[0] else f'[{address[0]}]'
        self.url = f'http://{host}:{self.port}/'
        self._thread = threading.Thread(target=self._httpd.serve_forever, name='http', daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def allowed(self, headers) -> bool:
        if self.open:
            return True
        token = _bearer(headers.get('Authorization')) or _cookie(headers.get('Cookie'))
        if token is None:
            return False
        caller = self.auth.caller([('authorization', f'Bearer {token}')])
        return caller is not None and caller.operator


class _Handler(BaseHTTPRequestHandler):
    owner: HttpServer
    server_version = 'naas-controller'
    sys_version = ''
    protocol_version = 'HTTP/1.1'

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == '/login':
            return self._reply(_login_page())
        route = self.owner.routes.get(url.path)
        if route is None:
            return self._reply(text('not found\n', HTTPStatus.NOT_FOUND))
        if not self.owner.allowed(self.headers):
            return self._refuse()
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        try:
            answer = route(Request(url.path, query, dict(self.headers.items())))
        except ValueError as e:  # a bad query: the route says which parameter
            return self._reply(text(f'{e}\n', HTTPStatus.BAD_REQUEST))
        if isinstance(answer, Stream):
            return self._stream(answer)
        self._reply(answer)

    def do_POST(self) -> None:
        """Logging in: the form's token, if an operator's, becomes a cookie for this browser."""
        if urllib.parse.urlsplit(self.path).path != '/login':
            return self._reply(text('method not allowed\n', HTTPStatus.METHOD_NOT_ALLOWED), allow='GET')
        try:
            length = int(self.headers.get('Content-Length', ''))
        except ValueError:
            return self._reply(text('Content-Length: required\n', HTTPStatus.LENGTH_REQUIRED))
        if not 0 <= length <= MAX_FORM:
            return self._reply(
                text(f'the form: at most {MAX_FORM} bytes\n', HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            )
        form = urllib.parse.parse_qs(self.rfile.read(length).decode(errors='replace'))
        token = (form.get('token') or [''])[0]
        if not self.owner.allowed({'Authorization': f'Bearer {token}'}):
            return self._reply(_login_page('not an operator token'), status=HTTPStatus.FORBIDDEN)
        cookie = f'{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict'
        self._reply(
            Reply(b'', status=HTTPStatus.SEE_OTHER, headers=(('Location', '/'), ('Set-Cookie', cookie)))
        )

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _refuse(self) -> None:
        self._reply(
            text('an operator token is needed: Authorization: Bearer <token>, or log in at /login\n', 401),
            www_authenticate='Bearer',
        )

    def _reply(self, reply: Reply, status: int | None = None, **headers: str) -> None:
        self.send_response(status or reply.status)
        self.send_header('Content-Type', reply.type)
        self.send_header('Content-Length', str(len(reply.body)))
        self.send_header('Cache-Control', 'no-store')
        self.send_header('X-Content-Type-Options', 'nosniff')
        for key, value in (*reply.headers, *((k.replace('_', '-').title(), v) for k, v in headers.items())):
            self.send_header(key, value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(reply.body)

    def _stream(self, stream: Stream) -> None:
        if not self.owner._streams.acquire(blocking=False):
            stream.close()
            return self._reply(text(f'at most {MAX_STREAMS} event streams at once\n', 503))
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header('Content-Type', 'text/event-stream')
            self.send_header('Cache-Control', 'no-store')
            self.send_header('Connection', 'close')
            self.end_headers()
            self.close_connection = True
            for event in stream.events:
                self.wfile.write(event)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the client went
        finally:
            stream.close()
            self.owner._streams.release()

    def log_message(self, format: str, *args) -> None:
        LOG.debug('%s %s', self.address_string(), format % args)


def _login_page(problem: str = '') -> Reply:
    note = f'<p role="alert">{problem}</p>' if problem else ''
    page = (
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>naas-fabric: log in</title>'
        f'<form method="post" action="/login">{note}<label>Operator token '
        '<input type="password" name="token" autocomplete="off" required></label> '
        '<button>Log in</button></form></html>'
    )
    return Reply(page.encode(), 'text/html; charset=utf-8')


def _bearer(value: str | None) -> str | None:
    scheme, _, token = (value or '').partition(' ')
    return token if scheme.lower() == 'bearer' and token else None


def _cookie(value: str | None) -> str | None:
    try:
        morsel = SimpleCookie(value or '').get(COOKIE)
    except CookieError:
        return None
    return morsel.value if morsel is not None and morsel.value else None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == 'localhost'
