"""A thin client of the gateway's public API (API.md): one requests Session
(HTTP keep-alive), bearer token, errors as ApiError with French text."""

import os
import threading

import requests
from requests.adapters import HTTPAdapter

DEFAULT_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v1"

_STATUS_TEXT = {
    400: "requête mal formée",
    401: "jeton d'accès manquant ou invalide (LABEL_TOKEN / LABEL_ADMIN_TOKEN)",
    403: "accès refusé pour ce jeton",
    404: "introuvable",
    409: "conflit d'état",
    422: "données refusées",
    500: "erreur interne du serveur",
    502: "passerelle indisponible",
    503: "service indisponible",
}


class ApiError(Exception):
    """An API answer other than the expected success, or no answer at all (status 0)."""

    def __init__(self, status, code, message, fields=None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}

    @classmethod
    def from_response(cls, response):
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        return cls(
            response.status_code,
            error.get("code") or f"http_{response.status_code}",
            error.get("message") or _STATUS_TEXT.get(response.status_code, response.reason or ""),
            error.get("fields") or {},
        )

    def field_reasons(self):
        """'field : reason, reason' per field, sorted."""
        out = []
        for field, reasons in sorted(self.fields.items()):
            if isinstance(reasons, (list, tuple)):
                text = ", ".join(str(r) for r in reasons)
            else:
                text = str(reasons)
            out.append(f"{field} : {text}")
        return out

    def french(self):
        """Multi-line French text for the terminal."""
        if self.status == 0:
            head = f"Erreur : {self.message}"
        else:
            label = _STATUS_TEXT.get(self.status, "erreur")
            head = f"Erreur {self.status} ({label}, code « {self.code} ») : {self.message}"
        return "\n".join([head] + [f"  - {line}" for line in self.field_reasons()])


# The organiser token a local system started by `make up`/`make run` accepts
# when LABEL_ADMIN_TOKEN is not set (deploy/config.yaml); only ever used
# against that default local URL, never sent elsewhere.
LOCAL_DEV_ADMIN_TOKEN = "admin-dev-token"

# Paginated lists: the gateway's largest page, and a bound on the pages followed.
NEXT_CURSOR_HEADER = "X-Next-Cursor"
PAGE_LIMIT = 200
MAX_PAGES = 1000


def settings_from_env(env=None):
    env = os.environ if env is None else env
    url = (env.get("LABEL_API_URL") or DEFAULT_URL).rstrip("/")
    token = env.get("LABEL_TOKEN") or env.get("LABEL_ADMIN_TOKEN") or ""
    if not token and url == DEFAULT_URL.rstrip("/"):
        token = LOCAL_DEV_ADMIN_TOKEN
    return url, token


class Api:
    def __init__(self, base_url, token, timeout=30.0, pool_size=10):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.pool_size = pool_size
        self._local = threading.local()

    @property
    def session(self):
        """One Session per thread (keep-alive; Session is not documented thread-safe)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=self.pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["Accept"] = "application/json"
            self._local.session = session
        return session

    def url(self, path):
        if path.startswith("/api/") or path.startswith("/health") or path.startswith("http"):
            return path if path.startswith("http") else self.base_url + path
        return self.base_url + API_PREFIX + path

    def raw(self, method, path, json=None, params=None, token=None):
        """The requests.Response; ApiError(0, ...) when the API cannot be reached."""
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return self.session.request(
                method, self.url(path), json=json, params=params, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ApiError(
                0,
                "unreachable",
                f"impossible de joindre l'API à {self.base_url} ({exc.__class__.__name__}). "
                "Le système est-il lancé (make up / make run) ? LABEL_API_URL est-il juste ?",
            ) from exc

    def call(self, method, path, json=None, params=None, token=None):
        """The decoded JSON body of a 2xx answer; ApiError otherwise."""
        return self._body(self.raw(method, path, json=json, params=params, token=token))

    @staticmethod
    def _body(response):
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        if not response.content:
            return None
        ctype = response.headers.get("Content-Type", "")
        return response.json() if "json" in ctype else response.text

    def get(self, path, params=None, token=None):
        """The body; a list the API pages (`X-Next-Cursor`) comes whole, page after page."""
        params = dict(params or {})
        items = []
        for _ in range(MAX_PAGES):
            response = self.raw("GET", path, params=params, token=token)
            body = self._body(response)
            cursor = response.headers.get(NEXT_CURSOR_HEADER)
            if not isinstance(body, list):
                return body
            items.extend(body)
            if not cursor:
                return items
            params.update(cursor=cursor, limit=PAGE_LIMIT)
        return items

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json={} if json is None else json, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json=json, **kw)
