//! Whether a service answers: one HTTP GET, over TCP or a unix socket,
//! reduced to its status code.
//!
//! The stack only needs to know that each service answers its health
//! endpoint with 200, synchronously and over a unix socket too, so this is a
//! plain HTTP/1.1 request written by hand rather than a client library.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Where a probe connects.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target<'a> {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix socket path.
    Unix(&'a Path),
}

/// The longest status line accepted before giving up on a response.
const MAX_STATUS_LINE: usize = 1024;

/// The status code of `GET path` at `target`, with extra `headers`, each I/O step bounded by `timeout`.
///
/// Header values may be secrets (the PowerDNS key): no error built here contains the request.
pub(crate) fn http_status(
    target: Target<'_>,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> io::Result<u16> {
    let host = match target {
        Target::Tcp(addr) => addr.to_string(),
        Target::Unix(_) => "localhost".to_owned(),
    };
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let response = match target {
        Target::Tcp(addr) => {
            let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            exchange(&mut stream, request.as_bytes())?
        }
        Target::Unix(path) => {
            let mut stream = UnixStream::connect(path)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            exchange(&mut stream, request.as_bytes())?
        }
    };
    parse_status_line(&response)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "the answer is not an HTTP response"))
}

/// Writes `request` and reads until the end of the status line (or of the stream).
fn exchange(stream: &mut (impl Read + Write), request: &[u8]) -> io::Result<Vec<u8>> {
    stream.write_all(request)?;
    let mut response = Vec::new();
    let mut buf = [0u8; 256];
    while !response.windows(2).any(|w| w == b"\r\n") && response.len() < MAX_STATUS_LINE {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
    }
    Ok(response)
}

/// The status code of an HTTP/1.x status line at the start of `response`.
fn parse_status_line(response: &[u8]) -> Option<u16> {
    let end = response.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&response[..end]).ok()?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    let code = parts.next()?;
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn status_lines_parse_to_their_code() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 401 Unauthorized\r\n"), Some(401));
        assert_eq!(parse_status_line(b"HTTP/1.1 204\r\n"), Some(204));
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 20"), None, "an unfinished line");
    }

    #[test]
    fn a_probe_sends_the_path_and_headers_and_reads_the_code() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            conn.write_all(b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n").unwrap();
            String::from_utf8(request).unwrap()
        });
        let code = http_status(Target::Tcp(addr), "/v2/", &[("X-API-Key", "k")], Duration::from_secs(5)).unwrap();
        assert_eq!(code, 418);
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /v2/ HTTP/1.1\r\n"), "{request}");
        assert!(request.contains(&format!("Host: {addr}\r\n")), "{request}");
        assert!(request.contains("X-API-Key: k\r\n"), "{request}");
    }

    #[test]
    fn a_closed_port_is_an_error() {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        assert!(http_status(Target::Tcp(addr), "/", &[], Duration::from_secs(1)).is_err());
    }
}
