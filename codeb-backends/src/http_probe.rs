//! The real health probe: one HTTP GET per probe, over reqwest.

use async_trait::async_trait;
use codeb::engine::{BODY_EXCERPT_BYTES, HttpProbe, ProbeRequest, ProbeResponse};
use codeb::{Error, ErrorKind, Result};

/// Probes releases over plain HTTP (they listen on the host's loopback or private address).
#[derive(Debug, Clone, Default)]
pub struct ReqwestHttpProbe {
    client: reqwest::Client,
}

impl ReqwestHttpProbe {
    /// A probe with its own connection pool; redirects are not followed, so a 3xx is judged as it is.
    pub fn new() -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal("cannot build the HTTP client").with_source(e))?;
        Ok(ReqwestHttpProbe { client })
    }
}

/// The URL a probe requests; the host is an IP address and the path is validated, so nothing needs escaping.
fn url(request: &ProbeRequest) -> String {
    match request.host {
        std::net::IpAddr::V4(ip) => format!("http://{ip}:{}{}", request.port, request.path),
        std::net::IpAddr::V6(ip) => format!("http://[{ip}]:{}{}", request.port, request.path),
    }
}

#[async_trait]
impl HttpProbe for ReqwestHttpProbe {
    async fn get(&self, request: &ProbeRequest) -> Result<ProbeResponse> {
        let url = url(request);
        let failed = |e: reqwest::Error| {
            let kind = if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Unavailable };
            Error::new(kind, format!("GET {url}: {}", if e.is_timeout() { "timed out" } else { "no answer" }))
                .with_source(e)
                .with_context("backend", "http")
        };
        let mut response = self.client.get(&url).timeout(request.timeout).send().await.map_err(failed)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while body.len() < BODY_EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(failed(e)),
            }
        }
        body.truncate(BODY_EXCERPT_BYTES);
        Ok(ProbeResponse { status, body: String::from_utf8_lossy(&body).into_owned() })
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    use codeb::model::HealthPath;
    use codeb::model::Port;

    use super::*;

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
        let response = ReqwestHttpProbe::new().unwrap().get(&request(port, Duration::from_secs(5))).await.unwrap();
        assert_eq!(response, ProbeResponse { status: 503, body: "down".into() });
        assert_eq!(server.join().unwrap(), "GET /up HTTP/1.1");
    }

    #[tokio::test]
    async fn a_closed_port_is_unavailable_and_a_silent_one_times_out() {
        let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let probe = ReqwestHttpProbe::new().unwrap();
        let err = probe.get(&request(free, Duration::from_secs(5))).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let err = probe.get(&request(port, Duration::from_millis(200))).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        drop(silent);
    }
}
