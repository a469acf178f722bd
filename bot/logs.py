"""Structured log lines: key=value text or JSON, with every secret replaced by ***."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

# A message made only of key=value words becomes fields of its own in JSON.
FIELDS = re.compile(r"[a-z_]+=\S*(?: [a-z_]+=\S*)*")
NUMERIC_FIELDS = frozenset({"ms", "count"})
# Libraries that would log every request (httpx's URLs carry the Telegram token) or chatter.
NOISY = ("apscheduler", "aiosqlite", "sqlalchemy.engine", "alembic", "httpx", "httpcore",
         "telegram", "discord", "aiohttp.access")


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class Redact(logging.Filter):
    """Replaces every secret in a log record's final text with ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(s in text for s in self.secrets):
            record.msg, record.args = _redact(text, self.secrets), None
        return True


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """`time=... level=... logger=... key=value ...`; a traceback follows on its own lines."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if not FIELDS.fullmatch(message):
            message = "message=" + json.dumps(message, ensure_ascii=False)
        line = f"time={_time(record)} level={record.levelname} logger={record.name} {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return _redact(line, self.secrets)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, then the message's key=value fields (or the
    message as `message`), and `exception` with the traceback."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def format(self, record: logging.LogRecord) -> str:
        message = _redact(record.getMessage(), self.secrets)
        data: dict[str, object] = {"time": _time(record), "level": record.levelname,
                                   "logger": record.name}
        if FIELDS.fullmatch(message):
            for word in message.split(" "):
                key, _, value = word.partition("=")
                number = key in NUMERIC_FIELDS and value.lstrip("-").isdigit()
                data.setdefault(key, int(value) if number else value)
        else:
            data["message"] = message
        if record.exc_info:
            data["exception"] = _redact(self.formatException(record.exc_info), self.secrets)
        return json.dumps(data, ensure_ascii=False)


class ShortFormatter(logging.Formatter):
    """One short line for a person at a terminal console: `crewbot warning: MESSAGE`, an error
    naming its exception but without the traceback."""

    WIDTH = 200

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text += f" ({type(error).__name__}: {error})" if str(error) else (
                f" ({type(error).__name__})")
        text = " ".join(_redact(text, self.secrets).split())
        if len(text) > self.WIDTH:
            text = text[:self.WIDTH - 1] + "\u2026"
        return f"crewbot {record.levelname.lower()}: {text}"


def quiet_for_terminal(stream: object) -> None:
    """On a terminal console the log must not interleave with the transcript: only warnings
    and errors are written, each as one short line, to `stream`."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            formatter = handler.formatter
            secrets = formatter.secrets if isinstance(formatter, TextFormatter | JsonFormatter) \
                else []
            handler.setFormatter(ShortFormatter(secrets))
            handler.setLevel(max(handler.level, logging.WARNING))
            handler.setStream(stream)  # type: ignore[arg-type]


def setup_logging(level: str, secrets: list[str] | None = None, fmt: str = "text") -> None:
    """Logs to standard error in the chosen format; secrets never reach the output."""
    secrets = secrets or []
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets))
    handler.addFilter(Redact(secrets))
    logging.basicConfig(level=getattr(logging, level), handlers=[handler])
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, getattr(logging, level)))
