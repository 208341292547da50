//! The real health probe: one HTTP GET per probe, from the server's side.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use codeb::Result;
use codeb::engine::{BODY_EXCERPT_BYTES, HttpProbe, ProbeRequest, ProbeResponse};
use hyper::Method;

use crate::transport::http::{Connections, HttpClient, Request};
use crate::transport::{Endpoint, Transport};

/// Probes releases over plain HTTP through the transport of their server, so
/// an address on that server's loopback or private network is probed from
/// where it is reachable.
///
/// Each probe is a fresh connection (a release is judged on accepting one),
/// redirects are not followed (a 3xx is judged as it is), and at most
/// [`BODY_EXCERPT_BYTES`] of the body are read.
#[derive(Debug, Clone)]
pub struct TransportHttpProbe {
    transport: Arc<dyn Transport>,
}

impl TransportHttpProbe {
    /// A probe of the server `transport` reaches.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        TransportHttpProbe { transport }
    }
}

#[async_trait]
impl HttpProbe for TransportHttpProbe {
    async fn get(&self, request: &ProbeRequest) -> Result<ProbeResponse> {
        let address = SocketAddr::new(request.host, request.port.get());
        // The host is an IP address and the path is validated: nothing needs escaping.
        let client = HttpClient::new(
            Arc::clone(&self.transport),
            Endpoint::Tcp(address),
            address.to_string(),
            request.timeout,
            Connections::FreshEachTime,
        );
        let answer = client
            .send_reading_at_most(Request::new(Method::GET, request.path.as_str()), BODY_EXCERPT_BYTES)
            .await
            .map_err(|e| e.with_context("backend", "http"))?;
        Ok(ProbeResponse { status: answer.status, body: String::from_utf8_lossy(&answer.body).into_owned() })
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    use codeb::model::HealthPath;
    use codeb::model::Port;

    use codeb::ErrorKind;

    use super::*;
    use crate::transport::LocalTransport;

    fn probe() -> TransportHttpProbe {
        TransportHttpProbe::new(Arc::new(LocalTransport::new()))
    }

    fn request(port: u16, timeout: Duration) -> ProbeRequest {
        ProbeRequest {
            host: [127, 0, 0, 1].into(),
            port: Port::new(port).unwrap(),
            path: HealthPath::parse("/up").unwrap(),
            timeout,
        }
    }

    /// Answers one connection with `response`, returning the request line it got.
    fn serve_once(response: &'static str) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = conn.read(&mut buf).unwrap();
            conn.write_all(response.as_bytes()).unwrap();
            String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
        });
        (port, handle)
    }

    #[tokio::test]
    async fn reads_the_status_and_an_excerpt_of_the_body() {
        let (port, server) =
            serve_once("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nconnection: close\r\n\r\ndown");
        let response = probe().get(&request(port, Duration::from_secs(5))).await.unwrap();
        assert_eq!(response, ProbeResponse { status: 503, body: "down".into() });
        assert_eq!(server.join().unwrap(), "GET /up HTTP/1.1");
    }

    #[tokio::test]
    async fn a_closed_port_is_unavailable_and_a_silent_one_times_out() {
        let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let probe = probe();
        let err = probe.get(&request(free, Duration::from_secs(5))).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let err = probe.get(&request(port, Duration::from_millis(200))).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        drop(silent);
    }
}
