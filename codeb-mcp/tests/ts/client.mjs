// A real MCP client that no one here wrote, the official TypeScript SDK
// (@modelcontextprotocol/sdk from npm, the one Claude Code is built on),
// drives the codeb MCP server over stdio or streamable HTTP.
//
// Run by codeb-mcp/tests/ts_client.rs with these environment variables:
//
//   CODEB_TEST_TS_CLIENT  the directory holding node_modules (scripts/test-ts-client installs it
//                         there with `npm ci` from this directory's package-lock.json)
//   CODEB_MCP_COMMAND     stdio: JSON list, the server executable and its arguments
//   CODEB_MCP_URL         HTTP: the server's /mcp endpoint (instead of CODEB_MCP_COMMAND)
//   CODEB_MCP_TOKEN       HTTP: the bearer token
//   CODEB_MCP_PATH        the project directory to deploy (holding codeb.toml)
//   CODEB_MCP_PROJECT     the project name in that codeb.toml
//   CODEB_MCP_SCENARIO    `platform` (default): the whole life of a project;
//                         `no-platform`: the server was started without a platform file
//
// Every schema the server lists is compiled as JSON Schema 2020-12 by Ajv in
// strict mode (what the MCP Inspector warns about fails here), every success
// answer passes the SDK's own outputSchema check and Ajv's, and every tool
// error must reach the caller as a readable result, not a protocol error.

import { createRequire } from "node:module";
import path from "node:path";

const modules = process.env.CODEB_TEST_TS_CLIENT;
if (!modules) {
  console.error("ts mcp client: FAILED: CODEB_TEST_TS_CLIENT is not set");
  process.exit(1);
}
const require = createRequire(path.join(modules, "package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

const ALL_TOOLS = [
  "init", "deploy", "plan", "rollback", "promote", "recover", "reconcile", "releases", "logs", "health_check",
  "domain_setup", "domain_remove", "env_set", "env_list", "env_unset",
  "ssot_status", "ssot_diff", "project_list", "project_show", "project_delete",
  "port_allocate", "port_list", "port_release", "port_check", "lock_status", "lock_release",
  "server_list", "server_check",
].sort();
const READ_ONLY = new Set([
  "plan", "releases", "logs", "health_check", "env_list", "ssot_status", "ssot_diff",
  "project_list", "project_show", "port_list", "port_check", "lock_status", "server_list", "server_check",
]);
const FORCE_GUARDED = new Set([
  "init", "rollback", "recover", "domain_remove", "env_unset", "project_delete", "port_release", "lock_release",
  "domain_setup",
]);
// The formats JSON Schema 2020-12 defines; anything else makes generic clients warn.
const STANDARD_FORMATS = new Set([
  "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
  "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
  "json-pointer", "relative-json-pointer", "regex",
]);
const SECRET = "ts-client-secret-27182-never-shown";

let checks = 0;
const outputs = [];
const warnings = [];
const ajv = new Ajv2020({
  strict: true,
  allowUnionTypes: true,
  allErrors: true,
  logger: { log: () => {}, warn: (...m) => warnings.push(m.join(" ")), error: (...m) => warnings.push(m.join(" ")) },
});
addFormats(ajv);
const validators = new Map();
const wire = [];
const clientErrors = [];

function check(condition, what) {
  if (!condition) throw new Error(what);
  checks += 1;
}

/** Every subschema of `schema`, with its JSON pointer. */
function* walk(schema, at = "") {
  if (Array.isArray(schema)) {
    for (const [i, s] of schema.entries()) yield* walk(s, `${at}/${i}`);
  } else if (schema && typeof schema === "object") {
    yield [schema, at];
    for (const [k, v] of Object.entries(schema)) {
      if (k !== "const" && k !== "enum" && k !== "default" && k !== "examples") yield* walk(v, `${at}/${k}`);
    }
  }
}

function types(schema) {
  return Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
}

/** What a generic client needs of a schema: standard formats, bounded integers, no nullable inputs. */
function checkSchema(name, kind, schema) {
  warnings.length = 0;
  let compiled;
  try {
    compiled = ajv.compile(schema);
  } catch (e) {
    throw new Error(`${name}: its ${kind} is not strict JSON Schema 2020-12: ${e.message}`);
  }
  check(warnings.length === 0, `${name}: Ajv warns about its ${kind}: ${warnings.join("; ")}`);
  for (const [node, at] of walk(schema)) {
    if (typeof node.format === "string") {
      check(STANDARD_FORMATS.has(node.format), `${name} ${kind}${at}: format ${node.format} is not JSON Schema's`);
    }
    if (kind === "inputSchema" && types(node).includes("integer")) {
      check(Number.isInteger(node.minimum) && Number.isInteger(node.maximum), `${name}${at}: an integer argument without bounds`);
    }
    if (kind === "inputSchema") {
      check(!types(node).includes("null"), `${name}${at}: an argument typed null (send nothing instead)`);
    }
  }
  return compiled;
}

async function connect() {
  const client = new Client({ name: "codeb-ts-test", version: "0" });
  let transport;
  if (process.env.CODEB_MCP_URL) {
    transport = new StreamableHTTPClientTransport(new URL(process.env.CODEB_MCP_URL), {
      requestInit: { headers: { Authorization: `Bearer ${process.env.CODEB_MCP_TOKEN}` } },
    });
  } else {
    const [command, ...args] = JSON.parse(process.env.CODEB_MCP_COMMAND);
    transport = new StdioClientTransport({ command, args, stderr: "inherit" });
  }
  await client.connect(transport);
  // Every message as it arrives, before the SDK dispatches it, to see what the server sent and in what order.
  const dispatch = transport.onmessage;
  transport.onmessage = (message, extra) => {
    wire.push(message);
    dispatch(message, extra);
  };
  // The SDK reports a progress notification it handles after the answer as an error (typescript-sdk#2580).
  client.onerror = (e) => clientErrors.push(String(e?.message ?? e));
  return client;
}

async function call(client, name, args, options = {}) {
  const result = await client.callTool({ name, arguments: args }, undefined, { timeout: 180_000, ...options });
  outputs.push(JSON.stringify(result));
  return result;
}

/** A call that must succeed: the SDK has checked the answer against the outputSchema; Ajv 2020 checks it too. */
async function ok(client, name, args, options) {
  const result = await call(client, name, args, options);
  check(!result.isError, `${name} ${JSON.stringify(args)} failed: ${JSON.stringify(result.content)}`);
  const value = result.structuredContent;
  check(value && typeof value === "object", `${name} returned structured content`);
  check(JSON.stringify(JSON.parse(result.content[0].text)) === JSON.stringify(value), `${name}: the text mirrors the structure`);
  const validate = validators.get(name);
  check(validate(value), `${name}: the answer breaks its outputSchema: ${ajv.errorsText(validate.errors)}`);
  return value;
}

/** A call that must be a tool error the model can read: isError, the error JSON as text, no structuredContent. */
async function fails(client, name, args) {
  let result;
  try {
    result = await call(client, name, args);
  } catch (e) {
    throw new Error(`${name} ${JSON.stringify(args)}: the client could not read the tool error: ${e.message}`);
  }
  check(result.isError === true, `${name} ${JSON.stringify(args)} should be a tool error: ${JSON.stringify(result)}`);
  check(result.structuredContent === undefined, `${name}: a tool error carries no structuredContent (it is not the tool's result)`);
  check(result.content.length >= 1 && result.content[0].type === "text", `${name}: the error is text`);
  let body;
  try {
    body = JSON.parse(result.content[0].text);
  } catch {
    return { kind: undefined, message: result.content[0].text };
  }
  check(body.error && typeof body.error.kind === "string" && typeof body.error.message === "string", `${name}: kind and message: ${result.content[0].text}`);
  return body.error;
}

async function listTools(client) {
  const { tools } = await client.listTools();
  outputs.push(JSON.stringify(tools));
  const names = tools.map((t) => t.name).sort();
  check(JSON.stringify(names) === JSON.stringify(ALL_TOOLS), `tools: ${names}`);
  for (const tool of tools) {
    check(tool.inputSchema.type === "object" && tool.inputSchema.additionalProperties === false, `${tool.name}: an object refusing unknown arguments`);
    check(tool.outputSchema && tool.outputSchema.type === "object", `${tool.name}: declares an object output`);
    checkSchema(tool.name, "inputSchema", tool.inputSchema);
    validators.set(tool.name, checkSchema(tool.name, "outputSchema", tool.outputSchema));
    const hints = tool.annotations ?? {};
    check(hints.readOnlyHint === READ_ONLY.has(tool.name), `${tool.name}: readOnlyHint`);
    const props = tool.inputSchema.properties ?? {};
    if (FORCE_GUARDED.has(tool.name)) {
      check(props.force?.type === "boolean", `${tool.name}: takes force`);
      check(!(tool.inputSchema.required ?? []).includes("force"), `${tool.name}: force is optional`);
    } else {
      check(props.force === undefined, `${tool.name}: needs no force`);
    }
  }
  return tools;
}

async function platform(client) {
  const tools = await listTools(client);
  const logs = tools.find((t) => t.name === "logs");
  check(logs.inputSchema.properties.tail.type === "integer", "tail is an integer");
  check(logs.inputSchema.properties.tail.minimum === 1 && logs.inputSchema.properties.tail.maximum === 1000, "tail is 1-1000, as described");

  const projectDir = process.env.CODEB_MCP_PATH;
  const project = process.env.CODEB_MCP_PROJECT;
  const target = { project, env: "staging" };
  const deployArgs = { path: projectDir, env: "staging" };

  const plan = await ok(client, "plan", deployArgs);
  check(plan.release === "v1" && plan.previous === null, `plan: ${JSON.stringify(plan)}`);

  // A deploy with a progress token (the SDK sends one when onprogress is given): notifications from the
  // engine's steps, each progress higher, all before the answer.
  const progress = [];
  wire.length = 0;
  clientErrors.length = 0;
  const report = await ok(client, "deploy", deployArgs, {
    onprogress: (p) => progress.push(p),
    resetTimeoutOnProgress: true,
  });
  check(report.release === "v1" && report.project === project, `deploy: ${JSON.stringify(report)}`);
  const answer = wire.findIndex((m) => m.id !== undefined && m.result?.structuredContent?.release === "v1");
  const sent = wire.filter((m) => m.method === "notifications/progress");
  check(answer >= 0 && sent.length >= 5, `a deploy sends progress: ${sent.length} notifications`);
  check(wire.slice(answer + 1).every((m) => m.method !== "notifications/progress"), "every notification precedes the answer");
  check(new Set(sent.map((m) => m.params.progressToken)).size === 1, "one token, the request's");
  check(sent.every((m, i) => i === 0 || m.params.progress > sent[i - 1].params.progress), "progress increases");
  const messages = sent.map((m) => m.params.message ?? "").join("\n");
  check(messages.includes("started health_check") && messages.includes("finished record"), `progress names the steps: ${messages}`);
  // The SDK hands each notification to onprogress, except those it dispatches after the answer it arrived
  // with (a fast deploy's last ones, or all of them on the memory platform), which it reports through onerror.
  const late = clientErrors.filter((e) => e.includes("progress notification for an unknown token")).length;
  check(progress.length + late === sent.length, `onprogress got ${progress.length}, ${late} late, of ${sent.length}`);
  check(progress.every((p, i) => i === 0 || p.progress > progress[i - 1].progress), "onprogress sees progress increase");

  const listed = await ok(client, "project_list", {});
  check(listed.items.some((p) => p.project === project), `project_list names the project: ${JSON.stringify(listed)}`);
  const releases = await ok(client, "releases", target);
  check(releases.data.map((r) => r.status.status).join() === "live", `releases: ${JSON.stringify(releases)}`);
  const health = await ok(client, "health_check", target);
  check(health.data.verdict.healthy === true, `health: ${JSON.stringify(health)}`);
  const tail = await ok(client, "logs", { ...target, tail: 5 });
  check(tail.tail === 5, `logs takes an integer tail: ${JSON.stringify(tail)}`);
  const drift = await ok(client, "ssot_diff", {});
  check(Array.isArray(drift.items), `ssot_diff: ${JSON.stringify(drift)}`);
  check(typeof (await ok(client, "ssot_status", {})).revision === "number", "ssot_status");
  const lock = await ok(client, "lock_status", target);
  check(lock.lock === null, `no lock after the deploy: ${JSON.stringify(lock)}`);
  const released = await ok(client, "lock_release", target);
  check(released.released === null, `lock_release with nothing held: ${JSON.stringify(released)}`);
  const recovered = await ok(client, "recover", target, { onprogress: () => {}, resetTimeoutOnProgress: true });
  check(Array.isArray(recovered.cleaned), `recover: ${JSON.stringify(recovered)}`);

  const stored = await ok(client, "env_set", { ...target, vars: { API_TOKEN: SECRET }, secret: true });
  const masked = (v) => v.key === "API_TOKEN" && v.value === "********" && v.secret === true;
  check(stored.vars.length === 1 && masked(stored.vars[0]), `env_set masks: ${JSON.stringify(stored)}`);
  const env = await ok(client, "env_list", target);
  check(env.vars.some(masked), `env_list masks: ${JSON.stringify(env)}`);

  // Error paths: each a result the model reads, never a protocol error.
  let error = await fails(client, "releases", { project: "ghost-project", env: "staging" });
  check(error.kind === "not_found", `releases of an unknown project: ${JSON.stringify(error)}`);
  error = await fails(client, "project_show", { project: "../etc" });
  check(error.kind === "invalid" && error.field === "project" && error.rule, `hostile project: ${JSON.stringify(error)}`);
  error = await fails(client, "deploy", { ...deployArgs, env: "staging; rm -rf /" });
  check(error.kind === "invalid" && error.field === "env", `hostile env: ${JSON.stringify(error)}`);
  error = await fails(client, "logs", { ...target, tail: 0 });
  check(error.kind === "invalid" && error.field === "tail", `tail 0: ${JSON.stringify(error)}`);
  error = await fails(client, "logs", { ...target, tail: "5" });
  check(error.message.includes("`tail` must be a JSON integer"), `a string for an integer names the argument: ${JSON.stringify(error)}`);
  error = await fails(client, "env_set", { ...target, vars: { "BAD KEY": SECRET } });
  check(error.kind === "invalid" && error.field === "vars", `a bad key: ${JSON.stringify(error)}`);

  // A refused destructive call changes nothing and says how to go on.
  const refused = await ok(client, "project_delete", { project });
  check(refused.applied === false && refused.hint.includes("force: true"), `refusal: ${JSON.stringify(refused)}`);
  const still = await ok(client, "project_show", { project });
  check(still.data.environments.staging.current_release === "v1", "nothing changed without force");
  const deleted = await ok(client, "project_delete", { project, force: true });
  check(deleted.applied === true, `delete with force: ${JSON.stringify(deleted)}`);
  error = await fails(client, "project_show", { project });
  check(error.kind === "not_found", `the project is gone: ${JSON.stringify(error)}`);

  for (const output of outputs) check(!output.includes(SECRET), `a secret leaked: ${output}`);
}

async function noPlatform(client) {
  await listTools(client);
  for (const [name, args] of [["ssot_status", {}], ["project_list", {}], ["releases", { project: "shop", env: "staging" }]]) {
    const error = await fails(client, name, args);
    check(error.kind === "not_found", `${name} without a platform: ${JSON.stringify(error)}`);
    check(typeof error.hint === "string" && error.hint.includes("--config"), `${name}: the error carries the hint: ${JSON.stringify(error)}`);
  }
}

async function run() {
  const client = await connect();
  const info = client.getServerVersion();
  check(info?.name === "codeb", `server: ${JSON.stringify(info)}`);
  if ((process.env.CODEB_MCP_SCENARIO ?? "platform") === "no-platform") {
    await noPlatform(client);
  } else {
    await platform(client);
  }
  await client.close();
  const via = process.env.CODEB_MCP_URL ? "HTTP" : "stdio";
  console.log(`ts mcp client (${via}, ${process.env.CODEB_MCP_SCENARIO ?? "platform"}): ${checks} checks passed`);
}

const timer = setTimeout(() => {
  console.error("ts mcp client: FAILED: timed out after 300 s");
  process.exit(1);
}, 300_000);
run().then(
  () => clearTimeout(timer),
  (e) => {
    console.error(`ts mcp client: FAILED: ${e.stack ?? e}`);
    process.exit(1);
  },
);
