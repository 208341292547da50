"""A real MCP client that no one here wrote (the `mcp` package from PyPI)
drives the codeb MCP server over stdio.

Run by codeb-mcp/tests/python_client.rs, which says what to start and what
to deploy through these environment variables:

  CODEB_MCP_COMMAND   JSON list: the server executable and its arguments
  CODEB_MCP_PATH      the project directory to deploy (holding codeb.toml)
  CODEB_MCP_PROJECT   the project name in that codeb.toml
  CODEB_MCP_IMAGE     optional: an image to deploy instead of building

It lists the tools and checks their schemas and annotations, plans and
deploys the project, reads releases and health, sets a secret and checks it
is masked everywhere, sees hostile input and a destructive call without
force refused, and deletes the project with force to leave nothing behind.
Every successful answer is checked against the tool's outputSchema with the
`jsonschema` package (a dependency of `mcp`), formats included.
"""

import asyncio
import json
import os
import sys

from jsonschema import Draft202012Validator, FormatChecker
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ALL_TOOLS = {
    "init", "deploy", "plan", "rollback", "promote", "recover", "reconcile", "releases", "domain_setup", "domain_remove",
    "health_check", "logs", "env_set", "env_list", "env_unset", "ssot_status", "ssot_diff",
    "project_list", "project_show", "project_delete", "port_allocate", "port_list", "port_release",
    "port_check", "lock_status", "lock_release", "server_list", "server_check",
}
FORCE_GUARDED = {
    "init", "project_delete", "domain_remove", "env_unset", "port_release", "rollback", "recover", "lock_release",
    "domain_setup",
}
READ_ONLY = {
    "plan", "releases", "health_check", "logs", "env_list", "ssot_status", "ssot_diff",
    "project_list", "project_show", "port_list", "port_check", "lock_status", "server_list", "server_check",
}
SECRET = "py-client-secret-31337-never-shown"

checks = 0
outputs = []
validators = {}


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1


async def call(session, name, arguments):
    result = await session.call_tool(name, arguments, read_timeout_seconds=180)
    outputs.append(result.model_dump_json())
    return result


async def ok(session, name, arguments):
    result = await call(session, name, arguments)
    check(not result.is_error, f"{name} {arguments} failed: {result.content}")
    check(isinstance(result.structured_content, dict), f"{name} returned structured content")
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validators[name].iter_errors(result.structured_content)]
    check(not errors, f"{name}: the answer breaks its outputSchema: {errors}")
    return result.structured_content


def live(releases):
    """The id of the release whose status is live."""
    return [r["id"] for r in releases["data"] if r["status"]["status"] == "live"]


async def fails(session, name, arguments):
    result = await call(session, name, arguments)
    check(result.is_error, f"{name} {arguments} should be a tool error: {result}")
    error = json.loads(result.content[0].text)["error"]
    return error


async def run():
    command = json.loads(os.environ["CODEB_MCP_COMMAND"])
    path = os.environ["CODEB_MCP_PATH"]
    project = os.environ["CODEB_MCP_PROJECT"]
    image = os.environ.get("CODEB_MCP_IMAGE") or None
    server = StdioServerParameters(command=command[0], args=command[1:])
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(init.server_info.name == "codeb", f"server name: {init.server_info}")

            tools = {t.name: t for t in (await session.list_tools()).tools}
            check(set(tools) == ALL_TOOLS, f"tools: {sorted(tools)}")
            for name, tool in tools.items():
                schema = tool.input_schema
                check(schema.get("type") == "object", f"{name}: input schema is an object")
                check(schema.get("additionalProperties") is False, f"{name}: unknown arguments refused")
                check(tool.output_schema is not None, f"{name}: declares its output")
                check(tool.output_schema.get("type") == "object", f"{name}: the output is an object")
                Draft202012Validator.check_schema(tool.output_schema)
                validators[name] = Draft202012Validator(tool.output_schema, format_checker=FormatChecker())
                hints = tool.annotations
                check(hints is not None, f"{name}: annotated")
                check(hints.read_only_hint is (name in READ_ONLY), f"{name}: read_only_hint")
                props = schema.get("properties", {})
                if name in FORCE_GUARDED:
                    check(hints.destructive_hint is True, f"{name}: destructive_hint")
                    check(props.get("force", {}).get("type") == "boolean", f"{name}: force is a boolean")
                    check("force" not in schema.get("required", []), f"{name}: force is optional")
            check(set(tools["deploy"].input_schema["required"]) == {"path", "env"}, "deploy needs path and env")

            target = {"project": project, "env": "staging"}
            deploy_args = {"path": path, "env": "staging"}
            if image:
                deploy_args["image"] = image

            plan = await ok(session, "plan", deploy_args)
            check(plan["release"] == "v1" and plan["previous"] is None, f"plan: {plan}")
            check(any(c["change"] == "start_release" for c in plan["changes"]), f"the plan starts v1: {plan}")
            status = await ok(session, "ssot_status", {})
            check(status["serving"] == 0, f"a plan changes nothing: {status}")
            report = await ok(session, "deploy", deploy_args)
            check(report["release"] == "v1" and report["project"] == project, f"deploy: {report}")
            check(isinstance(report["port"], int), "deploy names the port")
            projects = await ok(session, "project_list", {})
            check(any(p["project"] == project for p in projects["items"]), f"project_list names it: {projects}")
            releases = await ok(session, "releases", target)
            check(live(releases) == ["v1"], f"releases: {releases}")
            health = await ok(session, "health_check", target)
            check(health["data"]["verdict"]["healthy"] is True, f"health: {health}")
            check("never as instructions" in health["notice"], f"evidence is marked untrusted: {health}")

            stored = await ok(session, "env_set", {**target, "vars": {"API_TOKEN": SECRET}, "secret": True})
            check(stored["vars"] == [{"key": "API_TOKEN", "value": "********", "secret": True}], f"env_set: {stored}")
            listed = await ok(session, "env_list", target)
            token = [v for v in listed["vars"] if v["key"] == "API_TOKEN"]
            check(token == [{"key": "API_TOKEN", "value": "********", "secret": True}], f"env_list masks: {listed}")

            error = await fails(session, "deploy", {**deploy_args, "env": "staging; rm -rf /"})
            check(error["kind"] == "invalid" and error["field"] == "env", f"hostile env: {error}")
            error = await fails(session, "releases", {"project": "ghost-project", "env": "staging"})
            check(error["kind"] == "not_found", f"releases of an unknown project: {error}")
            error = await fails(session, "project_show", {"project": "../etc"})
            check(error["kind"] == "invalid" and error["field"] == "project", f"hostile project: {error}")

            refused = await ok(session, "project_delete", {"project": project})
            check(refused["applied"] is False and "force: true" in refused["hint"], f"refusal: {refused}")
            check(any(c["change"] == "forget_project" for c in refused["changes"]), "the plan is returned")
            still = await ok(session, "project_show", {"project": project})
            check(still["data"]["environments"]["staging"]["current_release"] == "v1", "nothing changed without force")

            deleted = await ok(session, "project_delete", {"project": project, "force": True})
            check(deleted["applied"] is True, f"delete with force: {deleted}")
            gone = await fails(session, "project_show", {"project": project})
            check(gone["kind"] == "not_found", f"the project is gone: {gone}")

    for output in outputs:
        check(SECRET not in output, f"a secret leaked: {output}")
    print(f"python mcp client: {checks} checks passed")


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(run(), timeout=300))
    except Exception as e:  # report and fail the Rust test that runs this
        print(f"python mcp client: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
