"""`--web.config.file`: TLS, basic auth and response headers in the format of Prometheus's exporter-toolkit.

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven, ...
      client_ca_file: ca.crt
      min_version: TLS12                              # TLS10 ... TLS13
      max_version: TLS13
    http_server_config:
      headers: {Strict-Transport-Security: max-age=31536000}
    basic_auth_users:
      prometheus: $2y$10$...                          # bcrypt hashes only, as exporter-toolkit

Relative paths are relative to the file, as exporter-toolkit resolves them. Unknown keys are an error (the
toolkit parses strictly too): a typo must not silently leave a scrape open.
"""

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Python's ssl verifies a certificate whenever it asks for one, so the two "any certificate" modes of the
# toolkit are stricter here: they also check it against client_ca_file.
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# The headers exporter-toolkit lets a user set (web/tls_config.go); anything else would fight the server's own.
ALLOWED_HEADERS = {
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
    "content-security-policy",
}
_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}


class WebConfigError(ValueError):
    pass


@dataclass(frozen=True)
class WebConfig:
    tls: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    headers: dict[str, str] = field(default_factory=dict)


def load_web_config(path: Path | None) -> WebConfig:
    if path is None:
        return WebConfig()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise WebConfigError(f"{path}: {e}") from None
    if not isinstance(raw, dict):
        raise WebConfigError(f"{path}: expected a mapping")
    _no_unknown(raw, {"tls_server_config", "http_server_config", "basic_auth_users"}, "")
    base = path.parent
    return WebConfig(
        tls=_tls(raw.get("tls_server_config"), base),
        users=_users(raw.get("basic_auth_users")),
        headers=_headers(raw.get("http_server_config")),
    )


def _no_unknown(section: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        raise WebConfigError(f"unknown or unsupported keys{where}: {', '.join(map(str, unknown))}")


def _tls(section: object, base: Path) -> ssl.SSLContext | None:
    if section is None:
        return None
    if not isinstance(section, dict):
        raise WebConfigError("tls_server_config must be a mapping")
    _no_unknown(section, _TLS_KEYS, " in tls_server_config")
    if not section.get("cert_file") or not section.get("key_file"):
        raise WebConfigError("tls_server_config needs cert_file and key_file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _version(section.get("min_version", "TLS12"))
    if "max_version" in section:
        context.maximum_version = _version(section["max_version"])
    try:
        context.load_cert_chain(base / section["cert_file"], base / section["key_file"])
    except (OSError, ssl.SSLError) as e:
        raise WebConfigError(f"cannot load cert_file/key_file: {e}") from None
    auth = section.get("client_auth_type", "NoClientCert")
    if auth not in CLIENT_AUTH:
        raise WebConfigError(f"client_auth_type {auth!r}: use one of {', '.join(CLIENT_AUTH)}")
    context.verify_mode = CLIENT_AUTH[auth]
    if auth != "NoClientCert":
        if not section.get("client_ca_file"):
            raise WebConfigError(f"client_auth_type {auth} needs client_ca_file")
        try:
            context.load_verify_locations(base / section["client_ca_file"])
        except (OSError, ssl.SSLError) as e:
            raise WebConfigError(f"cannot load client_ca_file: {e}") from None
    return context


def _version(name: object) -> ssl.TLSVersion:
    if name not in TLS_VERSIONS:
        raise WebConfigError(f"TLS version {name!r}: use one of {', '.join(TLS_VERSIONS)}")
    return TLS_VERSIONS[str(name)]


def _users(section: object) -> dict[str, bytes]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise WebConfigError("basic_auth_users must map user names to bcrypt hashes")
    users = {}
    for user, hashed in section.items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise WebConfigError(f"basic_auth_users.{user}: not a bcrypt hash (make one with htpasswd -nBC 10 '')")
        users[str(user)] = hashed.encode()
    return users


def _headers(section: object) -> dict[str, str]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise WebConfigError("http_server_config must be a mapping")
    _no_unknown(section, {"headers"}, " in http_server_config")
    headers = section.get("headers") or {}
    if not isinstance(headers, dict):
        raise WebConfigError("http_server_config.headers must be a mapping")
    for name in headers:
        if str(name).lower() not in ALLOWED_HEADERS:
            raise WebConfigError(
                f"http_server_config.headers: {name} cannot be set (allowed: {sorted(ALLOWED_HEADERS)})"
            )
    return {str(k): str(v) for k, v in headers.items()}
