//! The streamable HTTP transport with a real HTTP client (reqwest) against
//! the server bound to 127.0.0.1:0: 401 without or with a wrong token, 403
//! for a foreign Origin or Host, and a good request lists the tools.

use std::net::SocketAddr;

use codeb::engine::Platform;
use codeb_mcp::CodebServer;
use codeb_mcp::http::token::BearerToken;
use codeb_mcp::http::{self, HttpOptions, HttpServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "test-token-0123456789abcdef0123456789abcdef";

async fn start() -> HttpServer {
    let mut options = HttpOptions::new("127.0.0.1:0".parse().unwrap());
    options.token = Some(BearerToken::parse(TOKEN).unwrap());
    http::bind(CodebServer::new(Platform::memory()), options).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn initialize() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "codeb-http-test", "version": "0" }
        }
    })
}

/// POSTs one JSON-RPC message to the endpoint with the given extra headers.
async fn post(server: &HttpServer, headers: &[(&str, String)], body: &Value) -> reqwest::Response {
    let mut request = client()
        .post(server.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        request = request.header(*k, v);
    }
    request.body(body.to_string()).send().await.unwrap()
}

fn bearer() -> (&'static str, String) {
    ("authorization", format!("Bearer {TOKEN}"))
}

/// The JSON-RPC response in a body that is either JSON or an SSE stream.
fn rpc_response(body: &str) -> Value {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        return value;
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC response in {body:?}"))
}

#[tokio::test]
async fn the_default_address_is_loopback() {
    let addr: SocketAddr = http::DEFAULT_ADDR.parse().unwrap();
    assert!(addr.ip().is_loopback());
}

#[tokio::test]
async fn a_request_without_a_token_gets_401() {
    let server = start().await;
    let response = post(&server, &[], &initialize()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_with_a_wrong_token_gets_401() {
    let server = start().await;
    for wrong in
        [format!("Bearer {TOKEN}x"), format!("Bearer {}", &TOKEN[1..]), format!("Basic {TOKEN}"), "Bearer ".into()]
    {
        let response = post(&server, &[("authorization", wrong.clone())], &initialize()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{wrong}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_foreign_origin_gets_403_even_with_the_token() {
    let server = start().await;
    for origin in ["http://evil.example", "null", "http://localhost:1"] {
        let response = post(&server, &[bearer(), ("origin", origin.to_owned())], &initialize()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_host_that_is_not_the_servers_name_is_refused() {
    let server = start().await;
    let port = server.local_addr().port();
    for host in [
        format!("evil.example:{port}"),
        format!("rebind.attacker.test:{port}"),
        format!("127.0.0.1:{}", port + 1),
        format!("127.0.0.1.evil.example:{port}"),
        "localhost".to_owned(),
    ] {
        let response = post(&server, &[bearer(), ("host", host.clone())], &initialize()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{host}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_good_request_initialises_and_lists_the_tools() {
    let server = start().await;
    let port = server.local_addr().port();
    let origin = ("origin", format!("http://localhost:{port}"));
    let response =
        post(&server, &[bearer(), origin.clone(), ("host", format!("localhost:{port}"))], &initialize()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = response.headers().get("mcp-session-id").map(|v| v.to_str().unwrap().to_owned());
    let init = rpc_response(&response.text().await.unwrap());
    assert_eq!(init["result"]["serverInfo"]["name"], "codeb", "{init}");

    let mut headers = vec![bearer(), ("mcp-protocol-version", "2025-06-18".to_owned())];
    if let Some(session) = session {
        headers.push(("mcp-session-id", session));
    }
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    assert!(post(&server, &headers, &initialized).await.status().is_success());
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let response = post(&server, &headers, &list).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tools = rpc_response(&response.text().await.unwrap());
    let names: Vec<&str> =
        tools["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 28, "{names:?}");
    assert!(names.contains(&"deploy") && names.contains(&"project_delete"));

    let call = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": { "name": "ssot_status", "arguments": {} } });
    let status = rpc_response(&post(&server, &headers, &call).await.text().await.unwrap());
    assert_eq!(status["result"]["structuredContent"]["projects"], 0, "{status}");
    server.shutdown().await;
}

#[tokio::test]
async fn other_paths_are_not_served() {
    let server = start().await;
    let url = format!("http://{}/", server.local_addr());
    let response = client().get(url).header("authorization", format!("Bearer {TOKEN}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    server.shutdown().await;
}
