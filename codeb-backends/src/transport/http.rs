//! HTTP/1.1 over a transport: hyper's client with a connector that opens every
//! connection through [`Transport::connect`] to one endpoint, so an HTTP
//! backend speaks to its server's socket wherever that server is.
//!
//! [`HttpClient`] is the small client the admin APIs and the health probe
//! use; [`hyper_client`] is the bare hyper client under it, for bollard.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use codeb::model::ServerName;
use codeb::{Error, ErrorKind, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use super::{Endpoint, Stream, Transport, root_cause, trace};

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

impl Connection for Box<dyn Stream> {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// Opens hyper's connections through a transport, always to one endpoint
/// (the request's URI names the authority for the `Host` header only).
#[derive(Clone, Debug)]
pub(crate) struct Connector {
    transport: Arc<dyn Transport>,
    endpoint: Endpoint,
}

impl Connector {
    /// A connector to `endpoint` through `transport`.
    pub(crate) fn new(transport: Arc<dyn Transport>, endpoint: Endpoint) -> Self {
        Connector { transport, endpoint }
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Box<dyn Stream>>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _destination: Uri) -> Self::Future {
        let (transport, endpoint) = (Arc::clone(&self.transport), self.endpoint.clone());
        Box::pin(async move { transport.connect(&endpoint).await.map(TokioIo::new) })
    }
}

/// hyper's HTTP/1.1 client over `connector`, sending bodies of type `B`.
pub(crate) fn hyper_client<B>(connector: Connector, connections: Connections) -> Client<Connector, B>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let mut builder = Client::builder(TokioExecutor::new());
    builder.pool_timer(TokioTimer::new());
    if connections == Connections::FreshEachTime {
        builder.pool_max_idle_per_host(0);
    }
    builder.build(connector)
}

/// What a failure of hyper's client means: `Unavailable`, or the kind the
/// transport gave a failed connect, and a message naming `endpoint` and the
/// root cause (hyper's own errors name only their category).
pub(crate) fn client_failure(err: &hyper_util::client::legacy::Error, endpoint: &Endpoint) -> (ErrorKind, String) {
    let cause = root_cause(err);
    if err.is_connect() {
        let transport_error = std::iter::successors(Some(err as &(dyn StdError + 'static)), |&e| e.source())
            .find_map(|e| e.downcast_ref::<Error>());
        let kind = transport_error.map_or(ErrorKind::Unavailable, Error::kind);
        (kind, format!("cannot connect to {endpoint}: {cause}"))
    } else {
        (ErrorKind::Unavailable, format!("the connection to {endpoint} was lost before an answer came: {cause}"))
    }
}

/// One request to an [`HttpClient`]'s endpoint.
///
/// Its `Debug` hides header values marked sensitive (the PowerDNS key).
#[derive(Debug)]
pub(crate) struct Request {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Request {
    /// `method path` (path and query, starting with `/`), no headers, no body.
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        Request { method, path: path.into(), headers: HeaderMap::new(), body: Bytes::new() }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets a JSON body.
    pub(crate) fn json(self, body: Vec<u8>) -> Self {
        let mut request = self.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        request.body = body.into();
        request
    }
}

/// An answer: the status, the headers and the body (or its start).
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// An HTTP/1.1 client of one endpoint reached through a transport.
///
/// Every exchange (connecting, sending, reading the answer) is bounded by one
/// timeout. Failures are `codeb::Error`s naming the server and the endpoint:
///
/// - `Timeout`: no whole answer within the timeout;
/// - `Unavailable`: the connection could not be made or was lost before the
///   whole answer came, so a change may or may not have been applied (the
///   admin APIs' retry logic keys on this);
/// - `Internal`: the request could not be built.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
    server: ServerName,
    endpoint: Endpoint,
    authority: String,
    timeout: Duration,
}

impl HttpClient {
    /// A client of `endpoint` through `transport`, naming `authority` in the
    /// request URIs and `Host` headers (`127.0.0.1:2019`, `localhost:8081`).
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        endpoint: Endpoint,
        authority: impl Into<String>,
        timeout: Duration,
        connections: Connections,
    ) -> Self {
        let server = transport.server().clone();
        let client = hyper_client(Connector::new(transport, endpoint.clone()), connections);
        HttpClient { client, server, endpoint, authority: authority.into(), timeout }
    }

    /// Sends `request` and reads the whole answer.
    pub(crate) async fn send(&self, request: Request) -> Result<Response> {
        self.exchange(request, None).await
    }

    /// Sends `request` and reads at most `limit` bytes of the answer's body;
    /// the rest is never read (the connection is closed).
    pub(crate) async fn send_reading_at_most(&self, request: Request, limit: usize) -> Result<Response> {
        self.exchange(request, Some(limit)).await
    }

    async fn exchange(&self, request: Request, limit: Option<usize>) -> Result<Response> {
        let uri: Uri = format!("http://{}{}", self.authority, request.path).parse().map_err(|e| {
            self.error(ErrorKind::Internal, "cannot build the request URI".to_owned())
                .with_context("path", request.path.escape_debug())
                .with_source(e)
        })?;
        let request_line = format!("{} {}", request.method, request.path);
        let mut outgoing = hyper::Request::new(Full::new(request.body));
        *outgoing.method_mut() = request.method;
        *outgoing.uri_mut() = uri;
        *outgoing.headers_mut() = request.headers;
        let work = async {
            let response = self.client.request(outgoing).await.map_err(|e| {
                let (kind, message) = client_failure(&e, &self.endpoint);
                self.error(kind, message).with_source(e)
            })?;
            let (parts, body) = response.into_parts();
            let body = read_body(body, limit).await.map_err(|e| {
                let message = format!("the connection to {} was lost while the answer came: {e}", self.endpoint);
                self.error(ErrorKind::Unavailable, message).with_source(e)
            })?;
            Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body })
        };
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, work).await.unwrap_or_else(|_| {
            Err(self.error(ErrorKind::Timeout, format!("no answer from {} within {:?}", self.endpoint, self.timeout)))
        });
        let outcome = result.as_ref().map(|response| response.status).map_err(Error::kind);
        trace::http(&self.server, &self.endpoint, &request_line, started, outcome);
        result
    }

    fn error(&self, kind: ErrorKind, message: String) -> Error {
        Error::new(kind, message).with_context("server", &self.server).with_context("endpoint", &self.endpoint)
    }
}

/// The body, or its first `limit` bytes.
async fn read_body(mut body: Incoming, limit: Option<usize>) -> Result<Bytes, hyper::Error> {
    let Some(limit) = limit else { return Ok(body.collect().await?.to_bytes()) };
    let mut read = Vec::new();
    while read.len() < limit {
        let Some(frame) = body.frame().await else { break };
        if let Ok(data) = frame?.into_data() {
            read.extend_from_slice(&data);
        }
    }
    read.truncate(limit);
    Ok(read.into())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::transport::LocalTransport;

    fn client(address: std::net::SocketAddr, timeout: Duration) -> HttpClient {
        let transport: Arc<dyn Transport> = Arc::new(LocalTransport::new());
        HttpClient::new(transport, Endpoint::Tcp(address), address.to_string(), timeout, Connections::FreshEachTime)
    }

    /// Answers one connection with `answer` and returns the request it read.
    async fn serve_once(answer: &'static [u8]) -> (std::net::SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            while !request.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8; 1];
                if conn.read(&mut byte).await.unwrap() == 0 {
                    break;
                }
                request.push(byte[0]);
            }
            conn.write_all(answer).await.unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (address, server)
    }

    #[tokio::test]
    async fn an_answer_has_its_status_headers_and_body_and_the_request_names_the_authority() {
        let (address, server) =
            serve_once(b"HTTP/1.1 201 Created\r\nETag: \"x\"\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
                .await;
        let request = Request::new(Method::GET, "/config/apps?x=1");
        let response = client(address, Duration::from_secs(5)).send(request).await.unwrap();
        assert_eq!((response.status, response.body.as_ref()), (201, b"hello".as_ref()));
        assert_eq!(response.headers.get("etag").unwrap(), "\"x\"");
        let seen = server.await.unwrap();
        assert!(seen.starts_with("GET /config/apps?x=1 HTTP/1.1\r\n"), "{seen}");
        assert!(seen.to_ascii_lowercase().contains(&format!("host: {address}\r\n")), "{seen}");
    }

    #[tokio::test]
    async fn a_body_can_be_read_only_in_part() {
        let (address, _server) =
            serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\nabcdef").await;
        let request = Request::new(Method::GET, "/up");
        let response = client(address, Duration::from_secs(5)).send_reading_at_most(request, 4).await.unwrap();
        assert_eq!(response.body.as_ref(), b"abcd");
    }

    #[tokio::test]
    async fn a_silent_server_is_a_timeout_naming_the_endpoint() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let err = client(address, Duration::from_millis(200)).send(Request::new(Method::GET, "/")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert_eq!(err.context_value("endpoint"), Some(format!("tcp:{address}").as_str()));
        drop(listener);
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable_with_the_cause() {
        let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let err = client(address, Duration::from_secs(5)).send(Request::new(Method::GET, "/")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(err.message().starts_with(&format!("cannot connect to tcp:{address}: ")), "{err}");
        assert!(err.message().to_lowercase().contains("refused"), "{err}");
        assert_eq!(err.context_value("server"), Some("local"));
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_answer_is_unavailable() {
        let (address, _server) = serve_once(b"").await;
        let err = client(address, Duration::from_secs(5)).send(Request::new(Method::GET, "/")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(err.message().contains("was lost"), "{err}");
    }
}
