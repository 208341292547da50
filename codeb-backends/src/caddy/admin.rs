//! The exchange with Caddy's admin API: read the configuration with its ETag,
//! send one change, and say what an answer means.

use codeb::{Error, ErrorKind, Result};
use hyper::Method;
use hyper::header::{ETAG, HeaderValue, IF_MATCH};
use serde_json::Value;

use super::plan::{APPS_PATH, Snapshot, Step, Verb};
use crate::http::{self, BaseUrl};
use crate::transport::http::{HttpClient, Request};

pub(crate) const BACKEND: &str = "caddy";

/// What one admin answer means for the caller.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The change was applied (2xx).
    Done,
    /// The configuration changed since it was read: `If-Match` failed (412),
    /// or a path read a moment ago no longer exists. Read again and re-plan.
    Stale(String),
    /// The `@id` or path does not exist (404).
    NotFound(String),
    /// Caddy refused the configuration; the previous one keeps serving.
    Rejected(String),
    /// Anything else: the error to return.
    Failed(ErrorKind, String),
    /// The connection failed before any answer (refused, or reset: Caddy 2.6
    /// replaces its admin server on every config load and drops connections
    /// that arrive meanwhile). A dropped write may or may not have been
    /// applied, so it is re-planned from a fresh read, never blindly resent.
    Dropped(String),
}

/// How many times one exchange is tried again after its connection dropped.
pub(crate) const MAX_DROPPED: usize = 4;

/// Reads an admin answer from its status and body.
///
/// Caddy 2.6 reports a configuration it cannot load as a 400 on `/load` but
/// as a 500 on `/config/` and `/id/` paths, always with the message starting
/// `loading ... config`; a traversal that hits a missing key or index (someone
/// changed the config since we read it) is a 500 naming the path in brackets.
pub(crate) fn classify(status: u16, body: &[u8]) -> Answer {
    if (200..300).contains(&status) {
        return Answer::Done;
    }
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| http::excerpt(body));
    let rejected = message.starts_with("loading new config") || message.starts_with("loading config");
    match status {
        412 => Answer::Stale(message),
        404 => Answer::NotFound(message),
        400 => Answer::Rejected(message),
        500 if rejected => Answer::Rejected(message),
        500 if message.starts_with("[/config/") => Answer::Stale(message),
        401 => Answer::Failed(ErrorKind::Unauthenticated, message),
        403 => Answer::Failed(ErrorKind::Forbidden, message),
        500..=599 => Answer::Failed(ErrorKind::Unavailable, message),
        _ => Answer::Failed(ErrorKind::Internal, format!("unexpected HTTP status {status}: {message}")),
    }
}

/// The ETag Caddy 2.6 computes for a config read: the path and the 32-bit
/// FNV-1a hash of the body, as `"<path> <hash>"`.
///
/// Caddy 2.6 sends it as an HTTP trailer, which the client cannot read, so it
/// is computed from the same bytes; a Caddy that sends an `ETag` header is
/// believed instead.
pub(crate) fn etag(path: &str, body: &[u8]) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in body {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("\"{path} {hash:08x}\"")
}

fn dropped_message(err: &Error) -> String {
    format!("the connection to Caddy's admin API failed: {}", err.message())
}

/// Where Caddy reports its reverse proxies' upstreams and their requests in flight.
const UPSTREAMS_PATH: &str = "/reverse_proxy/upstreams";

/// A client of one Caddy admin API.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    client: HttpClient,
    base: BaseUrl,
}

impl Admin {
    pub(crate) fn new(client: HttpClient, base: BaseUrl) -> Self {
        Admin { client, base }
    }

    fn error(kind: ErrorKind, message: impl Into<String>, path: &str) -> Error {
        Error::new(kind, message).with_context("backend", BACKEND).with_context("path", path)
    }

    /// The `apps` part of Caddy's configuration and its ETag; a read whose
    /// connection dropped is tried again a few times.
    pub(crate) async fn snapshot(&self) -> Result<Snapshot> {
        let mut dropped = 0;
        loop {
            match self.try_snapshot().await? {
                Ok(snapshot) => return Ok(snapshot),
                Err(_) if dropped < MAX_DROPPED => {
                    dropped += 1;
                    tokio::time::sleep(http::backoff(dropped)).await;
                }
                Err(message) => return Err(Self::error(ErrorKind::Unavailable, message, APPS_PATH)),
            }
        }
    }

    /// One read: the snapshot, or (inner `Err`) the message of a dropped connection.
    async fn try_snapshot(&self) -> Result<Result<Snapshot, String>> {
        let request = Request::new(Method::GET, format!("{}{APPS_PATH}", self.base.path));
        let response = match self.client.send(request).await {
            Ok(response) => response,
            Err(e) if http::connection_dropped(&e) => return Ok(Err(dropped_message(&e))),
            Err(e) => return Err(e.with_context("backend", BACKEND)),
        };
        let header_etag = response.headers.get(ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.body;
        match classify(response.status, &body) {
            Answer::Done => {}
            Answer::Failed(kind, message) => return Err(Self::error(kind, message, APPS_PATH)),
            Answer::Stale(m) | Answer::NotFound(m) | Answer::Rejected(m) | Answer::Dropped(m) => {
                return Err(Self::error(ErrorKind::Internal, format!("cannot read the config: {m}"), APPS_PATH));
            }
        }
        let apps: Value = serde_json::from_slice(&body).map_err(|e| {
            Self::error(ErrorKind::Internal, "Caddy answered with malformed JSON", APPS_PATH).with_source(e)
        })?;
        let etag = header_etag.unwrap_or_else(|| etag(APPS_PATH, &body));
        Ok(Ok(Snapshot::new(apps, etag)))
    }

    /// How many requests Caddy has in flight to each upstream it knows, by
    /// dial address (`GET /reverse_proxy/upstreams`).
    pub(crate) async fn upstream_requests(&self) -> Result<Vec<(String, u64)>> {
        #[derive(serde::Deserialize)]
        struct Status {
            address: String,
            num_requests: u64,
        }
        let request = Request::new(Method::GET, format!("{}{UPSTREAMS_PATH}", self.base.path));
        let response = self.client.send(request).await.map_err(|e| e.with_context("backend", BACKEND))?;
        match classify(response.status, &response.body) {
            Answer::Done => {}
            Answer::Failed(kind, message) => return Err(Self::error(kind, message, UPSTREAMS_PATH)),
            Answer::Stale(m) | Answer::NotFound(m) | Answer::Rejected(m) | Answer::Dropped(m) => {
                return Err(Self::error(
                    ErrorKind::Internal,
                    format!("cannot read the upstreams: {m}"),
                    UPSTREAMS_PATH,
                ));
            }
        }
        let statuses: Vec<Status> = serde_json::from_slice(&response.body).map_err(|e| {
            Self::error(ErrorKind::Internal, "Caddy answered with malformed JSON", UPSTREAMS_PATH).with_source(e)
        })?;
        Ok(statuses.into_iter().map(|s| (s.address, s.num_requests)).collect())
    }

    /// Sends one change, to be applied only if the config still has the ETag `if_match`.
    pub(crate) async fn send(&self, step: &Step, if_match: &str) -> Result<Answer> {
        let method = match step.verb {
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        };
        let mut request = Request::new(method, format!("{}{}", self.base.path, step.path));
        if let Some(body) = &step.body {
            let bytes = serde_json::to_vec(body).map_err(|e| {
                Self::error(ErrorKind::Internal, "cannot encode a config change", &step.path).with_source(e)
            })?;
            request = request.json(bytes);
        }
        let tag = HeaderValue::from_str(if_match).map_err(|e| {
            Self::error(ErrorKind::Internal, "the ETag is not a valid header value", &step.path).with_source(e)
        })?;
        let response = match self.client.send(request.header(IF_MATCH, tag)).await {
            Ok(response) => response,
            Err(e) if http::connection_dropped(&e) => return Ok(Answer::Dropped(dropped_message(&e))),
            Err(e) => return Err(e.with_context("backend", BACKEND)),
        };
        Ok(classify(response.status, &response.body))
    }

    /// Turns a final answer into the SDK error for `path`.
    pub(crate) fn answer_error(answer: Answer, path: &str) -> Error {
        match answer {
            Answer::Done => Self::error(ErrorKind::Internal, "a successful change reported as an error", path),
            Answer::Rejected(m) => Self::error(ErrorKind::Invalid, format!("Caddy refused the change: {m}"), path),
            Answer::NotFound(m) => Self::error(ErrorKind::NotFound, m, path),
            Answer::Stale(m) => Self::error(
                ErrorKind::Conflict,
                format!("Caddy's config kept changing while codeb applied a change: {m}"),
                path,
            ),
            Answer::Failed(kind, m) => Self::error(kind, m, path),
            Answer::Dropped(m) => Self::error(ErrorKind::Unavailable, m, path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_matches_the_one_caddy_2_6_sent_for_the_same_body() {
        // Read from a live Caddy 2.6.2: GET /config/ answered this body and trailer.
        let body = b"{\"admin\":{\"listen\":\"127.0.0.1:53939\"}}\n";
        assert_eq!(etag("/config/", body), "\"/config/ fa5ff595\"");
    }

    #[test]
    fn etag_hashes_are_zero_padded() {
        assert_eq!(etag("/p", b""), "\"/p 811c9dc5\"");
        let tag = etag("/p", b"x");
        assert_eq!(tag.len(), "\"/p 00000000\"".len());
    }

    #[test]
    fn answers_are_classified_as_caddy_2_6_gives_them() {
        let err = |m: &str| format!("{{\"error\":{m:?}}}").into_bytes();
        assert_eq!(classify(200, b""), Answer::Done);
        assert_eq!(
            classify(412, &err("If-Match header did not match current config hash")),
            Answer::Stale("If-Match header did not match current config hash".into())
        );
        assert_eq!(classify(404, &err("unknown object ID 'x'")), Answer::NotFound("unknown object ID 'x'".into()));
        let listener = "loading new config: loading http app module: http: invalid configuration: server s2: listener address repeated";
        assert_eq!(classify(500, &err(listener)), Answer::Rejected(listener.into()));
        assert!(matches!(classify(400, &err("loading config: decoding request body: x")), Answer::Rejected(_)));
        let moved = "[/config/apps/http/servers/s1/routes/9] array index out of bounds: 9";
        assert_eq!(classify(500, &err(moved)), Answer::Stale(moved.into()));
        assert!(matches!(classify(500, b"oops"), Answer::Failed(ErrorKind::Unavailable, _)));
        assert!(matches!(classify(503, b""), Answer::Failed(ErrorKind::Unavailable, _)));
        assert!(matches!(classify(401, b""), Answer::Failed(ErrorKind::Unauthenticated, _)));
        assert!(matches!(classify(403, &err("host not allowed")), Answer::Failed(ErrorKind::Forbidden, _)));
        assert!(matches!(classify(302, b""), Answer::Failed(ErrorKind::Internal, _)));
    }
}
