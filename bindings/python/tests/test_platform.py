"""The blocking API against Platform.memory(): each SDK operation, one behaviour per test."""

from __future__ import annotations

import collections
import datetime
import pathlib
import types

import pytest

import codeb
from codeb import errors
from conftest import write_project


def kinds(changes: list[codeb.Change]) -> list[str]:
    return [c.kind for c in changes]


def test_a_dry_run_returns_the_plan_and_changes_nothing(platform: codeb.Platform, project: pathlib.Path) -> None:
    plan = platform.deploy(project, "staging", dry_run=True)

    assert isinstance(plan, codeb.Plan)
    assert (plan.project, plan.env, plan.release, plan.image) == ("shop", "staging", "v1", "localhost/shop:v1")
    assert plan.previous is None
    assert plan.domains == ["shop.codeb.test"]
    assert ["allocate_port", "ensure_image", "start_release", "health_check", "create_route"] == [
        k
        for k in kinds(plan.changes)
        if k in {"allocate_port", "ensure_image", "start_release", "health_check", "create_route"}
    ]
    assert str(plan) == "deploy localhost/shop:v1 to shop/staging as v1 on local"
    with pytest.raises(errors.NotFoundError):
        platform.releases("shop", "staging")  # a dry run records nothing
    assert platform.ssot_status().revision == 0


def test_deploy_records_a_live_release_and_the_next_one_replaces_it(
    platform: codeb.Platform, project: pathlib.Path
) -> None:
    first = platform.deploy(project, "staging")
    second = platform.deploy(str(project), "staging", image="localhost/shop:v2")

    assert isinstance(first, codeb.DeployReport)
    assert (first.release, first.previous, first.domains) == ("v1", None, ["shop.codeb.test"])
    assert 3000 <= first.port <= 3499
    assert (second.release, second.previous, second.image) == ("v2", "v1", "localhost/shop:v2")
    releases = platform.releases("shop", "staging")
    assert [(r.id, r.status, r.image) for r in releases] == [
        ("v1", "retired", "localhost/shop:v1"),
        ("v2", "live", "localhost/shop:v2"),
    ]
    assert releases[0].created_at.tzinfo is not None
    assert isinstance(releases[0].created_at, datetime.datetime)
    by = releases[0].deployed_by
    assert isinstance(by, codeb.Deployer)
    assert (by.user, by.host, by.front_end) == ("memory", "localhost", "memory")
    assert str(by) == "memory@localhost via memory"
    assert releases[0].rolled_back_by is None


def test_apply_carries_out_a_plan_and_refuses_one_the_ssot_has_moved_past(
    platform: codeb.Platform, project: pathlib.Path
) -> None:
    plan = platform.deploy(project, "staging", dry_run=True)

    report = platform.apply(plan)

    assert report.release == plan.release == "v1"
    with pytest.raises(errors.ConflictError) as raised:
        platform.apply(plan)
    assert raised.value.context["step"] == "plan"


def test_rollback_plans_and_returns_to_the_previous_release(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")
    platform.deploy(project, "staging", image="localhost/shop:v2")

    plan = platform.rollback("shop", "staging", dry_run=True)
    assert isinstance(plan, codeb.RollbackPlan)
    assert (plan.from_release, plan.to_release, plan.image) == ("v2", "v1", "localhost/shop:v1")
    assert "start_release" in kinds(plan.changes)
    assert [r.status for r in platform.releases("shop", "staging")] == ["retired", "live"]

    report = platform.rollback("shop", "staging")
    assert (report.release, report.previous) == ("v1", "v2")
    assert {r.id: r.status for r in platform.releases("shop", "staging")} == {"v1": "live", "v2": "retired"}


def test_rollback_to_a_release_that_does_not_exist_is_not_found(
    platform: codeb.Platform, project: pathlib.Path
) -> None:
    platform.deploy(project, "staging")
    platform.deploy(project, "staging", image="localhost/shop:v2")

    with pytest.raises(errors.NotFoundError):
        platform.rollback("shop", "staging", to="v9")


def test_promote_runs_the_digest_staging_serves_in_production(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")
    with pytest.raises(errors.ConflictError, match="never pushed to a registry"):
        platform.promote("shop", "staging", "production")
    pinned = "localhost/shop@sha256:" + "a" * 64
    platform.deploy(project, "staging", image=pinned)

    report = platform.promote("shop", "staging", "production")
    assert (report.env, report.image) == ("production", pinned)


def test_env_vars_are_set_listed_and_unset_only_with_force(platform: codeb.Platform) -> None:
    first = platform.env_set("shop", "staging", {"PLAIN": "visible", "LEVEL": "3"})
    second = platform.env_set("shop", "staging", {"TOKEN": "s3cr3t"}, secret=True)
    assert second == first + 1

    listed = platform.env_list("shop", "staging")
    assert listed.version == second
    assert len(listed) == 3
    assert [(v.key, v.value, v.secret) for v in listed.vars] == [
        ("LEVEL", "3", False),
        ("PLAIN", "visible", False),
        ("TOKEN", "********", True),
    ]

    dry = platform.env_unset("shop", "staging", ["PLAIN"])
    assert dry.applied is False
    assert kinds(dry.changes) == ["unset_env"]
    assert dry.changes[0].details["keys"] == ["PLAIN"]
    assert str(dry) == "would, given force:\n  - remove env vars PLAIN of shop/staging"
    assert "PLAIN" in [v.key for v in platform.env_list("shop", "staging").vars]

    done = platform.env_unset("shop", "staging", ["PLAIN"], force=True)
    assert done.applied is True
    assert [v.key for v in platform.env_list("shop", "staging").vars] == ["LEVEL", "TOKEN"]


def test_unsetting_a_variable_that_is_not_set_is_not_found(platform: codeb.Platform) -> None:
    with pytest.raises(errors.NotFoundError):
        platform.env_unset("shop", "staging", ["MISSING"], force=True)


def test_ports_are_allocated_once_listed_and_released_only_with_force(platform: codeb.Platform) -> None:
    port = platform.port_allocate("shop", "staging", "postgres")
    assert port == 15432
    assert platform.port_allocate("shop", "staging", "postgres") == port
    assert platform.port_allocate("shop", "production") == 4000

    listed = platform.port_list(project="shop", env="staging")
    assert [(a.key.service, a.port, a.server) for a in listed] == [("postgres", 15432, "local")]
    assert str(listed[0].key) == "shop/staging/postgres"
    assert len(platform.port_list()) == 2

    dry = platform.port_release("shop", "staging", "postgres")
    assert dry.applied is False
    assert dry.changes[0].details["port"] == 15432
    assert len(platform.port_list(project="shop", env="staging")) == 1

    assert platform.port_release("shop", "staging", "postgres", force=True).applied is True
    assert platform.port_list(project="shop", env="staging") == []


def test_port_check_reports_whether_record_and_reality_agree(platform: codeb.Platform) -> None:
    report = platform.port_check()

    assert isinstance(report, codeb.PortReport)
    assert report.is_clean is True
    assert report.conflicts == [] and report.drift == []


def test_domains_are_set_up_listed_and_removed_only_with_force(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")

    dry = platform.domain_setup("shop", "staging", "www.codeb.test", dry_run=True)
    assert (dry.domain, dry.applied) == ("www.codeb.test", False)
    assert kinds(dry.changes) == ["add_domain", "create_route", "upsert_record"]
    assert platform.domain_list("shop", "staging") == ["shop.codeb.test"]

    done = platform.domain_setup("shop", "staging", "WWW.codeb.test")
    assert (done.domain, done.applied) == ("www.codeb.test", True)
    assert str(done).startswith("routed www.codeb.test\n  + ")
    assert platform.domain_list("shop", "staging") == ["shop.codeb.test", "www.codeb.test"]

    kept = platform.domain_remove("shop", "staging", "www.codeb.test")
    assert kept.applied is False
    assert "www.codeb.test" in platform.domain_list("shop", "staging")

    removed = platform.domain_remove("shop", "staging", "www.codeb.test", force=True)
    assert removed.applied is True
    assert kinds(removed.changes) == ["remove_route", "delete_record", "forget_domain"]
    assert platform.domain_list("shop", "staging") == ["shop.codeb.test"]


def test_another_projects_domain_is_refused_naming_its_owner_and_moved_only_with_force(
    platform: codeb.Platform, project: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    platform.deploy(project, "staging")
    taker = write_project(tmp_path / "blog", name="blog", domains=("SHOP.codeb.test.",))

    with pytest.raises(errors.ConflictError) as refused:
        platform.deploy(taker, "staging")
    assert refused.value.context["owner"] == "shop/staging"
    platform.deploy(write_project(tmp_path / "blog", name="blog", domains=()), "staging")
    with pytest.raises(errors.ConflictError):
        platform.domain_setup("blog", "staging", "Shop.codeb.test")

    moved = platform.domain_setup("blog", "staging", "shop.codeb.test", force=True)
    assert moved.taken_from == {"project": "shop", "env": "staging"}
    assert platform.domain_list("shop", "staging") == []
    assert platform.domain_list("blog", "staging") == ["shop.codeb.test"]


def test_reconcile_recovers_every_environment_and_says_what_it_did(
    platform: codeb.Platform, project: pathlib.Path
) -> None:
    platform.deploy(project, "staging")

    report = platform.reconcile()

    assert isinstance(report, codeb.ReconcileReport)
    [shop] = report.environments
    assert (shop.project, shop.env, shop.error) == ("shop", "staging", None)
    assert isinstance(shop.report, codeb.RecoverReport)
    assert str(report).startswith("reconciled 1 environments\nshop/staging: recovered")


def test_deleting_a_project_needs_force(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")

    dry = platform.project_delete("shop")
    assert dry.applied is False
    assert kinds(dry.changes)[-1] == "forget_project"
    assert "remove_container" in kinds(dry.changes)
    assert platform.ssot_project("shop").name == "shop"

    done = platform.project_delete("shop", force=True)
    assert done.applied is True
    assert platform.project_list() == []
    with pytest.raises(errors.NotFoundError):
        platform.ssot_project("shop")


def test_health_check_probes_the_serving_release(platform: codeb.Platform, project: pathlib.Path) -> None:
    report = platform.deploy(project, "staging")

    health = platform.health_check("shop", "staging")

    assert (health.release, health.port, health.healthy) == ("v1", report.port, True)
    assert "200" in health.evidence


def test_env_calls_take_any_mapping_and_sequence(platform: codeb.Platform) -> None:
    platform.env_set("shop", "staging", types.MappingProxyType({"A": "1", "B": "2"}))
    environ_like = collections.ChainMap({"C": "3"})
    platform.env_set("shop", "staging", environ_like)
    assert [v.key for v in platform.env_list("shop", "staging").vars] == ["A", "B", "C"]
    assert platform.env_unset("shop", "staging", ("A", "B"), force=True).applied is True
    assert [v.key for v in platform.env_list("shop", "staging").vars] == ["C"]
    with pytest.raises(errors.InvalidError):
        platform.env_set("shop", "staging", [("A", "1")])  # type: ignore[arg-type]


def test_ssot_views_describe_projects_environments_and_releases(
    platform: codeb.Platform, project: pathlib.Path
) -> None:
    report = platform.deploy(project, "staging")

    status = platform.ssot_status()
    assert (status.projects, status.environments, status.serving, status.failed_releases, status.locked) == (
        1,
        1,
        1,
        0,
        0,
    )
    assert status.revision > 0

    record = platform.ssot_project("shop")
    staging = record.environments["staging"]
    assert staging.current_release == "v1"
    assert staging.ports == {"app": report.port}
    assert staging.domains == ["shop.codeb.test"]
    assert staging.lock is None
    assert [r.id for r in staging.releases] == ["v1"]
    assert staging.accessories == {}
    assert record.to_dict()["environments"]["staging"]["current_release"] == "v1"

    summaries = platform.project_list()
    assert [(s.project, s.environments) for s in summaries] == [("shop", {"staging": "v1"})]


def test_logs_of_the_serving_release_are_lines(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")

    assert isinstance(platform.logs("shop", "staging", tail=10), list)


def test_lock_status_is_none_while_nobody_deploys(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")

    assert platform.lock_status("shop", "staging") is None
    assert platform.lock_release("shop", "staging") is None


def test_recover_after_a_clean_deploy_finds_nothing_to_do(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")

    report = platform.recover("shop", "staging")

    assert (report.released_lock, report.cleaned, report.restarted_current) == (None, [], False)


def test_results_str_is_the_sdks_own_sentence(platform: codeb.Platform, project: pathlib.Path) -> None:
    report = platform.deploy(project, "staging")

    assert str(report) == (
        f"shop/staging serves v1 (localhost/shop:v1) on port {report.port} in {report.elapsed_ms} ms\n"
        "  http://shop.codeb.test/"
    )
    assert str(platform.recover("shop", "staging")) == "recovered"
    assert str(platform.health_check("shop", "staging")).startswith("v1 healthy: ")
    assert str(platform.port_check()) == "ports: record and reality agree"
    assert str(platform.ssot_status()).splitlines()[1] == "1 projects, 1 environments, 1 serving"
    plan = platform.deploy(project, "staging", dry_run=True)
    assert "record v2 as the serving release in the SSOT" in [str(c) for c in plan.changes]


def test_results_are_frozen(platform: codeb.Platform, project: pathlib.Path) -> None:
    report = platform.deploy(project, "staging")

    with pytest.raises(AttributeError):
        report.release = "v9"  # type: ignore[misc]
    with pytest.raises(TypeError):
        codeb.DeployReport()


def test_results_print_their_fields_and_convert_to_the_sdk_json_shape(
    platform: codeb.Platform, project: pathlib.Path
) -> None:
    report = platform.deploy(project, "staging")

    assert repr(report) == (
        f"DeployReport(project='shop', env='staging', server='local', release='v1', image='localhost/shop:v1', "
        f"port={report.port}, domains=['shop.codeb.test'], elapsed_ms={report.elapsed_ms}, previous=None)"
    )
    assert report.to_dict() == {
        "project": "shop",
        "env": "staging",
        "server": "local",
        "release": "v1",
        "image": "localhost/shop:v1",
        "port": report.port,
        "previous": None,
        "domains": ["shop.codeb.test"],
        "elapsed_ms": report.elapsed_ms,
    }
    change = platform.project_delete("shop").changes[-1]
    assert repr(change) == "Change(forget_project, project='shop', server='local')"
    assert change.to_dict() == {"change": "forget_project", "project": "shop", "server": "local"}
    assert repr(platform) == "Platform(memory)"


def test_reprs_quote_values_as_python_does_and_write_times_as_the_sdk_does(
    platform: codeb.Platform, project: pathlib.Path
) -> None:
    platform.deploy(project, "staging")
    platform.env_set("shop", "staging", {"QUOTED": "it's \x1b[31m"})

    [var] = [v for v in platform.env_list("shop", "staging").vars if v.key == "QUOTED"]
    assert repr(var) == "EnvVar(key='QUOTED', value=" + repr("it's \x1b[31m") + ", secret=False)"
    [release] = platform.releases("shop", "staging")
    assert isinstance(release.created_at, datetime.datetime)
    assert f"created_at={release.to_dict()['created_at']!r}" in repr(release)


def test_every_field_of_a_result_is_an_attribute(platform: codeb.Platform, project: pathlib.Path) -> None:
    report = platform.deploy(project, "staging")
    status = platform.ssot_status()

    assert report.server == "local"
    for result in (report, status):
        assert {k: getattr(result, k) for k in result.to_dict()} == result.to_dict()


def test_nested_sdk_values_are_result_objects(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")

    staging = platform.ssot_project("shop").environments["staging"]
    assert isinstance(staging, codeb.EnvironmentRecord) and staging.server == "local"
    assert all(isinstance(r, codeb.Release) for r in staging.releases)
    [allocate] = [c for c in platform.deploy(project, "staging", dry_run=True).changes if c.kind == "allocate_port"]
    assert isinstance(allocate.details["key"], codeb.PortKey)
    assert str(allocate.details["key"]) == "shop/staging/app@v2"
    assert allocate.to_dict()["key"] == {"project": "shop", "env": "staging", "service": "app", "release": "v2"}


def test_results_compare_and_hash_by_value(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")
    platform.deploy(project, "staging", image="localhost/shop:v2")

    first, second = platform.releases("shop", "staging"), platform.releases("shop", "staging")
    assert first == second and first is not second
    assert len({*first, *second}) == 2
    assert first[0] != first[1]
    assert platform.ssot_project("shop") == platform.ssot_project("shop")
    assert platform.port_list() == platform.port_list()
    assert first[0] != first[0].to_dict(), "a result equals results, not its dict"


def test_a_platform_is_a_context_manager_and_refuses_calls_once_closed(project: pathlib.Path) -> None:
    with codeb.Platform.memory() as platform:
        assert platform.deploy(project, "staging").release == "v1"
        assert "closed" not in repr(platform)
    assert "closed" in repr(platform)
    with pytest.raises(errors.InvalidError, match="closed"):
        platform.releases("shop", "staging")
    platform.close()  # again: nothing happens
    with pytest.raises(KeyError), codeb.Platform.memory():
        raise KeyError("the with block's error goes on")


def test_the_servers_are_listed_and_checked_as_results(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")
    (server,) = platform.server_list()
    assert isinstance(server, codeb.ServerSummary)
    assert (server.server, server.reach, server.environments) == ("local", "memory", ["shop/staging"])
    assert "app" in server.roles
    (report,) = platform.server_check()
    assert isinstance(report, codeb.ServerCheck) and report.ok is True
    assert all(isinstance(check, codeb.CheckResult) and check.ok for check in report.checks)
    assert [check.check for check in report.checks][:2] == ["login", "engine"]
    assert platform.server_check("local") == [report]
    with pytest.raises(errors.NotFoundError):
        platform.server_check("nowhere")


def test_init_writes_codeb_toml_from_package_json_and_never_over_one_unforced(
    platform: codeb.Platform, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "package.json").write_text(
        '{"name": "@acme/shop", "scripts": {"start": "next start -p 4000"}, "dependencies": {"next": "15", "ioredis": "5"}}'
    )
    (tmp_path / "pnpm-lock.yaml").write_text("")
    report = platform.init(tmp_path)
    assert isinstance(report, codeb.InitReport)
    assert (report.name, report.written, report.replaced) == ("shop", True, False)
    assert report.analysis["framework"] == "nextjs" and report.analysis["package_manager"] == "pnpm"
    assert report.analysis["port"] == 4000 and report.analysis["needs_redis"] is True
    assert (tmp_path / "codeb.toml").read_text() == report.project_file
    assert "pnpm install --frozen-lockfile" in (report.containerfile or "")
    assert str(report).startswith("wrote ")
    with pytest.raises(errors.ConflictError):
        platform.init(tmp_path)
    assert platform.init(tmp_path, force=True, dry_run=True).written is False
