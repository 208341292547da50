//! Which TCP ports listen on a server, from its kernel's socket tables.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use codeb::model::{Port, ServerName};
use codeb::ports::{Listener, ListenerOwner, PortProbe};
use codeb::{Error, ErrorKind, Result};

use crate::transport::Transport;

/// The kernel's IPv4 TCP socket table.
const PROC_NET_TCP: &str = "/proc/net/tcp";
/// The kernel's IPv6 TCP socket table; absent when IPv6 is disabled.
const PROC_NET_TCP6: &str = "/proc/net/tcp6";
/// The `st` column's value for a listening socket.
const TCP_LISTEN: &str = "0A";

/// Tells which TCP ports listen on one server (Linux), so the port registry
/// never hands out a port some process already holds.
///
/// It reads the socket tables of that server's network namespace through the
/// server's transport and cannot say whose a listener is (every owner is
/// [`ListenerOwner::Unknown`]; wrap it in
/// [`codeb::ports::RuntimeAttributedProbe`] to attribute container ports).
/// It answers only for the server its transport reaches
/// ([`Transport::server`]); any other is `Unavailable`.
#[derive(Debug, Clone)]
pub struct ProcPortProbe {
    transport: Arc<dyn Transport>,
}

impl ProcPortProbe {
    /// A probe of the server `transport` reaches.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        ProcPortProbe { transport }
    }

    /// The text of one socket table; `None` for an optional one that is
    /// absent (the IPv6 table when IPv6 is disabled).
    async fn table(&self, path: &str, required: bool) -> Result<Option<String>> {
        match self.transport.read_file(Path::new(path)).await {
            Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
                Error::internal("the kernel's TCP socket table is not text").with_context("path", path).with_source(e)
            }),
            Err(e) if !required && e.kind() == ErrorKind::NotFound => Ok(None),
            // A table that cannot be read makes the probe unavailable, whatever the reason.
            Err(e) => Err(Error::new(ErrorKind::Unavailable, "cannot read the kernel's TCP socket table")
                .with_context("server", self.transport.server())
                .with_context("path", path)
                .with_source(e)),
        }
    }
}

#[async_trait]
impl PortProbe for ProcPortProbe {
    async fn listeners(&self, server: &ServerName) -> Result<Vec<Listener>> {
        let probed = self.transport.server();
        if server != probed {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "this port probe sees only server {probed}; server {server} needs a probe over its own transport"
                ),
            )
            .with_context("server", server));
        }
        let mut ports = BTreeSet::new();
        // The kernel writes each table out on every read, which takes a while with many sockets: both at once.
        let tables = tokio::try_join!(self.table(PROC_NET_TCP, true), self.table(PROC_NET_TCP6, false))?;
        for (path, table) in [(PROC_NET_TCP, tables.0), (PROC_NET_TCP6, tables.1)] {
            if let Some(text) = table {
                ports.extend(parse_proc_net_tcp(&text).map_err(|e| e.with_context("path", path))?);
            }
        }
        Ok(ports.into_iter().map(|port| Listener { port, owner: ListenerOwner::Unknown }).collect())
    }
}

/// The local ports of the listening sockets in the text of `/proc/net/tcp`
/// or `/proc/net/tcp6`, in table order (a port may repeat).
///
/// A row that does not have the kernel's shape is an error rather than
/// skipped: a missed listener could be handed out as a free port.
fn parse_proc_net_tcp(text: &str) -> Result<Vec<Port>> {
    let mut ports = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let slot = fields.next();
        if slot.is_none() || (number == 0 && slot == Some("sl")) {
            continue; // a blank line or the header
        }
        let (Some(local), Some(_remote), Some(state)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(malformed(number, line));
        };
        if state != TCP_LISTEN {
            continue;
        }
        let port = local
            .rsplit_once(':')
            .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok())
            .ok_or_else(|| malformed(number, line))?;
        // Port 0 never listens; the kernel shows it only for unbound sockets.
        if let Ok(port) = Port::new(port) {
            ports.push(port);
        }
    }
    Ok(ports)
}

/// A socket table row this probe does not understand.
fn malformed(number: usize, line: &str) -> Error {
    Error::internal("unexpected row in the kernel's TCP socket table")
        .with_context("line", number + 1)
        .with_context("row", line.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from a Linux 6 host: a listener on 127.0.0.1:49329 with one
    /// accepted connection (both ends ESTABLISHED, `01`) and a listener on 0.0.0.0:2024.
    const TCP_SAMPLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 0100007F:C0B1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8910 1 00000000f604e886 100 0 0 10 0                      
   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1060 1 00000000e560672a 100 0 0 10 0                      
   2: 0100007F:C0B1 0100007F:C1C8 01 00000000:00000000 00:00000000 00000000     0        0 8912 1 0000000082f48e81 20 0 0 10 -1                      
   3: 0100007F:C1C8 0100007F:C0B1 01 00000000:00000000 00:00000000 00000000     0        0 8911 2 00000000fc5f75f3 20 0 0 10 -1                      
";

    /// Captured from the same host: a listener on [::1]:37273 with one accepted connection.
    const TCP6_SAMPLE: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:9199 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8913 1 00000000461bb42c 100 0 0 10 0
   1: 00000000000000000000000001000000:9199 00000000000000000000000001000000:B76E 01 00000000:00000000 00:00000000 00000000     0        0 8915 1 000000000d3d8919 20 0 0 10 -1
   2: 00000000000000000000000001000000:B76E 00000000000000000000000001000000:9199 01 00000000:00000000 00:00000000 00000000     0        0 8914 2 000000009049ce1d 20 0 0 10 -1
";

    fn numbers(ports: Vec<Port>) -> Vec<u16> {
        ports.into_iter().map(Port::get).collect()
    }

    #[test]
    fn parses_only_listening_ipv4_sockets() {
        let ports = numbers(parse_proc_net_tcp(TCP_SAMPLE).unwrap());
        // 0xC1C8 = 49608 is only the client end of a connection.
        assert_eq!(ports, [0xC0B1, 2024]);
    }

    #[test]
    fn parses_only_listening_ipv6_sockets() {
        let ports = numbers(parse_proc_net_tcp(TCP6_SAMPLE).unwrap());
        assert_eq!(ports, [37273]);
    }

    #[test]
    fn an_empty_table_has_no_listeners() {
        let header = TCP_SAMPLE.lines().next().unwrap();
        assert!(parse_proc_net_tcp(header).unwrap().is_empty());
        assert!(parse_proc_net_tcp("").unwrap().is_empty());
    }

    #[test]
    fn a_row_of_another_shape_is_an_error_not_a_missed_listener() {
        for bad in [
            "  sl  local_address\n   0: 0100007F:ZZZZ 00000000:0000 0A 0\n",
            "  sl  local_address\n   0: 0100007F 00000000:0000 0A 0\n",
            "  sl  local_address\n   0: 0100007F:C0B1\n",
        ] {
            let err = parse_proc_net_tcp(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Internal, "{bad}");
            assert_eq!(err.context_value("line"), Some("2"));
        }
    }

    fn local_probe() -> ProcPortProbe {
        ProcPortProbe::new(Arc::new(crate::transport::LocalTransport::new()))
    }

    #[tokio::test]
    async fn another_server_than_the_transports_is_unavailable_naming_it() {
        let server = ServerName::parse("app1").unwrap();
        let err = local_probe().listeners(&server).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.message().contains("server local"), "{err}");
        assert_eq!(err.context_value("server"), Some("app1"));
    }

    #[tokio::test]
    async fn sees_a_real_listener_while_it_listens_and_not_after() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = Port::new(listener.local_addr().unwrap().port()).unwrap();
        let local = ServerName::local();

        let probe = local_probe();
        let listeners = probe.listeners(&local).await.unwrap();
        assert!(
            listeners.contains(&Listener { port, owner: ListenerOwner::Unknown }),
            "{port} missing from {listeners:?}"
        );
        let ports: Vec<Port> = listeners.iter().map(|l| l.port).collect();
        assert!(ports.windows(2).all(|w| w[0] < w[1]), "sorted, each once: {ports:?}");

        drop(listener);
        let listeners = probe.listeners(&local).await.unwrap();
        assert!(listeners.iter().all(|l| l.port != port), "{port} still listed");
    }
}
