"""Secret values never show: not in a repr, a str, a dict, an event, a report or an error."""

from __future__ import annotations

import pathlib

import pytest

import codeb
from codeb import errors

SECRET = "py-secret-7f3a-do-not-print"


def test_a_listed_secret_is_masked_in_every_form(platform: codeb.Platform) -> None:
    platform.env_set("shop", "staging", {"TOKEN": SECRET}, secret=True)
    platform.env_set("shop", "staging", {"PLAIN": "shown"})

    listed = platform.env_list("shop", "staging")
    token = next(v for v in listed.vars if v.key == "TOKEN")

    assert (token.value, token.secret) == ("********", True)
    for text in (repr(token), str(token), repr(listed), repr(token.to_dict()), repr(listed.to_dict())):
        assert SECRET not in text
    assert repr(token) == "EnvVar(key='TOKEN', value='********', secret=True)"
    assert str(token) == "TOKEN=********"


def test_a_plain_value_is_shown_so_the_mask_is_about_secrets_only(platform: codeb.Platform) -> None:
    platform.env_set("shop", "staging", {"PLAIN": "shown"})

    [plain] = platform.env_list("shop", "staging").vars

    assert repr(plain) == "EnvVar(key='PLAIN', value='shown', secret=False)"


def test_an_env_var_offers_no_way_to_read_a_secret() -> None:
    public = {name for name in dir(codeb.EnvVar) if not name.startswith("_")}
    assert public == {"key", "value", "secret", "to_dict"}
    methods = [name for name in dir(codeb.Platform) if not name.startswith("_")]
    assert not [m for m in methods if "get" in m or "reveal" in m or "expose" in m or "secret" in m]


def test_a_deploy_with_a_secret_shows_it_nowhere(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.env_set("shop", "staging", {"TOKEN": SECRET}, secret=True)
    events: list[codeb.DeployEvent] = []

    report = platform.deploy(project, "staging", progress=events.append)
    record = platform.ssot_project("shop")
    removal = platform.project_delete("shop")

    texts = [repr(report), repr(report.to_dict()), repr(record.to_dict()), repr(removal), repr(removal.to_dict())]
    texts += [repr(e) for e in events] + [repr(e.to_dict()) for e in events]
    texts += [repr(r.to_dict()) for r in platform.releases("shop", "staging")]
    assert not [t for t in texts if SECRET in t]
    unset = next(c for c in removal.changes if c.kind == "unset_env")
    assert unset.details["keys"] == ["GREETING", "TOKEN"]


@pytest.mark.parametrize(
    ("variables", "secret_part"),
    [
        ({"BAD KEY": SECRET}, SECRET),
        ({"TOKEN": SECRET + "\0"}, SECRET),
    ],
)
def test_a_refused_secret_is_not_echoed_by_the_error(
    platform: codeb.Platform, variables: dict[str, str], secret_part: str
) -> None:
    with pytest.raises(errors.InvalidError) as raised:
        platform.env_set("shop", "staging", variables, secret=True)

    e = raised.value
    assert secret_part not in str(e)
    assert secret_part not in repr(e)
    assert secret_part not in e.message
    assert secret_part not in repr(e.context)
