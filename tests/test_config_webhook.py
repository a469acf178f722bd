"""The webhook settings as an operator meets them: each wrong value named with what to write,
the secret never shown, and polling unless a webhook URL is set."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, from_env
from tests.processes import clean_env, crewbot

TOKEN = "123456:" + "A" * 35
SECRET = "s3cr3t_-value"
GOOD = {"CREWBOT_TELEGRAM_TOKEN": TOKEN,
        "CREWBOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram",
        "CREWBOT_TELEGRAM_WEBHOOK_SECRET": SECRET}


def test_a_webhook_url_with_a_secret_is_accepted_and_listens_on_the_default_address():
    config = from_env(GOOD)
    assert config.webhook_url == "https://bot.example.org/telegram"
    assert (config.webhook_host, config.webhook_port) == ("127.0.0.1", 8443)
    assert SECRET in config.secrets and SECRET not in repr(config)
    listening = from_env({**GOOD, "CREWBOT_TELEGRAM_WEBHOOK_LISTEN": "0.0.0.0:9000"})
    assert (listening.webhook_host, listening.webhook_port) == ("0.0.0.0", 9000)


def test_without_a_webhook_url_the_bot_polls():
    config = from_env({"CREWBOT_TELEGRAM_TOKEN": TOKEN,
                       "CREWBOT_TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1:8443"})
    assert config.webhook_url is None


def test_plain_http_is_accepted_only_with_a_self_hosted_bot_api():
    http = {**GOOD, "CREWBOT_TELEGRAM_WEBHOOK_URL": "http://10.0.0.5:8081/tg"}
    with pytest.raises(ConfigError) as refused:
        from_env(http)
    assert "https://" in str(refused.value) and "CREWBOT_TELEGRAM_API_URL" in str(refused.value)
    config = from_env({**http, "CREWBOT_TELEGRAM_API_URL": "http://10.0.0.5:8081"})
    assert config.webhook_url == "http://10.0.0.5:8081/tg"


@pytest.mark.parametrize(("settings", "name", "hint"), [
    ({"CREWBOT_TELEGRAM_WEBHOOK_SECRET": ""}, "CREWBOT_TELEGRAM_WEBHOOK_SECRET", "openssl"),
    ({"CREWBOT_TELEGRAM_WEBHOOK_SECRET": "has spaces"}, "CREWBOT_TELEGRAM_WEBHOOK_SECRET",
     "A-Z a-z 0-9 _ and -"),
    ({"CREWBOT_TELEGRAM_WEBHOOK_SECRET": "x" * 257}, "CREWBOT_TELEGRAM_WEBHOOK_SECRET",
     "1 to 256"),
    ({"CREWBOT_TELEGRAM_WEBHOOK_URL": "bot.example.org/telegram"},
     "CREWBOT_TELEGRAM_WEBHOOK_URL", "https://bot.example.org/telegram"),
    ({"CREWBOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org:9443/tg"},
     "CREWBOT_TELEGRAM_WEBHOOK_URL", "443, 80, 88 or 8443"),
    ({"CREWBOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/tg?x=1"},
     "CREWBOT_TELEGRAM_WEBHOOK_URL", "?query"),
    ({"CREWBOT_TELEGRAM_WEBHOOK_LISTEN": "8443"}, "CREWBOT_TELEGRAM_WEBHOOK_LISTEN",
     "127.0.0.1:8443"),
    ({"CREWBOT_TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1:99999"}, "CREWBOT_TELEGRAM_WEBHOOK_LISTEN",
     "host:port"),
    ({"CREWBOT_TELEGRAM_TOKEN": ""}, "CREWBOT_TELEGRAM_WEBHOOK_URL", "CREWBOT_TELEGRAM_TOKEN"),
    ({"CREWBOT_TELEGRAM_WEBHOOK_URL": ""}, "CREWBOT_TELEGRAM_WEBHOOK_SECRET",
     "CREWBOT_TELEGRAM_WEBHOOK_URL"),
    ({"CREWBOT_HEALTH_PORT": "8443"}, "CREWBOT_TELEGRAM_WEBHOOK_LISTEN", "a port each"),
])
def test_each_wrong_webhook_setting_is_named_with_what_to_write(settings, name, hint):
    with pytest.raises(ConfigError) as refused:
        from_env({**GOOD, **settings})
    [problem] = refused.value.problems
    assert problem.startswith(name) and hint in problem, problem


async def test_crewbot_run_refuses_a_bad_secret_in_one_line_without_showing_it(tmp_path):
    bad = "not a valid secret!"
    code, out, err = await crewbot("run", env=clean_env(**{
        **GOOD, "CREWBOT_TELEGRAM_WEBHOOK_SECRET": bad}), cwd=tmp_path)
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith("crewbot: CREWBOT_TELEGRAM_WEBHOOK_SECRET ") and bad not in line
