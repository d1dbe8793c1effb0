"""Redaction: secrets masked by key, by argv position and by pattern; ordinary text untouched."""

from __future__ import annotations

import json

import pytest

from debugtool.bundle.redact import MASK, Redactor, is_secret_key, worth_hunting

SECRETS = [
    "Pg5ecretPw",
    "AbCdEf0123456789xyz",
    "Hunter2Hunter2",
    "quoted Tok3n value",
    "ApiK3yValue99",
    "Flag5ecret99",
    "RootPw77abc",
    "Redis9pwXYZ",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "xoxb-1234567890-abcdefABCDEF",
    "sk-proj0123456789abcdefghijKLMN",
    "glpat-0123456789abcdefGHIJ",
    "AIzaSyD-0123456789abcdefghijklmnopqrstu",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
]


@pytest.mark.parametrize(
    "key",
    [
        "DB_PASSWORD",
        "MYSQL_ROOT_PASSWORD",
        "passwd",
        "apiKey",
        "API_KEY",
        "X-Auth-Token",
        "GITHUB_TOKEN",
        "aws_secret_access_key",
        "AWS_ACCESS_KEY_ID",
        "private_key",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "session",
        "SessionID",
        "Set-Cookie",
        "SENTRY_DSN",
        "auth",
        "com.example.secret",
        "--password",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "PATH",
        "PWD",
        "HOSTNAME",
        "author",
        "passthrough",
        "MYSQL_PASSWORD_FILE",
        "AUTH_TYPE",
        "SandboxKey",
        "Dns",
        "maintainer",
        "org.opencontainers.image.version",
        "cpu_quota_us",
    ],
)
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_every_planted_secret_in_text_is_masked(fixture_text) -> None:
    r = Redactor()
    out = r.text(fixture_text("bundle/secrets.txt"), "logs.txt")
    for secret in SECRETS:
        assert secret not in out, secret
    # The structure around a secret stays readable.
    assert "postgres://app:" + MASK + "@db.internal:5432/orders" in out
    assert "Authorization: Bearer " + MASK in out
    assert "--port 80" in out
    assert "-----BEGIN OPENSSH PRIVATE KEY-----" in out
    rules = {rec["rule"] for rec in r.report()}
    assert {
        "url-password",
        "bearer-token",
        "aws-access-key",
        "github-token",
        "slack-token",
        "jwt",
        "pem-private-key",
        "secret-key",
        "secret-flag",
        "password-flag",
    } <= rules


def test_ordinary_text_is_not_mangled(fixture_text) -> None:
    text = fixture_text("bundle/ordinary.txt")
    r = Redactor()
    assert r.text(text, "x") == text
    assert r.report() == []
    assert r.secrets == set()


def test_structure_env_argv_labels() -> None:
    r = Redactor()
    doc = {
        "Config": {
            "Env": ["DB_PASSWORD=envsecret1", "PATH=/usr/bin:/bin", "SESSION_STORE=memory"],
            "Cmd": ["app", "--token=cmdtok123", "--api-key", "k3y99999", "-v", "--port", "80"],
            "Labels": {"com.example.secret": "labelsecret1", "maintainer": "ops@example.com"},
            "Annotations": {"io.kubernetes.auth": ["a1b2c3d4e5"]},
        },
        "Passwd": True,  # podman's flag: a bool is not a secret
    }
    out = r.data(doc, "inspect.json")
    cfg = out["Config"]
    assert cfg["Env"] == ["DB_PASSWORD=" + MASK, "PATH=/usr/bin:/bin", "SESSION_STORE=" + MASK]
    assert cfg["Cmd"] == ["app", "--token=" + MASK, "--api-key", MASK, "-v", "--port", "80"]
    assert cfg["Labels"] == {"com.example.secret": MASK, "maintainer": "ops@example.com"}
    assert cfg["Annotations"] == {"io.kubernetes.auth": [MASK]}
    assert out["Passwd"] is True
    # Distinctive values are hunted everywhere; an ordinary word ("memory") is not.
    assert {"envsecret1", "cmdtok123", "k3y99999", "labelsecret1", "a1b2c3d4e5"} <= r.secrets
    assert "memory" not in r.secrets


def test_known_password_short_flags() -> None:
    r = Redactor()
    assert r.argv(["/usr/bin/mysql", "-u", "root", "-pS3cretPw"], "a") == [
        "/usr/bin/mysql",
        "-u",
        "root",
        "-p" + MASK,
    ]
    assert r.argv(["sshpass", "-p", "Sshpw1234", "ssh", "host"], "a")[2] == MASK
    # -p is a port or a publish flag for other programs: left alone.
    assert r.argv(["docker", "run", "-p", "8080:80", "img"], "a")[3] == "8080:80"


def test_second_pass_masks_a_value_found_elsewhere() -> None:
    r = Redactor()
    inspect = r.first_pass("inspect.json", json.dumps({"Env": ["API_TOKEN=Zq9wX2vB7nM4"]}).encode())
    logs = r.first_pass("logs.txt", b"connected using Zq9wX2vB7nM4 as credential\n")
    assert b"Zq9wX2vB7nM4" not in inspect
    assert b"Zq9wX2vB7nM4" in logs  # the first pass has no context for it in the log line
    assert (
        r.second_pass("logs.txt", logs) == b"connected using " + MASK.encode() + b" as credential\n"
    )
    counts = {(rec["rule"], rec["file"]): rec["count"] for rec in r.report()}
    assert counts[("known-value", "logs.txt")] == 1
    assert counts[("secret-env", "inspect.json")] == 1


def test_json_escaped_secret_is_found_and_masked() -> None:
    r = Redactor()
    r.data({"password": 'we"ird\\Pw123'}, "a.json")
    text = json.dumps({"note": 'copied we"ird\\Pw123 here'})
    assert 'we\\"ird\\\\Pw123' in text
    assert "Pw123" not in r.known(text, "b.json")
    assert b'we\\"ird\\\\Pw123' in r.leak_needles()


def test_report_never_holds_a_secret() -> None:
    r = Redactor()
    r.text("password=Hunter2Hunter2", "logs.txt")
    report = json.dumps(r.report())
    assert "Hunter2Hunter2" not in report
    assert r.report() == [{"rule": "secret-key", "file": "logs.txt", "count": 1}]


@pytest.mark.parametrize(
    ("value", "hunt"),
    [("on", False), ("memory", False), ("12345", False), ("hunter2", True), ("12345678", True)],
)
def test_worth_hunting(value: str, hunt: bool) -> None:
    assert worth_hunting(value) is hunt


def test_non_utf8_bytes_survive_a_pass() -> None:
    r = Redactor()
    data = b"binary \xff\xfe line password=abc12345\n"
    out = r.first_pass("logs.txt", data)
    assert out == b"binary \xff\xfe line password=" + MASK.encode() + b"\n"


def test_json_stays_valid_when_a_string_holds_a_secret_and_quotes() -> None:
    r = Redactor()
    doc = {"Command": "sh -c 'echo \"login password=Pw12345\"; run --token=Tk98765x'"}
    out = r.first_pass("container.json", json.dumps(doc).encode())
    back = json.loads(out)  # still JSON
    assert back["Command"] == f"sh -c 'echo \"login password={MASK}\"; run --token={MASK}'"


def test_many_known_values_are_masked_in_one_scan() -> None:
    r = Redactor()
    for i in range(3000):
        r.data({"password": f"Secret{i:05d}x"}, "a.json")
    text = "start Secret00042x middle Secret02999x end Secret1x"
    assert r.known(text, "logs.txt") == f"start {MASK} middle {MASK} end Secret1x"
    counts = {(rec["rule"], rec["file"]): rec["count"] for rec in r.report()}
    assert counts[("known-value", "logs.txt")] == 2
