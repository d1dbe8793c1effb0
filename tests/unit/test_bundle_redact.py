"""Redaction: secrets masked by key, by argv position and by pattern; ordinary text untouched."""

from __future__ import annotations

import json

import pytest

from debugtool.bundle.redact import (
    MASK,
    Redactor,
    Secrecy,
    attached_password,
    base64_text,
    is_secret,
    is_secret_key,
    secrecy,
    worth_hunting,
)

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
    "MyAppK3yValue42",
    "sk_live_0000DebugtoolFake1234",
    "MysqlPwd55x",
    "Conn Pw 77x",
    "cGFzc3dvcmQ9QjY0UzNjcmV0VmFsdWU=",
    "AQBkZWJ1Z3Rvb2wtY2VwaC1mYWtlLWtleS0xMg==",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
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
    assert f"Server=db.internal;Database=orders;Uid=sa;Pwd={MASK};Encrypt=yes" in out
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
        "stripe-key",
        "connection-string-password",
        "base64-secret",
        "ceph-key",
        "aws-secret-key",
    } <= rules


@pytest.mark.parametrize(
    "corpus", ["bundle/ordinary.txt", "bundle/ordinary-config.txt", "bundle/ordinary-log.txt"]
)
def test_ordinary_text_is_not_mangled(fixture_text, corpus: str) -> None:
    # ordinary.txt is prose; ordinary-config.txt is configuration full of the words the rules
    # look for (key, pwd, -p, base64, sessionAffinity) that holds no secret either.
    text = fixture_text(corpus)
    r = Redactor()
    out = r.text(text, "x")
    changed = [(a, b) for a, b in zip(text.splitlines(), out.splitlines(), strict=True) if a != b]
    assert changed == []
    assert out == text
    assert r.report() == []
    assert r.secrets == set()


def test_structure_env_argv_labels() -> None:
    r = Redactor()
    doc = {
        "Config": {
            "Env": ["DB_PASSWORD=envsecret1", "PATH=/usr/bin:/bin", "SESSION=memory"],
            "Cmd": ["app", "--token=cmdtok123", "--api-key", "k3y99999", "-v", "--port", "80"],
            "Labels": {"com.example.secret": "labelsecret1", "maintainer": "ops@example.com"},
            "Annotations": {"io.kubernetes.auth": ["a1b2c3d4e5"]},
        },
        "Passwd": True,  # podman's flag: a bool is not a secret
    }
    out = r.data(doc, "inspect.json")
    cfg = out["Config"]
    assert cfg["Env"] == ["DB_PASSWORD=" + MASK, "PATH=/usr/bin:/bin", "SESSION=" + MASK]
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


# --- issue 11: names that decide with their value, value shapes, argv -p, base64 -------------

CEPH_KEY = "AQBkZWJ1Z3Rvb2wtY2VwaC1mYWtlLWtleS0xMg=="  # base64 of type 1, 26 bytes of key
B64_PASSWORD = "cGFzc3dvcmQ9QjY0UzNjcmV0VmFsdWU="  # password=B64S3cretValue
B64_DOCKER_AUTH = "eyJhdXRocyI6eyJyZWcubG9jYWwiOnsiYXV0aCI6ImRYTmxjanBUTTJOeVpYUT0ifX19"
B64_PEM = (
    "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVNDCi0tLS0tRU5E"
    "IFBSSVZBVEUgS0VZLS0tLS0K"
)
B64_HELLO = "aGVsbG8gd29ybGQgZnJvbSBkZWJ1Z3Rvb2wsIHZlcnNpb24gMS4yLjM="
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("DB_PASSWORD", Secrecy.SECRET),
        ("MYAPP_KEY", Secrecy.UNLESS_PATH),
        ("SIGNING_KEY", Secrecy.UNLESS_PATH),
        ("ENCRYPTION_KEY_B64", Secrecy.UNLESS_PATH),
        ("MYSQL_PWD", Secrecy.UNLESS_PATH),
        ("PWD", Secrecy.UNLESS_PATH),
        ("MYSQL_PASSWORD_FILE", Secrecy.UNLESS_PATH),
        ("SSL_KEY_FILE", Secrecy.UNLESS_PATH),
        ("SSH_KEY_PATH", Secrecy.UNLESS_PATH),
        ("API_KEY_FILENAME", Secrecy.UNLESS_PATH),
        ("key", Secrecy.IF_KEY_MATERIAL),
        ("KEY", Secrecy.IF_KEY_MATERIAL),
        ("signingKey", Secrecy.IF_KEY_MATERIAL),
        ("snapshot_key", Secrecy.IF_KEY_MATERIAL),
        ("SandboxKey", Secrecy.IF_KEY_MATERIAL),
        ("client-key-data", Secrecy.IF_KEY_MATERIAL),
        ("PUBLIC_KEY", None),  # public by design (WireGuard PublicKey)
        ("SORT_KEY", Secrecy.IF_KEY_MATERIAL),
        ("KEYBOARD_LAYOUT", None),
        ("MONKEY", None),
        ("HOTKEY", None),
        ("KEY_ID", None),
        ("OLDPWD", None),
        ("sessionAffinity", None),
        ("AUTH_TYPE", None),
    ],
)
def test_secrecy_of_names(name: str, kind: Secrecy | None) -> None:
    assert secrecy(name) is kind
    assert is_secret_key(name) is (kind is Secrecy.SECRET)


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("MYAPP_KEY", "Zx81kQ2mVvTt", True),
        ("MYAPP_KEY", "/etc/myapp/key.pem", False),
        ("SSL_KEY_FILE", "/etc/ssl/x.pem", False),
        ("SSL_KEY_FILE", "./certs/tls.key", False),
        ("SSL_KEY_FILE", "server.key", False),
        ("SSL_KEY_FILE", "Zx81kQ2mVvTt", True),  # key material where a path belongs
        ("MYSQL_PASSWORD_FILE", "/run/secrets/db", False),
        ("MYSQL_PASSWORD_FILE", "hunter2hunter2", True),
        ("PWD", "/home/app", False),
        ("PWD", "C:\\Users\\app", False),
        ("MYSQL_PWD", "RootPw77abc", True),
        ("key", CEPH_KEY, True),
        ("key", "app.kubernetes.io/name", False),
        ("key", "password", False),  # a secretKeyRef names the key, it does not hold it
        ("snapshot_key", "40b491c15ab5d19f2414f26c12587ae7769dca20461eb6f47a9ea85954d4294a", False),
        ("SandboxKey", "/var/run/docker/netns/a6a84ef4f267", False),
        ("password", "null", False),
        ("sessionAffinity", "ClientIP", False),
        ("DB_PASSWORD", "/starts/with/a/slash", True),  # a password is a password
    ],
)
def test_is_secret_decides_with_the_value(name: str, value: str, secret: bool) -> None:
    assert is_secret(name, value) is secret


# Each environment entry, as it lands in inspect.json: masked or left exactly as it was.
ENV_CASES = [
    # 1: names whose words make them secret
    ("MYAPP_KEY=Zx81kQ2mVvTt", "MYAPP_KEY=" + MASK),
    ("SIGNING_KEY=abc123def456", "SIGNING_KEY=" + MASK),
    ("MYSQL_PWD=RootPw77abc", "MYSQL_PWD=" + MASK),
    ("SSL_KEY_FILE=Zx81kQ2mVvTt", "SSL_KEY_FILE=" + MASK),
    ("KEYBOARD_LAYOUT=us", None),
    ("MONKEY=banana", None),
    ("SSL_KEY_FILE=/etc/ssl/x.pem", None),
    ("SSH_KEY_PATH=~/.ssh/id_ed25519", None),
    ("TLS_KEY_FILENAME=server.key", None),
    ("PWD=/home/app", None),
    ("SORT_KEY=created_at", None),
    # 2: values with a well-known secret shape, whatever the name
    ("STRIPE=sk_live_51HxYzAbCdEfGhIjKlMnOp", "STRIPE=" + MASK),
    ("STRIPE_R=rk_live_51HxYzAbCdEfGhIjKlMnOp", "STRIPE_R=" + MASK),
    ("STRIPE_T=sk_test_51HxYzAbCdEfGhIjKlMnOp", "STRIPE_T=" + MASK),
    ("HOOK=whsec_0123456789abcdefABCDEF", "HOOK=" + MASK),
    ("GH=ghp_0123456789abcdefghijABCDEFGHIJ012345", "GH=" + MASK),
    ("GH=gho_0123456789abcdefghijABCDEFGHIJ012345", "GH=" + MASK),
    ("GH=ghs_0123456789abcdefghijABCDEFGHIJ012345", "GH=" + MASK),
    ("GH=github_pat_0123456789abcdefghij_ABCDEFG", "GH=" + MASK),
    ("SLACK=xoxb-1234567890-abcdefABCDEF", "SLACK=" + MASK),
    ("SLACK=xoxp-1234567890-abcdefABCDEF", "SLACK=" + MASK),
    ("AWS=AKIAIOSFODNN7EXAMPLE", "AWS=" + MASK),
    ("AWS=ASIAIOSFODNN7EXAMPLE", "AWS=" + MASK),
    (f"AWS=AKIAIOSFODNN7EXAMPLE:{AWS_SECRET}", f"AWS={MASK}:{MASK}"),
    ("G=AIzaSyD-0123456789abcdefghijklmnopqrstu", "G=" + MASK),
    (
        "J=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "J=" + MASK,
    ),
    ("HDR=Bearer AbCdEf0123456789xyz", "HDR=Bearer " + MASK),
    ("HDR=Basic dXNlcjpwYXNz", "HDR=Basic " + MASK),
    ("DB=postgres://app:Pg5ecretPw@db:5432/x", f"DB=postgres://app:{MASK}@db:5432/x"),
    ("CACHE=redis://:Redis9pwXYZ@redis:6379/0", f"CACHE=redis://:{MASK}@redis:6379/0"),
    (
        "TLS=-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
        f"TLS=-----BEGIN PRIVATE KEY-----\n{MASK}\n-----END PRIVATE KEY-----",
    ),
    (
        "GPG=-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGZfake0123\n-----END PGP PRIVATE KEY BLOCK-----",
        f"GPG=-----BEGIN PGP PRIVATE KEY BLOCK-----\n{MASK}\n-----END PGP PRIVATE KEY BLOCK-----",
    ),
    ("STRIPE_PK=pk_live_51HxYzAbCdEfGhIjKlMnOp", None),  # publishable: public by design
    ("GIT_COMMIT=0123456789abcdef0123456789abcdef01234567", None),
    # 3: ODBC/ADO connection strings: the value up to ';', spaces and all
    ("CONN=Server=db;Database=x;Pwd=Conn Pw 123;", f"CONN=Server=db;Database=x;Pwd={MASK};"),
    (
        "ADO=Data Source=x;User Id=sa;password = Conn Pw 456 ;Encrypt=yes",
        f"ADO=Data Source=x;User Id=sa;password = {MASK} ;Encrypt=yes",
    ),
    ("ODBC=Driver={ODBC 18};Uid=sa;PWD={a;b c};", f"ODBC=Driver={{ODBC 18}};Uid=sa;PWD={MASK};"),
    ("CONN=Server=db;Database=x;Trusted_Connection=yes;", None),
    # 4: base64 whose text would be redacted
    (f"BLOB={B64_PASSWORD}", "BLOB=" + MASK),
    (f"DOCKER_CFG={B64_DOCKER_AUTH}", "DOCKER_CFG=" + MASK),
    (f"TLS_B64={B64_PEM}", "TLS_B64=" + MASK),
    (f"GREETING={B64_HELLO}", None),
    # 6: Ceph key material under any name
    (f"CEPH={CEPH_KEY}", "CEPH=" + MASK),
]


@pytest.mark.parametrize(("entry", "expected"), ENV_CASES)
def test_environment_entries(entry: str, expected: str | None) -> None:
    r = Redactor()
    (out,) = r.data({"Config": {"Env": [entry]}}, "inspect.json")["Config"]["Env"]
    assert out == (entry if expected is None else expected)
    assert (r.report() == []) is (expected is None)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # 5: attached -p in a program not known to take a password that way
        (["myprog", "-pSECRET"], ["myprog", "-p" + MASK]),
        (["myprog", "-pS3cr3t!x"], ["myprog", "-p" + MASK]),
        (["myprog", "-p=Passw0rd99"], ["myprog", "-p=" + MASK]),
        (["myprog", "-p", "8080"], None),  # a separate -p X: a port as often as a password
        (["myprog", "-p8080"], None),
        (["myprog", "-p12345678"], None),  # digits only: a port or a pid, left (the cost)
        (["docker", "run", "-p127.0.0.1:8080:80/tcp", "img"], None),
        (["cp", "-pR", "a", "b"], None),
        (["tar", "-pxvf", "a.tar"], None),
        (["gcc", "-pthread", "-pedantic", "x.c"], None),
        (["find", ".", "-print0"], None),
        (["nginx", "-p/etc/nginx/"], None),
        # known programs: attached or separate, digits or not
        (["/usr/bin/mysql", "-p12345678"], ["/usr/bin/mysql", "-p" + MASK]),
        (["mysqldump", "-pRootPw77abc", "db"], ["mysqldump", "-p" + MASK, "db"]),
        (["mariadb", "-p", "RootPw77abc"], ["mariadb", "-p", MASK]),
        (["redis-cli", "-p6379", "-a", "Redis9pwXYZ"], ["redis-cli", "-p6379", "-a", MASK]),
        # long flags, = or separate
        (["app", "--password=Flag5ecret99"], ["app", "--password=" + MASK]),
        (["app", "--password", "Flag5ecret99"], ["app", "--password", MASK]),
        (["app", "--token", "Tok3nValue9"], ["app", "--token", MASK]),
        (["ceph", "--key", CEPH_KEY], ["ceph", "--key", MASK]),
        (["curl", "--key", "client.pem", "https://x"], None),
        (["app", "--ssl-key-file", "/etc/ssl/x.pem"], None),
        (["app", "--myapp-key", "Zx81kQ2mVvTt"], None),  # lower-case: needs key material
    ],
)
def test_argv(argv: list[str], expected: list[str] | None) -> None:
    assert Redactor().argv(argv, "inspect.json") == (argv if expected is None else expected)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"[client.admin]\n\tkey = {CEPH_KEY}", f"[client.admin]\n\tkey = {MASK}"),
        (f'{{"key": "{CEPH_KEY}"}}', f'{{"key": "{MASK}"}}'),
        (f"ceph auth get-key client.admin: {CEPH_KEY}", f"ceph auth get-key client.admin: {MASK}"),
        ("MYAPP_KEY=Zx81kQ2mVvTt started", f"MYAPP_KEY={MASK} started"),
        (
            '{"level": "info", "password": "ab\\"cd12"}',
            f'{{"level": "info", "password": "{MASK}"}}',
        ),
        ("Server=db;Uid=sa;Pwd=a b c;", f"Server=db;Uid=sa;Pwd={MASK};"),
        ("login password=abc12345 user=bob; done", f"login password={MASK} user=bob; done"),
        (f"creds AKIAIOSFODNN7EXAMPLE,{AWS_SECRET}", f"creds {MASK},{MASK}"),
        (f"secret data: {B64_PASSWORD}", f"secret data: {MASK}"),
        ("sessionAffinity: None", None),
        ("sessionAffinity: ClientIP", None),
        ("cd /srv; PWD=/srv/app make", None),
        ("key: app.kubernetes.io/name", None),
        (  # a sha1 next to an access key id is not its secret: one case only
            "AKIAIOSFODNN7EXAMPLE commit 0123456789abcdef0123456789abcdef01234567",
            f"{MASK} commit 0123456789abcdef0123456789abcdef01234567",
        ),
        (f"greeting: {B64_HELLO}", None),
    ],
)
def test_text_lines(line: str, expected: str | None) -> None:
    assert Redactor().text(line, "logs.txt") == (line if expected is None else expected)


def test_session_affinity_in_a_document_is_kept() -> None:
    doc = {"spec": {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"x": "None"}}}
    r = Redactor()
    assert r.data(doc, "inspect.json") == doc
    assert r.report() == []


def test_a_kubernetes_toleration_key_is_not_a_secret_but_a_ceph_key_is() -> None:
    doc = {
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
        "env": [{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
        "ceph": {"key": CEPH_KEY},
    }
    out = Redactor().data(doc, "inspect.json")
    assert out["tolerations"] == doc["tolerations"]
    assert out["env"] == doc["env"]
    assert out["ceph"] == {"key": MASK}


def test_base64_secret_is_masked_whole_and_its_text_hunted() -> None:
    r = Redactor()
    out = r.data({"data": {"config": B64_PASSWORD}}, "inspect.json")
    assert out == {"data": {"config": MASK}}
    assert {B64_PASSWORD, "B64S3cretValue"} <= r.secrets
    # The decoded password, printed somewhere in plain, goes in the second pass.
    assert r.known("echo B64S3cretValue", "logs.txt") == "echo " + MASK
    assert {rec["rule"] for rec in r.report()} >= {"base64-secret", "known-value"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (B64_PASSWORD, "password=B64S3cretValue"),
        (B64_HELLO, "hello world from debugtool, version 1.2.3"),
        ("AAECAwQFBgcICQoLDA0ODw==", None),  # bytes 0..15: control characters
        ("/////////////////////w==", None),  # not UTF-8
        ("not base64 at all!!", None),
    ],
)
def test_base64_text(value: str, text: str | None) -> None:
    assert base64_text(value) == text


@pytest.mark.parametrize(
    ("rest", "password"),
    [
        ("SECRET", True),
        ("S3cr3t!x", True),
        ("Abc12", True),
        ("=Passw0rd99", True),
        ("8080", False),
        ("8080-8090", False),
        ("127.0.0.1:8080:80/tcp", False),
        ("[::1]:53:53/udp", False),
        ("/run/x.pid", False),
        ("R", False),
        ("xvf", False),
        ("HELLO", False),  # five letters could be a flag cluster
        ("thread", False),
        ("rint0", False),
        ("12345678", False),
    ],
)
def test_attached_password(rest: str, password: bool) -> None:
    assert attached_password(rest) is password
