"""TLS/SASL settings for the backends, secrets from a mounted directory, and secrets never printed."""

from __future__ import annotations

import pytest

from shared.config import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("AUTOMATION_"):
            monkeypatch.delenv(key)


def test_plaintext_kafka_needs_no_settings():
    assert Settings().kafka_security() == {}


def test_sasl_ssl_kafka_settings_become_librdkafka_keys(tmp_path):
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_ca_file=tmp_path / "ca.pem",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="executor",
        kafka_sasl_password="s3cr3t-kafka",
    )
    assert settings.kafka_security() == {
        "security.protocol": "sasl_ssl",
        "ssl.ca.location": str(tmp_path / "ca.pem"),
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "executor",
        "sasl.password": "s3cr3t-kafka",
    }


def test_mutual_tls_to_kafka(tmp_path):
    settings = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=tmp_path / "ca.pem",
        kafka_ssl_cert_file=tmp_path / "client.pem",
        kafka_ssl_key_file=tmp_path / "client.key",
    )
    security = settings.kafka_security()
    assert security["security.protocol"] == "ssl" and "sasl.mechanism" not in security
    assert security["ssl.certificate.location"].endswith("client.pem")


def test_secrets_are_read_from_a_mounted_directory_and_env_wins(tmp_path, monkeypatch):
    (tmp_path / "AUTOMATION_REDIS_URL").write_text("rediss://:pw-from-file@redis.internal:6380/0")
    (tmp_path / "AUTOMATION_SMS_AUTH_TOKEN").write_text("token-from-file")
    (tmp_path / "AUTOMATION_DATABASE_URL").write_text("postgresql+psycopg://u:dbpw@db/x?sslmode=verify-full")
    monkeypatch.setenv("AUTOMATION_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("AUTOMATION_SMS_AUTH_TOKEN", "token-from-env")
    settings = Settings.from_environment()
    assert settings.redis_url.get_secret_value().startswith("rediss://:pw-from-file@")
    assert settings.sms_auth_token.get_secret_value() == "token-from-env"
    assert "sslmode=verify-full" in settings.sqlalchemy_url


def test_secrets_never_show_in_repr_or_json_dump():
    settings = Settings(
        redis_url="rediss://:redis-pw-123@r:6380/0",
        database_url="postgresql+psycopg://u:db-pw-456@db/x",
        sms_auth_token="sms-token-789",
        smtp_password="smtp-pw-000",
        kafka_sasl_password="kafka-pw-111",
    )
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in ("redis-pw-123", "db-pw-456", "sms-token-789", "smtp-pw-000", "kafka-pw-111"):
        assert secret not in shown
