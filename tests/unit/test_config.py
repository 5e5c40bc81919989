import pytest

from wallet.config import ConfigError, settings_from_env
from wallet.db import make_engine


def test_development_defaults_to_an_sqlite_file_under_instance(tmp_path):
    settings = settings_from_env({"WALLET_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'wallet.sqlite3'}"
    assert settings.environment == "development"


def test_production_needs_a_database_url_and_a_signing_key():
    with pytest.raises(ConfigError, match="WALLET_DATABASE_URL"):
        settings_from_env({"WALLET_ENV": "production"})
    with pytest.raises(ConfigError, match="WALLET_SIGNING_KEY"):
        settings_from_env({"WALLET_ENV": "production", "WALLET_DATABASE_URL": "postgresql://x@y/z"})
    with pytest.raises(ConfigError, match="WALLET_QR_SIGNING_KEY"):
        settings_from_env({"WALLET_ENV": "production", "WALLET_DATABASE_URL": "postgresql://x@y/z",
                           "WALLET_SIGNING_KEY": "/keys/checkpoint.pem"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WALLET_ENV": "staging"}, "WALLET_ENV"),
        ({"WALLET_MAX_BATCH_EVENTS": "many"}, "whole number"),
        ({"WALLET_QR_TOKEN_TTL_S": "5"}, "WALLET_QR_TOKEN_TTL_S"),
        ({"WALLET_QR_TOKEN_TTL_S": "3600"}, "WALLET_QR_TOKEN_TTL_S"),
    ],
)
def test_bad_settings_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_env(env)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "not supported"),
        ("::not a url::", "cannot be parsed"),
        ("oracle+cx_oracle://u@h/x", "not supported"),
    ],
)
def test_unsupported_database_urls_fail_with_one_line(url, message):
    with pytest.raises(ConfigError, match=message) as info:
        make_engine(url)
    assert "\n" not in str(info.value)


def test_the_test_clock_is_honoured_only_in_tests(tmp_path):
    clock = tmp_path / "clock"
    clock.write_text("2027-01-04T07:00:00Z")
    with pytest.raises(ConfigError, match="WALLET_TEST_CLOCK_FILE is honoured only with WALLET_ENV=test"):
        settings_from_env({"WALLET_ENV": "development", "WALLET_TEST_CLOCK_FILE": str(clock),
                           "WALLET_INSTANCE_PATH": str(tmp_path)})
    settings = settings_from_env({"WALLET_ENV": "test", "WALLET_TEST_CLOCK_FILE": str(clock),
                                  "WALLET_INSTANCE_PATH": str(tmp_path)})
    assert settings.now().isoformat() == "2027-01-04T07:00:00+00:00"
    clock.write_text("2027-01-05T07:00:00+05:00")  # read on every call: the test moves it
    assert settings.now().isoformat() == "2027-01-05T02:00:00+00:00"
    assert settings_from_env({"WALLET_INSTANCE_PATH": str(tmp_path)}).test_clock_file is None
