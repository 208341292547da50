//! The transport to the machine codeb runs on.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use async_trait::async_trait;
use codeb::model::ServerName;
use codeb::{Error, ErrorKind, Result};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use super::{Command, Endpoint, Output, Stream, Transport};
use crate::atomic_file::{self, Access};

/// The local machine as a server: tokio sockets, child processes, the local
/// file system. It is [`ServerName::local`], the one server of a platform
/// that lists none.
#[derive(Clone, Debug)]
pub struct LocalTransport {
    server: ServerName,
}

impl LocalTransport {
    /// The transport to this machine.
    pub fn new() -> Self {
        LocalTransport { server: ServerName::local() }
    }

    /// The error for an I/O failure of `what` (a verb phrase) on `path`.
    fn file_error(&self, what: &str, path: &Path, source: io::Error) -> Error {
        let kind = match source.kind() {
            io::ErrorKind::NotFound => ErrorKind::NotFound,
            io::ErrorKind::PermissionDenied => ErrorKind::Forbidden,
            _ => ErrorKind::Unavailable,
        };
        Error::new(kind, format!("cannot {what} {}", path.display()))
            .with_context("server", &self.server)
            .with_context("path", path.display())
            .with_source(source)
    }

    /// Runs blocking file work off the async threads.
    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        tokio::task::spawn_blocking(work).await.map_err(|e| {
            Error::internal("a file task of the local transport panicked")
                .with_context("server", &self.server)
                .with_source(e)
        })
    }
}

impl LocalTransport {
    /// Starts `command` with its output piped, `stdin` and `stderr` as given; killed when dropped.
    fn start(&self, command: &Command, stdin: Stdio, stderr: Stdio) -> Result<tokio::process::Child> {
        let program = command.program();
        tokio::process::Command::new(program)
            .args(command.arguments())
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                let kind = match e.kind() {
                    io::ErrorKind::NotFound => ErrorKind::NotFound,
                    io::ErrorKind::PermissionDenied => ErrorKind::Forbidden,
                    _ => ErrorKind::Unavailable,
                };
                Error::new(kind, format!("cannot start {program}"))
                    .with_context("server", &self.server)
                    .with_context("program", program)
                    .with_source(e)
            })
    }
}

/// A spawned program's standard input and output as one stream; the
/// program is killed when it is dropped.
struct Conversation {
    input: tokio::process::ChildStdin,
    output: tokio::process::ChildStdout,
    _child: tokio::process::Child,
}

impl AsyncRead for Conversation {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.output).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conversation {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.input).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.input).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.input).poll_shutdown(cx)
    }
}

impl Default for LocalTransport {
    fn default() -> Self {
        LocalTransport::new()
    }
}

#[async_trait]
impl Transport for LocalTransport {
    fn server(&self) -> &ServerName {
        &self.server
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Box<dyn Stream>> {
        let stream: io::Result<Box<dyn Stream>> = match endpoint {
            Endpoint::Unix(path) => UnixStream::connect(path).await.map(|s| Box::new(s) as Box<dyn Stream>),
            Endpoint::Tcp(address) => TcpStream::connect(address).await.and_then(|s| {
                // Requests are small and answered at once: don't let Nagle hold them back.
                s.set_nodelay(true)?;
                Ok(Box::new(s) as Box<dyn Stream>)
            }),
        };
        stream.map_err(|e| {
            Error::new(ErrorKind::Unavailable, format!("cannot connect to {endpoint}"))
                .with_context("server", &self.server)
                .with_context("endpoint", endpoint)
                .with_source(e)
        })
    }

    async fn run(&self, command: &Command) -> Result<Output> {
        let program = command.program();
        let failed = |kind: ErrorKind, message: String| {
            Error::new(kind, message).with_context("server", &self.server).with_context("program", program)
        };
        let stdin = if command.stdin().is_some() { Stdio::piped() } else { Stdio::null() };
        let mut child = self.start(command, stdin, Stdio::piped())?;
        let feed = feed(child.stdin.take(), command.stdin());
        // Dropping this future (at the timeout) drops the child, which kills it.
        let exchange = async move { tokio::join!(feed, child.wait_with_output()) };
        let (fed, output) = tokio::time::timeout(command.timeout(), exchange).await.map_err(|_| {
            failed(
                ErrorKind::Timeout,
                format!("{program} did not finish within {:?}; it was killed", command.timeout()),
            )
        })?;
        fed.map_err(|e| {
            failed(ErrorKind::Unavailable, format!("cannot write to the input of {program}")).with_source(e)
        })?;
        let output = output.map_err(|e| {
            failed(ErrorKind::Unavailable, format!("cannot read the output of {program}")).with_source(e)
        })?;
        Ok(Output { status: output.status.code(), stdout: output.stdout, stderr: output.stderr })
    }

    async fn spawn(&self, command: &Command) -> Result<Box<dyn Stream>> {
        let mut child = self.start(command, Stdio::piped(), Stdio::null())?;
        match (child.stdin.take(), child.stdout.take()) {
            (Some(input), Some(output)) => Ok(Box::new(Conversation { input, output, _child: child })),
            _ => Err(Error::internal("a spawned program has no pipes").with_context("program", command.program())),
        }
    }

    async fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        let owned = path.to_owned();
        self.blocking(move || std::fs::read(owned)).await?.map_err(|e| self.file_error("read", path, e))
    }

    async fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> Result<()> {
        let (owned, contents) = (path.to_owned(), contents.to_vec());
        let write = move || atomic_file::replace_via(&owned, &temp_beside(&owned), &contents, Access::Mode(mode));
        self.blocking(write).await?.map_err(|e| self.file_error("write", path, e))
    }
}

/// A temp file name beside `path` that no concurrent writer picks too.
fn temp_beside(path: &Path) -> PathBuf {
    atomic_file::sibling(path, &format!(".tmp-{}-{:016x}", std::process::id(), fastrand::u64(..)))
}

/// Writes `input` to the child's standard input and closes it.
///
/// A program that exits without reading all of it closes the pipe: that is
/// its choice, not a failure of the transport.
async fn feed(pipe: Option<tokio::process::ChildStdin>, input: Option<&[u8]>) -> io::Result<()> {
    let (Some(mut pipe), Some(input)) = (pipe, input) else { return Ok(()) };
    match pipe.write_all(input).await.and(pipe.shutdown().await) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use super::*;

    fn transport() -> LocalTransport {
        LocalTransport::new()
    }

    #[tokio::test]
    async fn a_command_gets_its_stdin_and_reports_its_output_and_exit_code() {
        let command = Command::new("sh").args(["-c", "tr a-z A-Z; echo oops >&2; exit 3"]).with_stdin("hello");
        let output = transport().run(&command).await.unwrap();
        assert_eq!(output, Output { status: Some(3), stdout: b"HELLO".to_vec(), stderr: b"oops\n".to_vec() });
        assert!(!output.success());
        assert!(transport().run(&Command::new("true")).await.unwrap().success());
    }

    #[tokio::test]
    async fn arguments_with_shell_metacharacters_reach_the_program_literally() {
        let hostile = ["$(touch /tmp/codeb-pwned)", "a b", "; rm -rf /", "`id`", "'\"", "*", "\n"];
        let output = transport().run(&Command::new("printf").arg("%s\\0").args(hostile)).await.unwrap();
        let printed: Vec<&[u8]> = output.stdout.split(|b| *b == 0).filter(|s| !s.is_empty()).collect();
        let expected: Vec<&[u8]> = hostile.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(printed, expected);
    }

    #[tokio::test]
    async fn a_spawned_program_answers_each_line_and_ends_when_its_stream_is_dropped() {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let script = r#"echo $$; while read -r line; do echo "got $line"; done"#;
        let mut stream = BufReader::new(transport().spawn(&Command::new("sh").args(["-c", script])).await.unwrap());
        let mut pid = String::new();
        stream.read_line(&mut pid).await.unwrap();
        for line in ["one", "two words"] {
            stream.get_mut().write_all(format!("{line}\n").as_bytes()).await.unwrap();
            let mut answer = String::new();
            stream.read_line(&mut answer).await.unwrap();
            assert_eq!(answer, format!("got {line}\n"));
        }
        drop(stream);
        wait_until_gone(pid.trim()).await;
        let missing = transport().spawn(&Command::new("no-such-program-here")).await.err().unwrap();
        assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    }

    #[tokio::test]
    async fn a_command_past_its_timeout_is_a_timeout_and_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("echo $$ > {}; exec sleep 30", pid_file.display());
        let command = Command::new("sh").args(["-c", &script]).with_timeout(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let err = transport().run(&command).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
        wait_until_gone(&pid).await;
    }

    /// Waits until process `pid` is gone, or a zombie until the runtime reaps it.
    async fn wait_until_gone(pid: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => break,
                Ok(stat) if stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')) => break,
                Ok(stat) => assert!(std::time::Instant::now() < deadline, "still running: {stat}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_missing_program_is_not_found() {
        let err = transport().run(&Command::new("codeb-surely-no-such-program")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert_eq!(err.context_value("server"), Some("local"));
        assert_eq!(err.context_value("program"), Some("codeb-surely-no-such-program"));
    }

    #[tokio::test]
    async fn a_program_that_ignores_its_input_is_not_a_failure() {
        let output = transport().run(&Command::new("true").with_stdin(vec![b'x'; 1 << 20])).await.unwrap();
        assert!(output.success());
    }

    #[tokio::test]
    async fn a_written_file_has_the_mode_asked_for_and_replaces_the_old_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unit.conf");
        std::fs::write(&path, "old contents that are longer").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        transport().write_file(&path, b"new", 0o600).await.unwrap();
        assert_eq!(transport().read_file(&path).await.unwrap(), b"new");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        transport().write_file(&path, b"wide", 0o755).await.unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o755);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["unit.conf"], "no temp file is left behind");
    }

    #[tokio::test]
    async fn a_replace_is_atomic_for_concurrent_readers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc");
        let (a, b) = (vec![b'a'; 256 * 1024], vec![b'b'; 256 * 1024]);
        transport().write_file(&path, &a, 0o644).await.unwrap();
        let reader = {
            let (path, a, b) = (path.clone(), a.clone(), b.clone());
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let seen = std::fs::read(&path).unwrap();
                    assert!(seen == a || seen == b, "a torn read of {} bytes", seen.len());
                }
            })
        };
        for i in 0..20 {
            transport().write_file(&path, if i % 2 == 0 { &b } else { &a }, 0o644).await.unwrap();
        }
        reader.join().unwrap();
    }

    #[tokio::test]
    async fn reading_or_writing_where_nothing_is_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = transport().read_file(&missing).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert_eq!(err.context_value("path"), Some(missing.display().to_string().as_str()));
        let err = transport().write_file(&missing.join("file"), b"x", 0o600).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    }

    #[tokio::test]
    async fn proc_files_read_whole() {
        let stat = transport().read_file(Path::new("/proc/self/stat")).await.unwrap();
        assert!(stat.ends_with(b"\n"), "{}", String::from_utf8_lossy(&stat));
    }

    #[tokio::test]
    async fn connects_to_unix_and_tcp_listeners() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("api.sock");
        let unix = tokio::net::UnixListener::bind(&socket).unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = tcp.local_addr().unwrap();
        async fn echo(mut conn: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin) {
            let mut buf = [0u8; 4];
            conn.read_exact(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
        }
        let unix_echo = tokio::spawn(async move { echo(unix.accept().await.unwrap().0).await });
        let tcp_echo = tokio::spawn(async move { echo(tcp.accept().await.unwrap().0).await });
        for endpoint in [Endpoint::Unix(socket), Endpoint::Tcp(address)] {
            let mut stream = transport().connect(&endpoint).await.unwrap();
            stream.write_all(b"ping").await.unwrap();
            let mut answer = [0u8; 4];
            stream.read_exact(&mut answer).await.unwrap();
            assert_eq!(&answer, b"ping", "{endpoint}");
        }
        unix_echo.await.unwrap();
        tcp_echo.await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_or_missing_endpoint_is_unavailable_naming_it() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let dir = tempfile::tempdir().unwrap();
        for endpoint in [Endpoint::Tcp(free), Endpoint::Unix(dir.path().join("none.sock"))] {
            let err = transport().connect(&endpoint).await.err().unwrap();
            assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
            assert_eq!(err.context_value("endpoint"), Some(endpoint.to_string().as_str()));
            assert_eq!(err.context_value("server"), Some("local"));
        }
    }
}
