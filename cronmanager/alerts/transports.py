"""How one message leaves the building: SMTP e-mail or a signed JSON webhook (SPEC §13).

Each sender returns a SendResult and never raises for network trouble; `transient` says whether
trying again later can help (connection refused, timeouts, SMTP 4xx, HTTP 5xx/429), so only those are retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

SIGNATURE_HEADER = "X-CronManager-Signature"
SEND_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None
    transient: bool = False


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "plain", "starttls" or "tls"
    username: str | None
    password: str | None


class SmtpUrlError(ValueError):
    """SMTP_URL is not smtp://, smtp+starttls:// or smtps://."""


_SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


def parse_smtp_url(url: str) -> SmtpSettings:
    """smtp://host:port, smtp+starttls://user:pass@host:port or smtps://user:pass@host:port."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise SmtpUrlError("SMTP_URL must look like smtp://host:25, smtp+starttls://user:pass@host:587 "
                           "or smtps://user:pass@host:465")
    security, default_port = _SCHEMES[parts.scheme]
    return SmtpSettings(host=parts.hostname, port=parts.port or default_port, security=security,
                        username=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password else None)


def send_email(smtp_url: str, sender: str, recipient: str, subject: str, text: str,
               timeout_s: float = SEND_TIMEOUT_S) -> SendResult:
    if not smtp_url:
        return SendResult(False, "SMTP_URL is not configured", transient=False)
    try:
        settings = parse_smtp_url(smtp_url)
    except SmtpUrlError as err:
        return SendResult(False, str(err), transient=False)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, recipient, subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="cronmanager")
    msg.set_content(text)
    try:
        if settings.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout_s,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout_s)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(msg)
        return SendResult(True)
    except smtplib.SMTPRecipientsRefused as err:
        codes = [code for code, _ in err.recipients.values()]
        return SendResult(False, f"recipient refused ({', '.join(map(str, codes))})",
                          transient=all(400 <= c < 500 for c in codes))
    except smtplib.SMTPResponseException as err:
        return SendResult(False, f"SMTP {err.smtp_code}: {_short(err.smtp_error)}",
                          transient=400 <= err.smtp_code < 500)
    except (smtplib.SMTPServerDisconnected, TimeoutError) as err:
        return SendResult(False, f"SMTP server {settings.host}: {type(err).__name__}", transient=True)
    except ssl.SSLError as err:
        return SendResult(False, f"TLS with {settings.host} failed: {err.reason}", transient=False)
    except (OSError, smtplib.SMTPException) as err:
        return SendResult(False, f"SMTP server {settings.host}: {_short(str(err)) or type(err).__name__}",
                          transient=True)


def _short(value: bytes | str, limit: int = 200) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    return text.strip()[:limit]


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex>` HMAC of the exact body bytes; receivers compare with hmac.compare_digest."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(payload: dict, fmt: str) -> bytes:
    """Our JSON document, or Slack's incoming-webhook shape ({"text": ...}) which Mattermost and others accept."""
    if fmt == "slack":
        doc: dict = {"text": f"*{payload.get('title', '')}*\n{payload.get('text', '')}".strip()}
    else:
        doc = payload
    return json.dumps(doc, default=str, separators=(",", ":")).encode()


def send_webhook(url: str, payload: dict, *, secret: str | None, fmt: str, allow_private: bool,
                 delivery_id: int | None = None, timeout_s: float = SEND_TIMEOUT_S) -> SendResult:
    """POST through the guarded HttpClient (SSRF rules, deadline, no redirects) with an HMAC signature."""
    from cronmanager.execution.perform import client

    body = webhook_body(payload, fmt)
    headers = {"Content-Type": "application/json", "X-CronManager-Event": str(payload.get("event", ""))}
    if delivery_id is not None:
        headers["X-CronManager-Delivery"] = str(delivery_id)
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    result = client(allow_private).request("POST", url, headers=headers, body=body.decode(), timeout_s=timeout_s)
    if result.ok:
        return SendResult(True)
    return SendResult(False, result.error or f"HTTP {result.status_code}", transient=result.transient)
