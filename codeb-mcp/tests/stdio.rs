//! The `codeb-mcp` binary on stdio: stdout carries the protocol and nothing
//! else, logs go to stderr, and the server ends when its client goes away.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"stdio-test","version":"0"}}}"#;

/// The server over stdio with `args`, its stderr going to `stderr`.
fn server(args: &[&str], stderr: Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_codeb-mcp"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// The server on the memory platform over stdio, its stderr going to `stderr`.
fn memory_server(stderr: Stdio) -> std::process::Child {
    server(&["--memory"], stderr)
}

/// Initialises, sends `requests`, then hangs up as a client that is done
/// would; returns the server's exit and every line it wrote to stdout, each
/// of which must be JSON.
fn converse(mut child: std::process::Child, requests: &[&str]) -> (std::process::Output, Vec<Value>) {
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{INITIALIZE}").unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#).unwrap();
    for request in requests {
        writeln!(stdin, "{request}").unwrap();
    }
    // Give the server the requests, then hang up: it must answer them all and exit.
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a non-protocol line on stdout ({e}): {l:?}")))
        .collect();
    (out, lines)
}

#[test]
fn stdout_carries_only_the_protocol_and_logs_go_to_stderr() {
    let status = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ssot_status","arguments":{}}}"#;
    let (out, lines) = converse(memory_server(Stdio::piped()), &[status]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(lines.iter().all(|m| m["jsonrpc"] == "2.0"), "{stdout}");
    assert_eq!(lines[0]["result"]["serverInfo"]["name"], "codeb", "{stdout}");
    let status = lines.iter().find(|m| m["id"] == 2).unwrap_or_else(|| panic!("no answer to the call: {stdout}"));
    assert_eq!(status["result"]["structuredContent"]["revision"], 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("serving 28 tools over stdio"), "the log is on stderr");
}

#[test]
fn a_message_too_long_to_read_is_answered_with_an_error_and_the_next_one_is_served() {
    use std::io::{BufRead, BufReader};
    let mut child = memory_server(Stdio::piped());
    // A server that never answers must fail the test, not hang it: killed
    // (still unreaped, so its pid is its own) unless the answers came first.
    let (answered, watchdog) = std::sync::mpsc::channel::<()>();
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        if watchdog.recv_timeout(std::time::Duration::from_secs(60)).is_err() {
            let _ = Command::new("kill").arg(&pid).status();
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut answer = || {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the server hung up");
        serde_json::from_str::<Value>(&line).unwrap()
    };
    writeln!(stdin, "{INITIALIZE}").unwrap();
    assert_eq!(answer()["id"], 1);
    writeln!(stdin, r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#).unwrap();
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"ssot_status","arguments":{{"pad":"{}"}}}}}}"#,
        "x".repeat(20 << 20)
    );
    writeln!(stdin, "{huge}").unwrap();
    let refused = answer();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"ssot_status","arguments":{{}}}}}}"#
    )
    .unwrap();
    let next = answer();
    let _ = answered.send(());
    drop(stdin);
    let out = child.wait_with_output().unwrap();

    assert_eq!(refused["error"]["code"], -32600, "an error answers the long message: {refused}");
    assert_eq!(next["id"], 3, "{next}");
    assert_eq!(next["result"]["structuredContent"]["revision"], 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused a message longer than 16 MiB"));
}

#[test]
fn progress_goes_only_to_a_request_with_a_progress_token_and_before_its_answer() {
    use std::io::{BufRead, BufReader};
    let mut child = memory_server(Stdio::null());
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let deploy = |id: u32, meta: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{{meta}"name":"deploy","arguments":{{"path":{},"env":"staging"}}}}}}"#,
            serde_json::to_string(example.to_str().unwrap()).unwrap()
        )
    };
    writeln!(stdin, "{INITIALIZE}").unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#).unwrap();
    writeln!(stdin, "{}", deploy(2, "")).unwrap();
    let mut lines: Vec<Value> = Vec::new();
    let mut read_until_answer = |id: u32, lines: &mut Vec<Value>| loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the server hung up: {lines:?}");
        let message: Value = serde_json::from_str(&line).unwrap();
        lines.push(message.clone());
        if message["id"] == id {
            break;
        }
    };
    read_until_answer(2, &mut lines);
    writeln!(stdin, "{}", deploy(3, r#""_meta":{"progressToken":"p3"},"#)).unwrap();
    read_until_answer(3, &mut lines);
    drop(stdin);
    child.wait().unwrap();

    let progress = |m: &Value| m["method"] == "notifications/progress";
    let answer_2 = lines.iter().position(|m| m["id"] == 2).unwrap();
    assert!(!lines[..answer_2].iter().any(progress), "no token, no progress: {lines:#?}");
    assert_eq!(lines[answer_2]["result"]["structuredContent"]["release"], "v1");
    let sent: Vec<&Value> = lines[answer_2..].iter().filter(|m| progress(m)).collect();
    assert!(sent.len() > 5, "{lines:#?}");
    assert!(sent.iter().all(|m| m["params"]["progressToken"] == "p3"), "{sent:#?}");
    assert_eq!(lines.last().unwrap()["result"]["structuredContent"]["release"], "v2", "the answer comes last");
}

#[test]
fn without_a_platform_file_the_server_starts_and_every_tool_answers_with_the_hint() {
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let call = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"project_list","arguments":{}}}"#;
    let child = server(&["--config", "/nonexistent/codeb-mcp-platform.toml"], Stdio::piped());
    let (out, lines) = converse(child, &[list, call]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let answer = |id: u32| lines.iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("no answer {id}: {stdout}"));

    let instructions = answer(1)["result"]["instructions"].as_str().unwrap();
    assert!(instructions.contains("has no platform") && instructions.contains("--config PATH"), "{instructions}");
    assert_eq!(answer(2)["result"]["tools"].as_array().unwrap().len(), 28, "the tools are listed");
    let result = &answer(3)["result"];
    assert_eq!(result["isError"], true, "{result}");
    assert!(result.get("structuredContent").is_none(), "{result}");
    let error: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    let error = &error["error"];
    assert_eq!(error["kind"], "not_found", "{error}");
    assert!(error["message"].as_str().unwrap().contains("/nonexistent/codeb-mcp-platform.toml"), "{error}");
    assert!(error["hint"].as_str().unwrap().contains("--config PATH"), "{error}");
    assert!(out.status.success(), "it ends when its client leaves");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no platform") && stderr.contains("codeb-mcp-platform.toml"), "{stderr}");
}

#[test]
fn the_http_server_shows_its_url_and_token_once_on_stderr_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_codeb-mcp"))
        .args(["--memory", "--http", "127.0.0.1:0"])
        .env_remove("CODEB_MCP_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        lines.push(line);
    }
    assert!(lines[0].contains("http://127.0.0.1:") && lines[0].contains("/mcp"), "{lines:?}");
    let token = lines[1].trim().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(token.len(), 64, "a generated token: {lines:?}");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "a clean stop on SIGTERM: {status:?} {rest}");
    assert!(rest.contains("stopped"), "{rest}");
    assert!(rest.contains("reading projects only under"), "the project roots are shown: {rest}");
    assert_eq!(rest.matches(&token).count(), 0, "the token is shown once");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
}
