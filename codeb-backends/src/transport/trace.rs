//! What `we -v` shows of backend work: a `tracing` event per exchange with a
//! server, naming what was asked and how it ended.
//!
//! Never a body, a header or a program's input: that is where secrets travel
//! (a container's env, the PowerDNS key, a password fed on stdin). Paths,
//! argv and file names carry names only, as [`super::Command`] promises.
//! Every event has the target [`TARGET`], so a front end can turn them on
//! without the libraries' own logging.

use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use codeb::Result;
use codeb::model::ServerName;

use super::{Command, Endpoint, Output, Stream, Transport};

/// The target of every event codeb's backends emit.
pub const TARGET: &str = "codeb::backend";

/// Records one HTTP exchange: `request_line` is `METHOD /path?query`, and
/// `outcome` the answer's status or why there was none.
pub(crate) fn http<E: Display>(
    server: &ServerName,
    endpoint: &Endpoint,
    request_line: &str,
    started: Instant,
    outcome: std::result::Result<u16, E>,
) {
    let ms = started.elapsed().as_millis();
    match outcome {
        Ok(status) => tracing::debug!(target: TARGET, %server, %endpoint, "{request_line} -> {status} in {ms} ms"),
        Err(e) => tracing::debug!(target: TARGET, %server, %endpoint, "{request_line} -> failed in {ms} ms: {e}"),
    }
}

/// Records one exchange with a control endpoint by the names of the request
/// and the answer: their contents hold the SSOT and secret values.
pub(crate) fn control(
    server: &ServerName,
    op: &str,
    started: Instant,
    answer: &Result<crate::control::protocol::Answer>,
) {
    let ms = started.elapsed().as_millis();
    match answer {
        Ok(a) => tracing::debug!(target: TARGET, %server, "control {op} -> {} in {ms} ms", a.name()),
        Err(e) => tracing::debug!(target: TARGET, %server, "control {op} -> failed in {ms} ms: {}", e.kind()),
    }
}

/// A transport that records what it is asked to do, then asks `inner`.
#[derive(Debug)]
pub(crate) struct Traced {
    inner: Arc<dyn Transport>,
}

impl Traced {
    /// Records the work of `inner`.
    pub(crate) fn new(inner: Arc<dyn Transport>) -> Self {
        Traced { inner }
    }

    fn record<T>(&self, what: &str, started: Instant, result: &Result<T>, done: impl FnOnce(&T) -> String) {
        let (server, ms) = (self.inner.server(), started.elapsed().as_millis());
        match result {
            Ok(value) => tracing::debug!(target: TARGET, %server, "{what} -> {} in {ms} ms", done(value)),
            Err(e) => tracing::debug!(target: TARGET, %server, "{what} -> failed in {ms} ms: {}", e.kind()),
        }
    }
}

#[async_trait]
impl Transport for Traced {
    fn server(&self) -> &ServerName {
        self.inner.server()
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Box<dyn Stream>> {
        // An exchange over the stream is recorded by its client (see [`http`]).
        self.inner.connect(endpoint).await
    }

    async fn run(&self, command: &Command) -> Result<Output> {
        let started = Instant::now();
        let result = self.inner.run(command).await;
        let status = |output: &Output| output.status.map_or("killed by a signal".to_owned(), |c| format!("exit {c}"));
        self.record(&format!("run {:?}", command.argv()), started, &result, status);
        result
    }

    async fn spawn(&self, command: &Command) -> Result<Box<dyn Stream>> {
        let started = Instant::now();
        let result = self.inner.spawn(command).await;
        self.record(&format!("start {:?}", command.argv()), started, &result, |_| "running".to_owned());
        result
    }

    async fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        // The probes read /proc on every check: only -vv shows these.
        let result = self.inner.read_file(path).await;
        let (server, path) = (self.inner.server(), path.display());
        match &result {
            Ok(bytes) => tracing::trace!(target: TARGET, %server, "read {path} -> {} bytes", bytes.len()),
            Err(e) => tracing::trace!(target: TARGET, %server, "read {path} -> failed: {}", e.kind()),
        }
        result
    }

    async fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> Result<()> {
        let started = Instant::now();
        let result = self.inner.write_file(path, contents, mode).await;
        let what = format!("write {} ({} bytes, mode {mode:o})", path.display(), contents.len());
        self.record(&what, started, &result, |()| "done".to_owned());
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use hyper::Method;
    use hyper::header::{AUTHORIZATION, HeaderValue};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;
    use crate::transport::LocalTransport;
    use crate::transport::http::{Connections, HttpClient, Request};

    /// Everything the subscriber wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[tokio::test]
    async fn an_exchange_and_a_program_are_traced_by_name_never_by_body_header_or_input() {
        const SECRET: &str = "s3cr3t-value-never-traced";
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let _ = conn.read(&mut request).await.unwrap();
            let answer = format!("HTTP/1.1 201 Created\r\nContent-Length: {}\r\n\r\n{SECRET}", SECRET.len());
            conn.write_all(answer.as_bytes()).await.unwrap();
        });
        let captured = Captured::default();
        let subscriber =
            tracing_subscriber::fmt().with_writer(captured.clone()).with_max_level(tracing::Level::TRACE).finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let transport: Arc<dyn Transport> = Arc::new(Traced::new(Arc::new(LocalTransport::new())));
        let client = HttpClient::new(
            Arc::clone(&transport),
            Endpoint::Tcp(address),
            address.to_string(),
            std::time::Duration::from_secs(5),
            Connections::FreshEachTime,
        );
        let request = Request::new(Method::POST, "/secrets/create?name=db")
            .header(AUTHORIZATION, HeaderValue::from_static(SECRET))
            .json(format!("{{\"value\":\"{SECRET}\"}}").into_bytes());
        client.send(request).await.unwrap();
        transport.run(&Command::new("cat").with_stdin(SECRET)).await.unwrap();

        let written = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(written.contains("POST /secrets/create?name=db -> 201 in "), "{written}");
        assert!(written.contains("run [\"cat\"] -> exit 0 in "), "{written}");
        assert!(!written.contains(SECRET), "a secret reached the trace: {written}");
    }
}
