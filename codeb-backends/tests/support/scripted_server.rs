//! A tiny local HTTP server that answers from a script and records every
//! request, in the spirit of object_store's `mock_server`: the HTTP backends'
//! error paths (timeouts, 401, 500, malformed JSON, 412 retries) are tested
//! against it, and live tests use it as an upstream that answers one body.
//!
//! One request per connection (`Connection: close`), HTTP/1.1, bodies by
//! `Content-Length` only: enough for hyper, reqwest and Caddy's reverse
//! proxy. It listens on loopback TCP, or on a unix socket to stand in for
//! Podman's API.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinHandle;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long to wait before answering.
    pub delay: Duration,
    /// Close the connection instead of answering (after recording the request).
    pub cut: bool,
}

impl Reply {
    /// An answer with a JSON body.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Reply::raw(status, serde_json::to_vec(&body).unwrap()).header("Content-Type", "application/json")
    }

    /// An answer with a text body.
    pub fn text(status: u16, body: &str) -> Self {
        Reply::raw(status, body.as_bytes().to_vec())
    }

    /// An answer with exactly these body bytes.
    pub fn raw(status: u16, body: Vec<u8>) -> Self {
        Reply { status, headers: Vec::new(), body, delay: Duration::ZERO, cut: false }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Closes the connection without an answer, as a server restarting mid-request does.
    pub fn cut(mut self) -> Self {
        self.cut = true;
        self
    }

    /// Answers only after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("request body is not JSON: {e}"))
    }
}

enum Script {
    /// Answers in order; once exhausted, every request gets a 599 so a test sees it asked too much.
    Sequence(VecDeque<Reply>),
    /// Answers every request the same.
    Always(Reply),
}

/// The server; stops when dropped.
pub struct ScriptedServer {
    /// The TCP address, or `None` for a server on a unix socket.
    addr: Option<SocketAddr>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedServer {
    /// A server answering `replies` in order, on 127.0.0.1 and a free port.
    pub async fn start(replies: Vec<Reply>) -> Self {
        Self::with_script(Script::Sequence(replies.into())).await
    }

    /// A server answering every request with `200` and `body`.
    pub async fn serving(body: &str) -> Self {
        Self::with_script(Script::Always(Reply::text(200, body))).await
    }

    /// A server answering `replies` in order, on a new unix socket at `path`.
    pub async fn start_unix(path: &Path, replies: Vec<Reply>) -> Self {
        Self::serve(UnixListener::bind(path).unwrap(), None, Script::Sequence(replies.into()))
    }

    async fn with_script(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        Self::serve(listener, Some(addr), script)
    }

    /// Answers every connection `listener` accepts from `script`, each in its own task.
    fn serve(listener: impl Accept, addr: Option<SocketAddr>, script: Script) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (script, recorded) = (Arc::new(Mutex::new(script)), Arc::clone(&requests));
        let task = tokio::spawn(async move {
            while let Ok(stream) = listener.accept_one().await {
                let (script, recorded) = (Arc::clone(&script), Arc::clone(&recorded));
                tokio::spawn(async move {
                    let _ = serve_one(stream, &script, &recorded).await;
                });
            }
        });
        ScriptedServer { addr, requests, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The TCP address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("a server on a unix socket has no TCP address")
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

/// A listener the server accepts connections from: TCP or a unix socket.
trait Accept: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept_one(&self) -> impl Future<Output = std::io::Result<Self::Stream>> + Send;
}

impl Accept for TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept_one(&self) -> std::io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

impl Accept for UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept_one(&self) -> std::io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

async fn serve_one(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    script: &Mutex<Script>,
    recorded: &Mutex<Vec<Recorded>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))).collect();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    recorded.lock().unwrap().push(Recorded { method, path, headers, body });
    let reply = match &mut *script.lock().unwrap() {
        Script::Sequence(replies) => replies.pop_front().unwrap_or_else(|| Reply::text(599, "script exhausted")),
        Script::Always(reply) => reply.clone(),
    };
    tokio::time::sleep(reply.delay).await;
    if reply.cut {
        return Ok(());
    }
    let mut out =
        format!("HTTP/1.1 {} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n", reply.status, reply.body.len());
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes()).await?;
    stream.write_all(&reply.body).await?;
    stream.shutdown().await
}
