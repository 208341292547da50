//! What the HTTP backends (Caddy, PowerDNS) share: how a base URL becomes
//! the address their transport connects to, what a failed exchange means for
//! a retry, the pause before one, and excerpts of answers for messages.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use codeb::{Error, ErrorKind, Result};

use crate::transport::http::{Connections, HttpClient};
use crate::transport::{Endpoint, Transport};

/// Where an admin API is, from its base URL: the TCP address the server
/// dials, the authority requests name, and the path prefix of every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    /// The address the transport connects to.
    pub(crate) address: SocketAddr,
    /// `host:port` as written in the URL, for the `Host` header.
    pub(crate) authority: String,
    /// The path before every request's own, without a trailing `/` (often empty).
    pub(crate) path: String,
}

impl BaseUrl {
    /// A client of this API through `transport`.
    pub(crate) fn client(
        &self,
        transport: Arc<dyn Transport>,
        timeout: Duration,
        connections: Connections,
    ) -> HttpClient {
        HttpClient::new(transport, Endpoint::Tcp(self.address), self.authority.clone(), timeout, connections)
    }
}

/// Checks `url` is an absolute `http` URL of an IP address or `localhost`,
/// without credentials, query or fragment, and splits it into a [`BaseUrl`].
///
/// Admin APIs listen on the server's loopback or private address and are
/// reached through the server's transport (over SSH for a remote server),
/// so the host is an address as the server sees it, never a name to resolve
/// here, and TLS is not spoken. Credentials are refused so that they can
/// never reach an error message (errors name the URL they failed on).
pub(crate) fn base_url(backend: &'static str, field: &'static str, url: &str) -> Result<BaseUrl> {
    let invalid = |rule: &str| {
        Error::invalid(format!("the {field} URL {rule}")).with_context("backend", backend).with_context(field, url)
    };
    let parsed = url.parse::<hyper::Uri>();
    let userinfo = match &parsed {
        Ok(uri) => uri.authority().is_some_and(|a| a.as_str().contains('@')),
        Err(_) => url.contains('@'),
    };
    if userinfo {
        // Not echoed: the value holds a credential.
        return Err(
            Error::invalid(format!("the {field} URL must not carry credentials")).with_context("backend", backend)
        );
    }
    let parsed = parsed.map_err(|e| invalid("is not a valid URL").with_source(e))?;
    match parsed.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(invalid(
                "must use http: the API is reached on the server's own address through its transport, without TLS",
            ));
        }
        _ => return Err(invalid("must be an absolute http URL")),
    }
    let Some(authority) = parsed.authority() else { return Err(invalid("must name a host")) };
    if parsed.query().is_some() || url.contains('#') {
        return Err(invalid("must not have a query or fragment"));
    }
    let host = authority.host();
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| invalid("must name an IP address or localhost (the server's own address)"))?
    };
    let address = SocketAddr::new(ip, authority.port_u16().unwrap_or(80));
    let path = parsed.path().trim_end_matches('/').to_owned();
    Ok(BaseUrl { address, authority: authority.as_str().to_owned(), path })
}

/// Whether `err`, from an [`HttpClient`], means the connection failed before
/// the whole answer came (refused, reset, closed mid-way), as opposed to a
/// timeout: the request may or may not have been applied.
pub(crate) fn connection_dropped(err: &Error) -> bool {
    err.kind() == ErrorKind::Unavailable
}

/// A short, growing, jittered pause before trying again (`attempt` from 1).
pub(crate) fn backoff(attempt: usize) -> Duration {
    let base = 5 * attempt as u64;
    Duration::from_millis(base + fastrand::u64(0..=base))
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
        let plain = base_url("t", "api", "http://127.0.0.1:8081/").unwrap();
        assert_eq!(
            plain,
            BaseUrl {
                address: "127.0.0.1:8081".parse().unwrap(),
                authority: "127.0.0.1:8081".into(),
                path: String::new()
            }
        );
        let nested = base_url("t", "api", "http://127.0.0.1:8081/caddy/").unwrap();
        assert_eq!(nested.path, "/caddy");
    }

    #[test]
    fn base_urls_name_an_address_as_the_server_sees_it() {
        let v6 = base_url("t", "api", "http://[::1]:2019").unwrap();
        assert_eq!((v6.address, v6.authority.as_str()), ("[::1]:2019".parse().unwrap(), "[::1]:2019"));
        let named = base_url("t", "api", "http://localhost:2019").unwrap();
        assert_eq!((named.address, named.authority.as_str()), ("127.0.0.1:2019".parse().unwrap(), "localhost:2019"));
        assert_eq!(base_url("t", "api", "http://10.0.0.2").unwrap().address, "10.0.0.2:80".parse().unwrap());
    }

    #[test]
    fn base_urls_that_are_not_plain_http_to_an_address_are_refused() {
        for bad in [
            "127.0.0.1:8081",
            "ftp://h/",
            "http://10.0.0.1/?q=1",
            "http://10.0.0.1/#x",
            "not a url",
            "/config",
            "http://api.example.com/",
        ] {
            let err = base_url("t", "api", bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{bad}");
        }
        let err = base_url("t", "api", "https://127.0.0.1:2019").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(err.message().contains("must use http"), "{err}");
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
