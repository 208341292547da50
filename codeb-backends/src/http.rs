//! What the HTTP backends (Caddy, PowerDNS) share: how a client is built, how
//! a base URL is checked, and how a failed exchange becomes an [`Error`].

use std::time::Duration;

use codeb::{Error, ErrorKind, Result};

/// Whether a client keeps idle connections for the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Connections {
    /// Reuse idle connections.
    Pooled,
    /// A fresh connection per request, for a server that drops its idle
    /// connections after every change (Caddy's admin API replaces its server
    /// on each config load, so a pooled connection may already be dead).
    FreshEachTime,
}

/// A client for one loopback (or tunnelled) admin API.
///
/// Proxies from the environment are ignored: admin APIs are reached directly,
/// and an `HTTP_PROXY` meant for the internet must not see them.
pub(crate) fn client(backend: &'static str, timeout: Duration, connections: Connections) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).no_proxy();
    if connections == Connections::FreshEachTime {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder
        .build()
        .map_err(|e| Error::internal("cannot build an HTTP client").with_context("backend", backend).with_source(e))
}

/// Checks `url` is an absolute `http`/`https` URL without credentials and
/// returns it without a trailing `/`, ready for paths to be appended.
///
/// Credentials in the URL are refused so that they can never reach an error
/// message (errors name the URL they failed on).
pub(crate) fn base_url(backend: &'static str, field: &'static str, url: &str) -> Result<String> {
    let invalid = |rule: &str| {
        Error::invalid(format!("the {field} URL {rule}")).with_context("backend", backend).with_context(field, url)
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid("is not a valid URL").with_source(e))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must use http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Not echoed: the value holds a credential.
        return Err(
            Error::invalid(format!("the {field} URL must not carry credentials")).with_context("backend", backend)
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// The error for an exchange that produced no HTTP answer: a timeout, a
/// refused connection, or a connection lost mid-way.
pub(crate) fn transport_error(backend: &'static str, err: reqwest::Error) -> Error {
    let (kind, message) = if err.is_timeout() {
        (ErrorKind::Timeout, "no answer within the timeout")
    } else if err.is_connect() {
        (ErrorKind::Unavailable, "cannot connect")
    } else {
        (ErrorKind::Unavailable, "the exchange failed")
    };
    Error::new(kind, message).with_context("backend", backend).with_source(err)
}

/// Whether `err` means the connection failed before an answer came (refused,
/// reset, closed mid-way), as opposed to a timeout.
pub(crate) fn connection_dropped(err: &reqwest::Error) -> bool {
    !err.is_timeout() && (err.is_connect() || err.is_request())
}

/// A short, growing, jittered pause before trying again (`attempt` from 1).
pub(crate) fn backoff(attempt: usize) -> Duration {
    let base = 5 * attempt as u64;
    Duration::from_millis(base + fastrand::u64(0..=base))
}

/// `err` with its chain of causes, on one line.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A short, printable excerpt of a response body for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_their_trailing_slash_and_keep_their_path() {
        assert_eq!(base_url("t", "api", "http://127.0.0.1:8081/").unwrap(), "http://127.0.0.1:8081");
        assert_eq!(base_url("t", "api", "http://127.0.0.1:8081/caddy/").unwrap(), "http://127.0.0.1:8081/caddy");
    }

    #[test]
    fn base_urls_that_are_not_plain_http_are_refused() {
        for bad in ["127.0.0.1:8081", "ftp://h/", "http://h/?q=1", "http://h/#x", "not a url"] {
            let err = base_url("t", "api", bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{bad}");
        }
    }

    #[test]
    fn credentials_in_a_base_url_are_refused_without_being_echoed() {
        let err = base_url("t", "api", "http://user:hunter2@127.0.0.1/").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(!err.to_string().contains("hunter2") && !format!("{err:?}").contains("hunter2"));
    }

    #[test]
    fn excerpts_are_short_single_line_text() {
        assert_eq!(excerpt(b"  line one\nline two\r\n"), "line one line two");
        let long = "x".repeat(1000);
        assert_eq!(excerpt(long.as_bytes()).len(), 303);
    }
}
