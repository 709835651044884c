"""Who may use the app and its API: loopback addresses, API keys.

API keys come from `[api] keys` (RAG_API_KEYS; separated by commas or white space) and from
`[api] keys_file` (one key per line, "#" starts a comment). `ApiKeys.allows` compares a
presented key with every configured one in constant time (SHA-256 digests through
`hmac.compare_digest`, no early exit), and nothing here ever logs or repeats a key. Without keys
the API is open only when the app listens on a loopback address without a login (like the page
itself); otherwise it refuses every call until keys are configured.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re

from rag.config import Config
from rag.errors import ConfigError

LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}
MIN_KEY_CHARS = 16  # shorter keys start with a warning


def is_loopback(host: str) -> bool:
    host = (host or "").strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_keys(cfg: Config) -> list[str]:
    """The configured API keys (environment/rag.toml, then the keys file), without duplicates."""
    keys = [k for k in re.split(r"[\s,]+", cfg.api.keys or "") if k]
    if cfg.api.keys_file:
        path = cfg.resolve(cfg.api.keys_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            why = getattr(e, "strerror", None) or type(e).__name__
            raise ConfigError(f"[api] keys_file {path}: cannot read it ({why})") from None
        for line in text.splitlines():
            keys += [k for k in re.split(r"[\s,]+", line.split("#", 1)[0]) if k]
    return list(dict.fromkeys(keys))


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class ApiKeys:
    """The keys the API accepts (only their digests are kept)."""

    def __init__(self, keys: list[str], open_without_keys: bool = False):
        self._digests = [_digest(k) for k in keys]
        self.open = open_without_keys and not self._digests

    @classmethod
    def from_config(cls, cfg: Config) -> ApiKeys:
        return cls(load_keys(cfg), open_without_keys=is_loopback(cfg.app.host) and not cfg.app.auth)

    @property
    def configured(self) -> bool:
        return bool(self._digests)

    def allows(self, key: str | None) -> bool:
        """Whether `key` (None: none presented) may use the API."""
        if not self._digests:
            return self.open
        if not key:
            return False
        given = _digest(key)
        ok = False
        for d in self._digests:  # every key compared: the time does not say which one matched
            ok |= hmac.compare_digest(d, given)
        return ok


def bearer_token(authorization: str | None) -> str | None:
    """The key of an "Authorization: Bearer KEY" header; None when absent or malformed."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def api_warnings(cfg: Config) -> list[str]:
    """What to say at start-up about the API's access (ConfigError for an unreadable keys file)."""
    if not cfg.api.enabled:
        return []
    keys = load_keys(cfg)
    if not keys and not (is_loopback(cfg.app.host) and not cfg.app.auth):
        return [("note: the API (/v1/chat/completions, /retrieval) refuses every call: set RAG_API_KEYS "
                 "(or [api] keys / keys_file) to use it from other machines.")]
    if keys and any(len(k) < MIN_KEY_CHARS for k in keys):
        return [f"WARNING: an API key is shorter than {MIN_KEY_CHARS} characters."]
    return []
