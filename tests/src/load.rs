//! A load that counts failed requests, as a user's clients would see them:
//! plain HTTP/1.1 clients (hyper's connection API, no pool, no retry) sending
//! through a proxy to one host name while deploys change what serves it.
//!
//! Its shape is the one of issue 15: [`FAST_CLIENTS`] clients without pause,
//! half on one keep-alive connection each and half on a new connection per
//! request; [`SLOW_CLIENTS`] clients whose every request stays in flight for
//! about 2 s (a CGI script that sleeps); and one client that holds a single
//! keep-alive connection for the whole run, whose every loss of it is counted
//! too. Every error and every answer that is not 2xx counts;
//! nothing is sent twice.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// Clients that send without pause: half keep-alive, half a new connection each time.
pub const FAST_CLIENTS: usize = 8;
/// Clients whose requests each stay in flight for about 2 s.
pub const SLOW_CLIENTS: usize = 2;
/// The path of the endpoint that answers after about 2 s (see [`SLOW_CGI`]).
pub const SLOW_PATH: &str = "/cgi-bin/slow";
/// The CGI script busybox httpd runs for [`SLOW_PATH`]: sleeps 2 s, then answers.
pub const SLOW_CGI: &str = "#!/bin/sh\n/bin/busybox sleep 2\necho Content-Type: text/plain\necho\necho slow\n";
/// How long one request may take before it counts as timed out.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause between two requests of the client that holds one connection.
const STICKY_PAUSE: Duration = Duration::from_millis(20);

/// Which of the load's clients sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientKind {
    /// One keep-alive connection, opened again after it is lost.
    KeepAlive,
    /// A new connection per request.
    NewConnection,
    /// Requests in flight for about 2 s, on one keep-alive connection.
    Slow,
    /// One keep-alive connection that must survive the whole run.
    Sticky,
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    /// An answer that is not 2xx.
    Status(u16),
    /// The connection closed before the whole answer came.
    ClosedWithoutResponse,
    /// The connection was reset.
    Reset,
    /// No answer within the timeout.
    Timeout,
    /// The proxy could not be connected to.
    Connect,
    /// Any other error, by its message.
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status(code) => write!(f, "{code}"),
            Failure::ClosedWithoutResponse => f.write_str("closed without response"),
            Failure::Reset => f.write_str("reset"),
            Failure::Timeout => f.write_str("timeout"),
            Failure::Connect => f.write_str("connect failed"),
            Failure::Other(message) => write!(f, "other: {message}"),
        }
    }
}

/// What a load counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Requests answered 2xx, by client kind.
    pub ok: BTreeMap<ClientKind, usize>,
    /// Failed requests, by why.
    pub failures: BTreeMap<Failure, usize>,
    /// How often the client that holds one connection lost it (each loss after the first is a new connection).
    pub sticky_connections_lost: usize,
}

impl LoadReport {
    /// Every request sent (answered or failed).
    pub fn requests(&self) -> usize {
        self.ok.values().sum::<usize>() + self.failed()
    }

    /// The failed requests.
    pub fn failed(&self) -> usize {
        self.failures.values().sum()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} requests failed", self.failed(), self.requests())?;
        let failures: Vec<String> = self.failures.iter().map(|(why, n)| format!("{n} × {why}")).collect();
        if !failures.is_empty() {
            write!(f, " ({})", failures.join(", "))?;
        }
        let ok: Vec<String> = self.ok.iter().map(|(kind, n)| format!("{kind:?} {n}")).collect();
        write!(f, "; answered: {}", ok.join(", "))?;
        write!(f, "; the held connection was lost {} times", self.sticky_connections_lost)
    }
}

/// A running load; [`Load::stop`] ends it and returns what it counted.
pub struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    report: Arc<Mutex<LoadReport>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What every client of one load shares.
#[derive(Clone)]
struct Target {
    proxy: SocketAddr,
    host: String,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    report: Arc<Mutex<LoadReport>>,
}

impl Load {
    /// Starts the clients on the current tokio runtime, sending to `proxy` with `Host: host`.
    pub fn start(proxy: SocketAddr, host: &str) -> Load {
        let target = Target {
            proxy,
            host: host.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
            sent: Arc::new(AtomicUsize::new(0)),
            report: Arc::new(Mutex::new(LoadReport::default())),
        };
        let mut tasks = Vec::new();
        for n in 0..FAST_CLIENTS {
            let kind = if n % 2 == 0 { ClientKind::KeepAlive } else { ClientKind::NewConnection };
            tasks.push(tokio::spawn(client(target.clone(), kind, "/")));
        }
        for _ in 0..SLOW_CLIENTS {
            tasks.push(tokio::spawn(client(target.clone(), ClientKind::Slow, SLOW_PATH)));
        }
        tasks.push(tokio::spawn(client(target.clone(), ClientKind::Sticky, "/")));
        Load { stop: target.stop, sent: target.sent, report: target.report, tasks }
    }

    /// The requests sent so far.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    /// Ends the load once every request in flight has its answer, and returns the counts.
    pub async fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            if let Err(e) = task.await {
                panic!("a load client panicked: {e}");
            }
        }
        let report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        report.clone()
    }
}

impl Target {
    fn count(&self, kind: ClientKind, outcome: Result<(), Failure>) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(()) => *report.ok.entry(kind).or_default() += 1,
            Err(why) => *report.failures.entry(why).or_default() += 1,
        }
    }

    fn lost_sticky_connection(&self) {
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        report.sticky_connections_lost += 1;
    }
}

/// One client's loop until the load stops.
async fn client(target: Target, kind: ClientKind, path: &'static str) {
    let mut connection: Option<SendRequest<Empty<Bytes>>> = None;
    while !target.stop.load(Ordering::Relaxed) {
        let mut sender = match connection.take() {
            Some(mut sender) => match sender.ready().await {
                Ok(()) => sender,
                // Closed while idle: a keep-alive client opens another and sends
                // nothing twice; the sticky one was promised this connection.
                Err(_) => {
                    if kind == ClientKind::Sticky {
                        target.lost_sticky_connection();
                    }
                    continue;
                }
            },
            None => match connect(target.proxy).await {
                Ok(sender) => sender,
                Err(why) => {
                    target.count(kind, Err(why));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let outcome = send(&mut sender, &target.host, path).await;
        let failed = outcome.is_err();
        target.count(kind, outcome);
        if kind != ClientKind::NewConnection && !failed {
            connection = Some(sender);
        } else if failed && kind == ClientKind::Sticky {
            target.lost_sticky_connection();
        }
        if kind == ClientKind::Sticky {
            tokio::time::sleep(STICKY_PAUSE).await;
        }
    }
}

/// A new HTTP/1.1 connection to `proxy`.
async fn connect(proxy: SocketAddr) -> Result<SendRequest<Empty<Bytes>>, Failure> {
    let stream = tokio::net::TcpStream::connect(proxy).await.map_err(|e| io_failure(&e).unwrap_or(Failure::Connect))?;
    stream.set_nodelay(true).map_err(|e| Failure::Other(e.to_string()))?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| hyper_failure(&e))?;
    // The connection's own error reaches the request that was on it.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// One GET of `path` with `Host: host`, its whole body read.
async fn send(sender: &mut SendRequest<Empty<Bytes>>, host: &str, path: &str) -> Result<(), Failure> {
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, host)
        .body(Empty::new())
        .map_err(|e| Failure::Other(e.to_string()))?;
    let exchange = async {
        let response = sender.send_request(request).await.map_err(|e| hyper_failure(&e))?;
        let status = response.status();
        response.into_body().collect().await.map_err(|e| hyper_failure(&e))?;
        if status.is_success() { Ok(()) } else { Err(Failure::Status(status.as_u16())) }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.unwrap_or(Err(Failure::Timeout))
}

/// What a hyper error means for the request it ended.
fn hyper_failure(error: &hyper::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && let Some(failure) = io_failure(io)
        {
            return failure;
        }
        source = cause.source();
    }
    if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
        Failure::ClosedWithoutResponse
    } else {
        Failure::Other(error.to_string())
    }
}

/// The failures an I/O error names, if it names one.
fn io_failure(error: &std::io::Error) -> Option<Failure> {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => Some(Failure::Reset),
        ErrorKind::ConnectionRefused => Some(Failure::Connect),
        ErrorKind::UnexpectedEof => Some(Failure::ClosedWithoutResponse),
        _ => None,
    }
}
