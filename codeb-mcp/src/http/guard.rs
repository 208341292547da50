//! The middleware in front of the MCP endpoint: a request reaches the MCP
//! service only if it carries the bearer token (401 otherwise) and asks for
//! the MCP path (404 otherwise). The MCP service then checks that the
//! `Host` is one of the server's names (DNS rebinding) and that an `Origin`,
//! when present, is allowed (403 otherwise): rmcp's own validation, set up
//! in [`super::bind`].

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
    /// The token every request must carry.
    pub token: BearerToken,
}

/// Why a request was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No valid bearer token (401).
    Token,
    /// Not the MCP endpoint (404).
    Path,
}

impl Refusal {
    /// The HTTP status answered.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Token => StatusCode::UNAUTHORIZED,
            Refusal::Path => StatusCode::NOT_FOUND,
        }
    }

    fn message(self) -> &'static str {
        match self {
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
        let authorized = headers.get_all(header::AUTHORIZATION).iter().any(|v| self.token.accepts(v.as_bytes()));
        if !authorized {
            return Err(Refusal::Token);
        }
        if uri.path() != MCP_PATH {
            return Err(Refusal::Path);
        }
        Ok(())
    }
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
        Policy { token: BearerToken::parse(&"k".repeat(40)).unwrap() }
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
    fn a_request_with_the_token_to_the_mcp_path_passes() {
        assert_eq!(policy().check(&uri(), &headers(&[("authorization", AUTH)])), Ok(()));
    }

    #[test]
    fn missing_or_wrong_tokens_get_401_with_the_scheme() {
        let p = policy();
        assert_eq!(p.check(&uri(), &headers(&[])), Err(Refusal::Token));
        assert_eq!(p.check(&uri(), &headers(&[("authorization", "Bearer nope")])), Err(Refusal::Token));
        assert_eq!(p.check(&"/other".parse().unwrap(), &headers(&[])), Err(Refusal::Token), "no path is probed");
        assert_eq!(Refusal::Token.status(), StatusCode::UNAUTHORIZED);
        assert!(Refusal::Token.response().headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn only_the_mcp_path_is_served() {
        let p = policy();
        assert_eq!(p.check(&"/other".parse().unwrap(), &headers(&[("authorization", AUTH)])), Err(Refusal::Path));
    }
}
