//! An in-process client/server pair over an in-memory duplex pipe, on a
//! platform of fakes whose controls the test keeps. Every successful call's
//! structured content is checked against the `outputSchema` the tool lists,
//! with a JSON Schema validator no one here wrote (the `jsonschema` crate),
//! as the official TypeScript client checks it.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use codeb::engine::{Platform, Settings};
use codeb::fake::FakeBackends;
use codeb::faults::{DNS_OPS, Faults, HTTP_OPS, PORT_OPS, PROXY_OPS, RUNTIME_OPS, SECRET_OPS, STATE_OPS};
use codeb_mcp::CodebServer;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam, Tool};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::{ClientHandler, ServiceError, ServiceExt};
use serde_json::Value;

/// A client that keeps every progress notification it is sent.
#[derive(Clone, Default)]
pub struct ProgressRecorder(std::sync::Arc<Mutex<Vec<ProgressNotificationParam>>>);

impl ClientHandler for ProgressRecorder {
    fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.0.lock().unwrap().push(params);
        std::future::ready(())
    }
}

/// A connected client, the fakes behind the server, and every output seen.
pub struct Harness {
    pub client: RunningService<RoleClient, ProgressRecorder>,
    progress: ProgressRecorder,
    pub fakes: FakeBackends,
    outputs: Mutex<Vec<String>>,
    /// Each tool's advertised output schema, compiled, by tool name.
    schemas: BTreeMap<String, jsonschema::Validator>,
    /// The tools whose success output has been checked against their schema.
    validated: Mutex<BTreeSet<String>>,
    pub dir: tempfile::TempDir,
}

/// A validator for `schema` that checks formats (`date-time`, ...) too, after
/// checking the schema itself against its meta-schema.
pub fn validator(tool: &str, schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("{tool}: the outputSchema is not a valid JSON Schema: {e}\n{schema:#}"))
}

/// Panics naming every way `value` breaks the output schema of `tool`.
pub fn assert_valid(tool: &str, validator: &jsonschema::Validator, value: &Value) {
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(
        errors.is_empty(),
        "{tool}: the structured content breaks its outputSchema:\n{}\n{value:#}",
        errors.join("\n")
    );
}

/// Settings like `Platform::memory()`'s: no drain, stop or watch wait, zone codeb.test.
fn settings() -> Settings {
    let mut settings = Settings::local("mcp-test", "mcp");
    settings.drain_grace = Duration::ZERO;
    settings.stop_grace = Duration::ZERO;
    settings.watch_window = Duration::ZERO;
    settings.zone = codeb::model::DomainName::parse("codeb.test").ok();
    settings
}

impl Harness {
    /// A server on fresh fakes (every image pulls) and a client connected to it.
    pub async fn start() -> Harness {
        Harness::start_with(|server, _| server).await
    }

    /// Like [`Harness::start`], with the server adjusted by `configure`, which
    /// is given the directory [`Harness::project`] writes under.
    pub async fn start_with(configure: impl FnOnce(CodebServer, &Path) -> CodebServer) -> Harness {
        let fakes = FakeBackends::new();
        fakes.runtime.allow_any_image();
        let dir = tempfile::tempdir().unwrap();
        let server = configure(CodebServer::new(Platform::new(fakes.backends(), settings())), dir.path());
        let (server_end, client_end) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            if let Ok(running) = server.serve(server_end).await {
                let _ = running.waiting().await;
            }
        });
        let progress = ProgressRecorder::default();
        let client = progress.clone().serve(client_end).await.expect("the client connects");
        let tools = client.list_all_tools().await.expect("tools/list");
        let schemas = tools
            .iter()
            .map(|t| {
                let schema = Value::Object(t.output_schema.as_deref().cloned().unwrap_or_default());
                (t.name.to_string(), validator(&t.name, &schema))
            })
            .collect();
        let validated = Mutex::new(BTreeSet::new());
        Harness { client, progress, fakes, outputs: Mutex::new(Vec::new()), schemas, validated, dir }
    }

    /// Every tool as listed.
    pub async fn tools(&self) -> Vec<Tool> {
        let tools = self.client.list_all_tools().await.expect("tools/list");
        self.outputs.lock().unwrap().push(serde_json::to_string(&tools).unwrap());
        tools
    }

    /// Calls a tool, recording what came back.
    pub async fn call(&self, name: &str, args: Value) -> Result<CallToolResult, ServiceError> {
        let Value::Object(map) = args else { panic!("arguments must be an object") };
        let params = CallToolRequestParams::new(name.to_owned()).with_arguments(map);
        let result = self.client.call_tool(params).await;
        let shown = match &result {
            Ok(r) => serde_json::to_string(r).unwrap(),
            Err(e) => e.to_string(),
        };
        self.outputs.lock().unwrap().push(shown);
        result
    }

    /// Calls a tool; returns the result and the progress notifications that
    /// arrived before it. (rmcp's client sends a progress token with every request.)
    pub async fn call_with_progress(
        &self,
        name: &str,
        args: Value,
    ) -> (CallToolResult, Vec<ProgressNotificationParam>) {
        self.progress.0.lock().unwrap().clear();
        let result = self.call(name, args).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let seen = self.progress();
        self.outputs.lock().unwrap().extend(seen.iter().map(|p| serde_json::to_string(p).unwrap()));
        (result, seen)
    }

    /// Every progress notification received so far, of any token.
    pub fn progress(&self) -> Vec<ProgressNotificationParam> {
        self.progress.0.lock().unwrap().clone()
    }

    /// Calls a tool that must succeed; returns its structured content, which
    /// must satisfy the tool's output schema.
    pub async fn ok(&self, name: &str, args: Value) -> Value {
        let result = self.call(name, args.clone()).await.unwrap_or_else(|e| panic!("{name} {args}: {e}"));
        assert_ne!(result.is_error, Some(true), "{name} {args} failed: {result:?}");
        let value = result.structured_content.unwrap_or_else(|| panic!("{name} returned no structured content"));
        let text = result.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone()).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value, "the text block mirrors the structure");
        let schema = self.schemas.get(name).unwrap_or_else(|| panic!("{name} is not listed"));
        assert_valid(name, schema, &value);
        self.validated.lock().unwrap().insert(name.to_owned());
        value
    }

    /// The tools whose success output has been checked against their schema so far.
    pub fn validated(&self) -> BTreeSet<String> {
        self.validated.lock().unwrap().clone()
    }

    /// Calls a tool that must fail as a tool error; returns its `error` object.
    ///
    /// A tool error is one text block holding `{"error": {...}}` and no
    /// `structuredContent` (which would have to match the tool's output schema).
    pub async fn fails(&self, name: &str, args: Value) -> Value {
        let result =
            self.call(name, args.clone()).await.unwrap_or_else(|e| panic!("{name} {args}: protocol error {e}"));
        assert_eq!(result.is_error, Some(true), "{name} {args} should fail: {result:?}");
        assert!(result.structured_content.is_none(), "{name}: a tool error carries no structuredContent: {result:?}");
        let text = result.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone());
        let text = text.unwrap_or_else(|| panic!("{name}: a tool error without text: {result:?}"));
        let value: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: the error is JSON ({e}): {text}"));
        value["error"].clone()
    }

    /// Every output seen so far (results, errors, tool lists), as text.
    pub fn outputs(&self) -> Vec<String> {
        self.outputs.lock().unwrap().clone()
    }

    /// Calls every fake backend has answered, in all.
    pub fn backend_calls(&self) -> u64 {
        let f = &self.fakes;
        let count = |faults: &Faults, ops: &[&str]| ops.iter().map(|op| faults.calls(op)).sum::<u64>();
        count(f.runtime.faults(), RUNTIME_OPS)
            + count(f.proxy.faults(), PROXY_OPS)
            + count(f.dns.faults(), DNS_OPS)
            + count(f.secrets.faults(), SECRET_OPS)
            + count(f.ports.faults(), PORT_OPS)
            + count(f.http.faults(), HTTP_OPS)
            + count(f.state.faults(), STATE_OPS)
    }

    /// A project directory holding a codeb.toml for `name` with `image`, and `extra` appended.
    pub fn project(&self, name: &str, image: &str, extra: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "name = \"{name}\"\nimage = \"{image}\"\nport = 8080\n\n[healthcheck]\ninterval = \"20ms\"\ndeadline = \"300ms\"\n\n[env]\nGREETING = \"hello\"\n\n{extra}"
        );
        std::fs::write(dir.join("codeb.toml"), text).unwrap();
        dir
    }

    /// The path of a project directory as a tool argument.
    pub fn arg(path: &Path) -> String {
        path.to_str().unwrap().to_owned()
    }
}
