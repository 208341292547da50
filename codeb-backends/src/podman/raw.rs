//! A minimal JSON GET over the API socket, for answers bollard cannot decode.
//!
//! Podman reports the transient container state `stopped`, which is not in
//! Docker's API and which bollard's typed models refuse, in both inspect and
//! list answers. When bollard fails to decode, the backend re-reads the same
//! Docker-compatible endpoint here as plain JSON, rewrites `stopped` as
//! `exited` ([`super::response::rewrite_stopped`]) and decodes it with
//! bollard's own models. HTTP/1.0 keeps the exchange trivial: the server
//! sends one un-chunked body and closes the connection.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::Failure;
use crate::transport::{Endpoint, Transport, message_with_cause, trace};

/// Largest answer read (a list of many containers is a few hundred KiB).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// `GET path` on the API at `endpoint` (reached through `transport`), returning the JSON body of a 2xx answer.
pub(crate) async fn get_json(
    transport: &dyn Transport,
    endpoint: &Endpoint,
    path: &str,
    timeout: Duration,
) -> Result<serde_json::Value, Failure> {
    let answer = exchange(transport, endpoint, &request(path), timeout).await?;
    parse_answer(&answer)
}

/// `POST path` with the JSON `body` on the API at `endpoint`, returning the JSON body of a 2xx answer.
pub(crate) async fn post_json(
    transport: &dyn Transport,
    endpoint: &Endpoint,
    path: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<serde_json::Value, Failure> {
    let answer = exchange(transport, endpoint, &post(path, &body.to_string()), timeout).await?;
    parse_answer(&answer)
}

/// `DELETE path` on the API at `endpoint`; a non-2xx answer is a [`Failure::Status`].
pub(crate) async fn delete(
    transport: &dyn Transport,
    endpoint: &Endpoint,
    path: &str,
    timeout: Duration,
) -> Result<(), Failure> {
    let request = format!("DELETE {path} HTTP/1.0\r\nHost: podman\r\n\r\n");
    let answer = exchange(transport, endpoint, &request, timeout).await?;
    if (200..300).contains(&status_of(&answer)?) {
        return Ok(());
    }
    parse_answer(&answer).map(drop)
}

/// Sends `request` and reads the whole answer, until the server closes the connection.
async fn exchange(
    transport: &dyn Transport,
    endpoint: &Endpoint,
    request: &str,
    timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    let exchange = async {
        let mut stream =
            transport.connect(endpoint).await.map_err(|e| Failure::connecting(&e, message_with_cause(&e)))?;
        stream.write_all(request.as_bytes()).await.map_err(|e| Failure::Unreachable(e.to_string()))?;
        let mut answer = Vec::new();
        (&mut stream)
            .take(MAX_ANSWER_BYTES as u64 + 1)
            .read_to_end(&mut answer)
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        if answer.len() > MAX_ANSWER_BYTES {
            return Err(Failure::Decode("the answer is too large".to_owned()));
        }
        Ok(answer)
    };
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(Failure::Timeout));
    let request_line = request.lines().next().unwrap_or_default().trim_end_matches(" HTTP/1.0");
    let outcome = match &result {
        Ok(answer) => status_of(answer).map_err(|_| "an answer without a status"),
        Err(Failure::Timeout) => Err("no answer in time"),
        Err(_) => Err("the socket could not be used"),
    };
    trace::http(transport.server(), endpoint, request_line, started, outcome);
    result
}

/// `POST path` with the JSON `body` on the API at `endpoint`, reading the
/// answer until the server closes the connection (its body discarded), and
/// returning the status: how an exec session is started attached, so the
/// call ends when the command does (a detached session stays "running" in
/// Podman 4.3's inspect after its command ended).
pub(crate) async fn post_until_closed(
    transport: &dyn Transport,
    endpoint: &Endpoint,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<u16, Failure> {
    let answer = exchange(transport, endpoint, &post(path, body), timeout).await?;
    status_of(&answer)
}

/// The request bytes for `POST path` with a JSON `body`.
fn post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.0\r\nHost: podman\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The status code of an HTTP/1.x answer.
fn status_of(answer: &[u8]) -> Result<u16, Failure> {
    let end = answer.iter().position(|b| *b == b'\n').unwrap_or(answer.len());
    let status_line = String::from_utf8_lossy(&answer[..end]).trim_end().to_owned();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| Failure::Decode(format!("the status line {status_line:?} has no status")))
}

/// The request bytes for `GET path`.
fn request(path: &str) -> String {
    format!("GET {path} HTTP/1.0\r\nHost: podman\r\nAccept: application/json\r\n\r\n")
}

/// Splits an HTTP/1.x answer into status and JSON body; a non-2xx status is a [`Failure::Status`].
fn parse_answer(answer: &[u8]) -> Result<serde_json::Value, Failure> {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| Failure::Decode("the answer has no end of headers".to_owned()))?;
    let head = std::str::from_utf8(&answer[..split]).map_err(|e| Failure::Decode(e.to_string()))?;
    let body = &answer[split + 4..];
    let code = status_of(answer)?;
    if head.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding") && value.trim().eq_ignore_ascii_case("chunked")
        })
    }) {
        return Err(Failure::Decode("a chunked answer to an HTTP/1.0 request".to_owned()));
    }
    if !(200..300).contains(&code) {
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(ToOwned::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
        return Err(Failure::Status { code, message });
    }
    serde_json::from_slice(body).map_err(|e| Failure::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use tokio::net::UnixListener;

    use super::*;
    use crate::transport::LocalTransport;

    async fn get(socket: &std::path::Path, path: &str, timeout: Duration) -> Result<serde_json::Value, Failure> {
        get_json(&LocalTransport::new(), &Endpoint::Unix(socket.to_owned()), path, timeout).await
    }

    #[test]
    fn answers_are_split_into_status_and_json() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"State\":{\"Status\":\"stopped\"}}";
        assert_eq!(parse_answer(ok).unwrap()["State"]["Status"], "stopped");
        let missing = b"HTTP/1.0 404 Not Found\r\n\r\n{\"cause\":\"no such container\",\"message\":\"no container with name x\",\"response\":404}";
        assert_eq!(
            parse_answer(missing).unwrap_err(),
            Failure::Status { code: 404, message: "no container with name x".to_owned() }
        );
        assert!(parse_answer(b"HTTP/1.0 200 OK\r\n").unwrap_err().is_decode());
        assert!(parse_answer(b"garbage\r\n\r\n{}").unwrap_err().is_decode());
        assert!(
            parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
                .unwrap_err()
                .is_decode()
        );
    }

    #[tokio::test]
    async fn a_get_sends_one_http_1_0_request_and_reads_until_close() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("api.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 1024];
            let n = conn.read(&mut buf).await.unwrap();
            conn.write_all(b"HTTP/1.0 200 OK\r\n\r\n[{\"State\":\"stopped\"}]").await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        let value = get(&socket, "/v1.41/containers/json?all=true", Duration::from_secs(5)).await.unwrap();
        assert_eq!(value[0]["State"], "stopped");
        let request = server.await.unwrap();
        assert!(request.starts_with("GET /v1.41/containers/json?all=true HTTP/1.0\r\n"), "{request}");
    }

    #[tokio::test]
    async fn a_missing_socket_is_unreachable_and_a_silent_server_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let missing = get(&dir.path().join("none.sock"), "/_ping", Duration::from_secs(1)).await;
        assert!(matches!(missing, Err(Failure::Unreachable(_))));
        let socket = dir.path().join("silent.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let _server = tokio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(conn);
        });
        assert_eq!(get(&socket, "/_ping", Duration::from_millis(200)).await.unwrap_err(), Failure::Timeout);
    }
}
