//! The middleware in front of the MCP endpoint: a request reaches the MCP
//! service only if its `Host` is one of the configured names (DNS
//! rebinding), its `Origin`, when present, is allowed (403 otherwise), and it
//! carries the bearer token (401 otherwise). Checked in that order.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Uri, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};

use crate::http::token::BearerToken;

/// The path the MCP endpoint is served at.
pub const MCP_PATH: &str = "/mcp";

/// The response body of every service here (rmcp's).
pub type Body = BoxBody<Bytes, Infallible>;

/// Who may talk to the endpoint.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Accepted `Host` values: `name:port`, or `name` for any port (lowercase).
    pub hosts: Vec<String>,
    /// Accepted `Origin` values (`scheme://host:port`, lowercase); a request without `Origin` passes.
    pub origins: Vec<String>,
    /// The token every request must carry.
    pub token: BearerToken,
}

/// Why a request was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The `Host` is not one of the configured names (403).
    Host,
    /// The `Origin` is not allowed (403).
    Origin,
    /// No valid bearer token (401).
    Token,
    /// Not the MCP endpoint (404).
    Path,
}

impl Refusal {
    /// The HTTP status answered.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Host | Refusal::Origin => StatusCode::FORBIDDEN,
            Refusal::Token => StatusCode::UNAUTHORIZED,
            Refusal::Path => StatusCode::NOT_FOUND,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::Host => "Forbidden: this Host is not one of the server's names\n",
            Refusal::Origin => "Forbidden: this Origin is not allowed\n",
            Refusal::Token => "Unauthorized: send Authorization: Bearer <token>\n",
            Refusal::Path => "Not Found: the MCP endpoint is /mcp\n",
        }
    }

    /// The response sent instead of the MCP service's.
    pub fn response(self) -> Response<Body> {
        let mut response = Response::new(Full::new(Bytes::from_static(self.message().as_bytes())).boxed());
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
        if self == Refusal::Token {
            headers.insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl Policy {
    /// Checks one request's target and headers.
    pub fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .ok_or(Refusal::Host)?;
        if !self.host_allowed(host) {
            return Err(Refusal::Host);
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().map_err(|_| Refusal::Origin)?.trim_end_matches('/').to_ascii_lowercase();
            if !self.origins.contains(&origin) {
                return Err(Refusal::Origin);
            }
        }
        let authorized = headers.get_all(header::AUTHORIZATION).iter().any(|v| self.token.accepts(v.as_bytes()));
        if !authorized {
            return Err(Refusal::Token);
        }
        if uri.path() != MCP_PATH {
            return Err(Refusal::Path);
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let name = host_name(&host);
        self.hosts.iter().any(|allowed| *allowed == host || (!has_port(allowed) && allowed == name))
    }
}

/// Whether a `Host` value names a port (`[::1]:80`, `a:80`).
fn has_port(host: &str) -> bool {
    if host.starts_with('[') { host.contains("]:") } else { host.contains(':') }
}

/// The name part of a `Host` value (`[::1]:80` -> `[::1]`, `a:80` -> `a`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// The MCP service behind the [`Policy`].
#[derive(Clone, Debug)]
pub struct Guard<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S> Guard<S> {
    /// Puts `inner` behind `policy`.
    pub fn new(inner: S, policy: Policy) -> Self {
        Guard { inner, policy: Arc::new(policy) }
    }
}

impl<S, B> tower_service::Service<Request<B>> for Guard<S>
where
    S: tower_service::Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.policy.check(request.uri(), request.headers()) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(refusal) => {
                eprintln!(
                    "codeb-mcp: refused {} {} with {}: {refusal:?}",
                    request.method(),
                    request.uri().path(),
                    refusal.status().as_u16()
                );
                Box::pin(std::future::ready(Ok(refusal.response())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            hosts: vec!["127.0.0.1:8080".into(), "localhost:8080".into(), "mcp.internal".into()],
            origins: vec!["http://localhost:8080".into()],
            token: BearerToken::parse(&"k".repeat(40)).unwrap(),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    fn uri() -> Uri {
        "/mcp".parse().unwrap()
    }

    const AUTH: &str = "Bearer kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";

    #[test]
    fn a_request_to_a_configured_host_with_the_token_passes() {
        let p = policy();
        assert_eq!(p.check(&uri(), &headers(&[("host", "127.0.0.1:8080"), ("authorization", AUTH)])), Ok(()));
        assert_eq!(p.check(&uri(), &headers(&[("host", "LOCALHOST:8080"), ("authorization", AUTH)])), Ok(()));
        assert_eq!(p.check(&uri(), &headers(&[("host", "mcp.internal:9"), ("authorization", AUTH)])), Ok(()));
        let same_origin =
            headers(&[("host", "localhost:8080"), ("origin", "http://localhost:8080"), ("authorization", AUTH)]);
        assert_eq!(p.check(&uri(), &same_origin), Ok(()));
    }

    #[test]
    fn other_hosts_are_refused_before_anything_else() {
        let p = policy();
        for host in ["evil.example:8080", "127.0.0.1:8081", "localhost", "127.0.0.1.evil.example:8080"] {
            assert_eq!(
                p.check(&uri(), &headers(&[("host", host), ("authorization", AUTH)])),
                Err(Refusal::Host),
                "{host}"
            );
        }
        assert_eq!(p.check(&uri(), &headers(&[("authorization", AUTH)])), Err(Refusal::Host));
    }

    #[test]
    fn foreign_origins_get_403_and_missing_tokens_401() {
        let p = policy();
        let evil = headers(&[("host", "localhost:8080"), ("origin", "http://evil.example"), ("authorization", AUTH)]);
        assert_eq!(p.check(&uri(), &evil), Err(Refusal::Origin));
        assert_eq!(Refusal::Origin.status(), StatusCode::FORBIDDEN);
        let null = headers(&[("host", "localhost:8080"), ("origin", "null"), ("authorization", AUTH)]);
        assert_eq!(p.check(&uri(), &null), Err(Refusal::Origin));
        assert_eq!(p.check(&uri(), &headers(&[("host", "localhost:8080")])), Err(Refusal::Token));
        let wrong = headers(&[("host", "localhost:8080"), ("authorization", "Bearer nope")]);
        assert_eq!(p.check(&uri(), &wrong), Err(Refusal::Token));
        assert_eq!(Refusal::Token.status(), StatusCode::UNAUTHORIZED);
        assert!(Refusal::Token.response().headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn only_the_mcp_path_is_served() {
        let p = policy();
        let ok = headers(&[("host", "localhost:8080"), ("authorization", AUTH)]);
        assert_eq!(p.check(&"/other".parse().unwrap(), &ok), Err(Refusal::Path));
    }
}
