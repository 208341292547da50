//! The exchange with the PowerDNS HTTP API: one request with the API key,
//! and what its answer means.

use codeb::redact::Redactor;
use codeb::{Error, ErrorKind, Result};
use hyper::Method;
use hyper::header::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::http::{self, BaseUrl};
use crate::transport::http::{HttpClient, Request};

/// The header PowerDNS reads its API key from.
const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

pub(crate) const BACKEND: &str = "powerdns";

/// How many times a request is sent again after a 5xx or a dropped connection.
pub(crate) const MAX_RETRIES: usize = 3;

/// What one API answer means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 2xx, with the body.
    Done(Vec<u8>),
    /// 404: the zone does not exist.
    NotFound,
    /// 409: the zone to create exists.
    Exists,
    /// 400/422: PowerDNS refused the data; nothing was changed.
    Refused(String),
    /// Anything else: the error kind and a message (never holding the key).
    Failed(ErrorKind, String),
}

impl Answer {
    /// The answer with `redactor`'s values masked in the text a server wrote.
    fn masked(self, redactor: &Redactor) -> Answer {
        match self {
            Answer::Refused(message) => Answer::Refused(redactor.text(&message).into_owned()),
            Answer::Failed(kind, message) => Answer::Failed(kind, redactor.text(&message).into_owned()),
            done @ (Answer::Done(_) | Answer::NotFound | Answer::Exists) => done,
        }
    }
}

/// Reads an API answer from its status and body.
pub(crate) fn classify(status: u16, body: Vec<u8>) -> Answer {
    if (200..300).contains(&status) {
        return Answer::Done(body);
    }
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| http::excerpt(&body));
    match status {
        404 => Answer::NotFound,
        409 => Answer::Exists,
        400 | 422 => Answer::Refused(message),
        // The body of a 401 is PowerDNS's own "Unauthorized"; the key is never repeated.
        401 | 403 => Answer::Failed(ErrorKind::Unauthenticated, "PowerDNS refused the API key".to_owned()),
        500..=599 => Answer::Failed(ErrorKind::Unavailable, format!("PowerDNS failed (HTTP {status}): {message}")),
        _ => Answer::Failed(ErrorKind::Internal, format!("unexpected HTTP status {status}: {message}")),
    }
}

/// A client of one PowerDNS API, holding the key as a sensitive header
/// value, and masking it in whatever a server answers (one that echoes the
/// request's headers in an error page would otherwise put it in an error).
#[derive(Clone)]
pub(crate) struct Api {
    client: HttpClient,
    base: BaseUrl,
    key: HeaderValue,
    redactor: Redactor,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("base", &self.base.authority).field("key", &"<redacted>").finish()
    }
}

impl Api {
    pub(crate) fn new(client: HttpClient, base: BaseUrl, key: &str) -> Result<Self> {
        let mut header = HeaderValue::from_str(key)
            .map_err(|_| Error::invalid("the API key is not a valid header value").with_context("backend", BACKEND))?;
        header.set_sensitive(true);
        Ok(Api { client, base, key: header, redactor: Redactor::new([key]) })
    }

    /// Sends one request (`body` as JSON) and reads its answer.
    ///
    /// A 5xx or a dropped connection is tried again up to [`MAX_RETRIES`]
    /// times: PowerDNS on SQLite answers 500 when two writers collide
    /// ("database is locked") after rolling the change back, and every request
    /// codeb sends is idempotent (REPLACE, DELETE, GET, a create that treats
    /// "exists" as done), so sending it again is safe.
    pub(crate) async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Answer> {
        let path = format!("{}{path}", self.base.path);
        let bytes = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::internal("cannot encode a request").with_context("backend", BACKEND).with_source(e))?;
        let mut attempt = 0;
        loop {
            match self.send_once(method.clone(), &path, bytes.clone()).await {
                Ok(Answer::Failed(ErrorKind::Unavailable, _)) if attempt < MAX_RETRIES => {}
                Err(e) if http::connection_dropped(&e) && attempt < MAX_RETRIES => {}
                Ok(answer) => return Ok(answer.masked(&self.redactor)),
                Err(e) => return Err(self.redactor.error(e).with_context("backend", BACKEND)),
            }
            attempt += 1;
            tokio::time::sleep(http::backoff(attempt)).await;
        }
    }

    async fn send_once(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Answer> {
        let mut request = Request::new(method, path).header(API_KEY, self.key.clone());
        if let Some(bytes) = body {
            request = request.json(bytes);
        }
        let response = self.client.send(request).await?;
        Ok(classify(response.status, response.body.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_powerdns_4_7_gives_them() {
        assert_eq!(classify(204, Vec::new()), Answer::Done(Vec::new()));
        assert_eq!(classify(404, b"Not Found".to_vec()), Answer::NotFound);
        assert_eq!(classify(409, b"Conflict".to_vec()), Answer::Exists);
        let clash = br#"{"error": "RRset alias.z. IN A: Conflicts with pre-existing RRset"}"#.to_vec();
        assert_eq!(
            classify(422, clash),
            Answer::Refused("RRset alias.z. IN A: Conflicts with pre-existing RRset".into())
        );
        assert!(matches!(classify(401, b"Unauthorized".to_vec()), Answer::Failed(ErrorKind::Unauthenticated, _)));
        assert!(matches!(classify(403, Vec::new()), Answer::Failed(ErrorKind::Unauthenticated, _)));
        assert!(matches!(classify(500, b"boom".to_vec()), Answer::Failed(ErrorKind::Unavailable, _)));
        assert!(matches!(classify(301, Vec::new()), Answer::Failed(ErrorKind::Internal, _)));
    }
}
