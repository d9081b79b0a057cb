"""The web view: a page that draws the fabric at its sites' coordinates, lists the intents and
shows what happens to them as it happens, read-only, served by the controller's HTTP server
(northbound/http.py: who may look is its rule). Its assets ship in `static/` (no CDN, no build
step); its data comes from `live.Web`.

    HttpServer(address, {**routes(web), '/metrics': ...}, auth)
"""

from importlib.resources import files

from controller.northbound.http import Reply, Route
from controller.northbound.web.live import Web

__all__ = ['Web', 'routes']

ASSETS = {  # path -> (file in static/, content type)
    '/': ('index.html', 'text/html; charset=utf-8'),
    '/static/web.js': ('web.js', 'text/javascript; charset=utf-8'),
    '/static/web.css': ('web.css', 'text/css; charset=utf-8'),
}


def routes(web: Web) -> dict[str, Route]:
    """The page and its assets (read once, here), its JSON and its event stream."""
    static = files(__package__) / 'static'
    served: dict[str, Route] = {
        path: _asset(static.joinpath(name).read_bytes(), kind) for path, (name, kind) in ASSETS.items()
    }
    served.update({'/api/fabric': web.fabric, '/api/intents': web.intents, '/api/events': web.events})
    return served


def _asset(body: bytes, kind: str) -> Route:
    reply = Reply(body, kind, headers=(('Content-Security-Policy', "default-src 'self'"),))
    return lambda request: reply
