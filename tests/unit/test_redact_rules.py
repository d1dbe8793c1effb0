"""Redaction rules a site adds: keys, patterns, literals, an allow-list; bad rules stop the bundle."""

from __future__ import annotations

import pytest
from harness import run_cli

from debugtool import config
from debugtool.bundle.redact import (
    MASK,
    Redactor,
    Rules,
    RulesError,
    configured_rules,
    load_rules,
    rules_from_table,
)

M = MASK


@pytest.fixture(autouse=True)
def _no_system_config(monkeypatch, tmp_path):
    monkeypatch.setenv("DEBUGTOOL_CONFIG", str(tmp_path / "config.toml"))
    config.reset()
    yield
    config.reset()


def test_extra_keys_make_names_secret_in_every_shape() -> None:
    r = Redactor(Rules(keys=("ldap_bind", "x-internal-sig")))
    text = (
        "LDAP_BIND=Bind9pass\n"
        "ldap.bind: Bind9pass2\n"
        '{"name":"APP_LDAP_BIND","value":"Bind9pass3"}\n'
        "curl -H 'X-Internal-Sig: Sig9value' https://x\n"
        "xInternalSig=Sig9value2\n"
        "ldap_bind_timeout=30 ldap_bindings=on\n"
    )
    assert r.text(text, "x") == (
        f"LDAP_BIND={M}\n"
        f"ldap.bind: {M}\n"
        f'{{"name":"APP_LDAP_BIND","value":"{M}"}}\n'
        f"curl -H 'X-Internal-Sig: {M}' https://x\n"
        f"xInternalSig={M}\n"
        "ldap_bind_timeout=30 ldap_bindings=on\n"  # a key's words, in a row, not a substring
    )
    assert r.data({"Env": ["LDAP_BIND=Bind9pass4"]}, "inspect.json") == {"Env": [f"LDAP_BIND={M}"]}
    # without the rule, none of these names is secret
    assert Redactor().text(text, "x") == text


def test_patterns_mask_the_match_or_its_secret_group() -> None:
    r = Redactor(Rules(patterns=(r"ORD-[0-9]{6}-[A-Z]{4}", r"customer=(?P<secret>\d{4,})")))
    out = r.text("order ORD-123456-ABCD for customer=98765 from customer=12", "app.log")
    assert out == f"order {M} for customer={M} from customer=12"
    assert {rec["rule"] for rec in r.report()} == {"user-pattern"}
    assert "ORD-123456-ABCD" in r.secrets  # hunted in every other file of the bundle


def test_literals_are_masked_anywhere_and_leak_scanned() -> None:
    r = Redactor(Rules(literals=("acme-prod-7", "s3cr3t value")))
    out = r.text("host acme-prod-7.internal said 's3cr3t value'", "a.log")
    assert out == f"host {M}.internal said '{M}'"
    assert r.report() == [{"rule": "user-literal", "file": "a.log", "count": 2}]
    assert b"acme-prod-7" in r.leak_needles()  # the archive is scanned for them too
    assert r.second_pass("b.json", b'{"x": "acme-prod-7"}') == b'{"x": "' + M.encode() + b'"}'


def test_allow_keeps_names_and_values_the_built_in_rules_would_mask() -> None:
    text = "SESSION=sticky-ClientIP\nauth_token=public-demo-token\npassword=Real9Secret\n"
    assert Redactor().text(text, "x") == f"SESSION={M}\nauth_token={M}\npassword={M}\n"
    r = Redactor(Rules(allow=("session", "public-demo-token")))
    assert (
        r.text(text, "x")
        == f"SESSION=sticky-ClientIP\nauth_token=public-demo-token\npassword={M}\n"
    )
    assert r.data({"session": "sticky-ClientIP", "Passwd": "x1y2z3w4"}, "i.json") == {
        "session": "sticky-ClientIP",
        "Passwd": M,
    }


def test_a_rules_file_and_the_system_config_add_up(tmp_path) -> None:
    (tmp_path / "config.toml").write_text('[redact]\nkeys = ["bindpw2"]\nallow = ["session"]\n')
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(
        'keys = ["ldap_bind"]\n'
        "patterns = ['ORD-[0-9]{6}']\n"
        'literals = ["acme-prod-7"]\n'
        'allow = ["session", "demo"]\n'
    )
    rules = configured_rules(str(rules_file))
    assert rules.keys == ("bindpw2", "ldap_bind")
    assert rules.allow == ("session", "demo")
    assert rules.patterns == ("ORD-[0-9]{6}",)
    assert rules.sources == (f"{tmp_path / 'config.toml'} [redact]", str(rules_file))
    assert configured_rules(None).keys == ("bindpw2",)


def test_a_rules_file_may_hold_the_redact_table_of_the_config(tmp_path) -> None:
    f = tmp_path / "rules.toml"
    f.write_text('[redact]\nliterals = ["x1"]\n')
    assert load_rules(str(f)).literals == ("x1",)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("keys = [\n", "not valid TOML"),
        ('key = ["x"]\n', "unknown setting 'key'"),
        ('keys = "bindpw"\n', "keys must be a list of non-empty strings"),
        ("literals = [1, 2]\n", "literals must be a list of non-empty strings"),
        ('allow = [""]\n', "allow must be a list of non-empty strings"),
        ("patterns = ['ok', 'ORD-(']\n", "patterns[1] 'ORD-(' is not a regular expression"),
        ("patterns = ['x*']\n", "patterns[0] 'x*' matches empty text"),
        ('keys = ["--"]\n', "keys[0] '--' has no letters or digits"),
    ],
)
def test_a_bad_rules_file_is_one_sentence_naming_file_and_rule(
    tmp_path, text: str, reason: str
) -> None:
    f = tmp_path / "rules.toml"
    f.write_text(text)
    with pytest.raises(RulesError) as err:
        load_rules(str(f))
    message = err.value.for_people()
    assert message.startswith(f"cannot use the redaction rules in {f}: ")
    assert reason in message
    assert "\n" not in message
    assert err.value.exit_code == 125


def test_a_missing_rules_file_is_an_error(tmp_path) -> None:
    with pytest.raises(RulesError, match="No such file"):
        load_rules(str(tmp_path / "absent.toml"))


def test_a_bad_redact_table_in_the_system_config_names_it(tmp_path) -> None:
    (tmp_path / "config.toml").write_text("[redact]\npatterns = ['(']\n")
    with pytest.raises(RulesError, match=r"config.toml \[redact\]: patterns\[0\]"):
        configured_rules(None)


def test_rules_from_table_without_settings_is_empty() -> None:
    assert not rules_from_table({}, "x")
    assert Rules() == Rules()


def test_bundle_refuses_a_bad_rules_file_before_doing_anything(tmp_path) -> None:
    f = tmp_path / "rules.toml"
    f.write_text("patterns = ['[unclosed']\n")
    out = tmp_path / "b.tar.gz"
    proc = run_cli(
        "bundle", "--all", "--redact-rules", str(f), "-o", str(out),
        env={"DEBUGTOOL_CONFIG": str(tmp_path / "none.toml")},
    )  # fmt: skip
    assert proc.returncode == 125, proc.stderr
    assert f"cannot use the redaction rules in {f}: patterns[0] '[unclosed'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_bundle_help_mentions_the_rules_file() -> None:
    proc = run_cli("bundle", "--help")
    assert proc.returncode == 0
    assert "--redact-rules FILE" in proc.stdout
