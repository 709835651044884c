"""The page's login: hashed passwords, and failed logins throttled per client and per user.

`[app] auth` is "user:password" or "user:pbkdf2_sha256$<iterations>$<salt>$<hash>" (make one
with `python -m rag hash-password`), so that rag.toml need not hold the password itself.
`Login` is the `auth` callable Gradio asks; it compares in constant time and refuses a user
locked out after repeated failures. `LoginThrottle` is ASGI middleware in front of Gradio's
`/login`: a client (address) that keeps failing gets 429 with a wait that doubles with every
further failure (from 1 s after `free` failures up to `max_wait` seconds), before Gradio or the
password check is reached. Successful logins reset the count.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict

SCHEME = "pbkdf2_sha256"
ITERATIONS = 260_000
MIN_PUBLIC_PASSWORD = 12  # characters a plain password needs when the app listens beyond localhost


def hash_password(password: str, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The stored form of a password: pbkdf2_sha256$iterations$salt$hash (base64)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"{SCHEME}${iterations}${b64(salt)}${b64(digest)}"


def is_hashed(stored: str) -> bool:
    return stored.startswith(SCHEME + "$") and stored.count("$") == 3


def check_password(password: str, stored: str) -> bool:
    """`password` against a stored plain or hashed password, in constant time."""
    if is_hashed(stored):
        _, iterations, salt, digest = stored.split("$")
        try:
            want = base64.b64decode(digest)
            got = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), base64.b64decode(salt), int(iterations))
        except (ValueError, TypeError):
            return False
        return hmac.compare_digest(got, want)
    return hmac.compare_digest(password.encode("utf-8"), stored.encode("utf-8"))


class Failures:
    """Failed attempts per key (a client or a user name), with a doubling lock-out."""

    def __init__(self, free: int = 5, max_wait: float = 300.0, forget: float = 900.0, keys: int = 10_000):
        self.free, self.max_wait, self.forget, self.keys = free, max_wait, forget, keys
        self._seen: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key → (failures, last failure)
        self._lock = threading.Lock()

    def wait(self, key: str, now: float | None = None) -> float:
        """Seconds `key` must still wait before its next attempt (0: it may try)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            n, last = self._seen.get(key, (0, 0.0))
        if n < self.free or now - last > self.forget:
            return 0.0
        return max(0.0, last + min(self.max_wait, 2.0 ** (n - self.free)) - now)

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            n, last = self._seen.pop(key, (0, 0.0))
            self._seen[key] = (1 if now - last > self.forget else n + 1, now)
            while len(self._seen) > self.keys:
                self._seen.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)


class Login:
    """Gradio's `auth` callable over the configured account."""

    def __init__(self, user: str, stored: str, failures: Failures | None = None):
        self.user, self.stored = user, stored
        self.failures = failures or Failures(free=10)  # per user: more than one client's share

    def __call__(self, username: str, password: str) -> bool:
        if self.failures.wait(username):
            return False  # locked out for now, whatever the password
        ok = hmac.compare_digest(username.encode("utf-8"), self.user.encode("utf-8")) & check_password(password, self.stored)
        if ok:
            self.failures.succeeded(username)
        else:
            self.failures.failed(username)
        return ok


class LoginThrottle:
    """ASGI middleware: refuse (429) logins from a client that keeps failing, before they reach
    the password check; count the failures Gradio's /login answers with 400."""

    def __init__(self, app, failures: Failures | None = None):
        self.app = app
        self.failures = failures or Failures()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path", "").rstrip("/") != "/login":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        wait = self.failures.wait(client)
        if wait:
            body = json.dumps({"detail": f"登录失败次数过多,请 {int(wait) + 1} 秒后再试。"}, ensure_ascii=False).encode()
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                    (b"retry-after", str(int(wait) + 1).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        status = {}

        async def watch(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status.get("code") == 200:
            self.failures.succeeded(client)
        elif status.get("code") in (400, 401, 403):
            self.failures.failed(client)
