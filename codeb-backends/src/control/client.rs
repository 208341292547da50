//! The client side: one conversation with the control endpoint, kept on a
//! thread of its own, behind a [`StateStore`] and a [`SecretStore`].
//!
//! The state store is synchronous and the transport is not, so the
//! conversation runs on its own small runtime; callers hand it calls over a
//! channel and wait for the answer, blocking (the state store, as a file
//! store's lock would) or awaiting (the secret store). Calls are answered in
//! order, and an update's begin and commit are never separated by another.
//! A conversation that failed is dropped, and the next call starts a new one.

use std::sync::Arc;
use std::sync::mpsc as blocking;
use std::time::Duration;

use async_trait::async_trait;
use codeb::model::{EnvKey, EnvVar, ServerName};
use codeb::secrets::{EnvSet, EnvVersion, Scope, SecretStore};
use codeb::ssot::{Commit, Ssot, StateStore};
use codeb::{Error, ErrorKind, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use super::protocol::{Answer, PROTOCOL, Request, WireScope, env_set, wire_vars};
use crate::transport::{Command, Stream, Transport};

/// How long the endpoint may take to greet or to answer one request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Where an answer goes: a blocked caller or an awaiting one.
type Reply<T> = Box<dyn FnOnce(Result<T>) + Send>;

/// What a caller hands the conversation.
enum Call {
    /// One request, one answer.
    Ask { request: Request, reply: Reply<Answer> },
    /// Begin, the caller's decision (a new document, or none to abort), then commit or abort.
    Update { document: blocking::Sender<Result<Ssot>>, decision: oneshot::Receiver<Ssot>, reply: Reply<Commit> },
}

/// The client of the control endpoint on one server: the program that
/// [`serve`](super::serve)s its stores, started through `transport`.
///
/// Nothing starts until the first call. Cloning shares the conversation.
#[derive(Clone, Debug)]
pub struct ControlClient {
    calls: mpsc::UnboundedSender<Call>,
    server: ServerName,
}

impl ControlClient {
    /// A client that starts `command` on the transport's server when first asked.
    pub fn new(transport: Arc<dyn Transport>, command: Command) -> Result<Self> {
        let server = transport.server().clone();
        let (calls, queue) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::internal("cannot start the control client's runtime").with_source(e))?;
        let conversation = Conversations { transport, command, current: None };
        std::thread::Builder::new()
            .name("codeb-control".to_owned())
            .spawn(move || runtime.block_on(conversation.serve(queue)))
            .map_err(|e| Error::internal("cannot start the control client's thread").with_source(e))?;
        Ok(ControlClient { calls, server })
    }

    /// The SSOT kept by the endpoint.
    pub fn state_store(&self) -> RemoteStateStore {
        RemoteStateStore { client: self.clone() }
    }

    /// The secret store kept by the endpoint.
    pub fn secret_store(&self) -> RemoteSecretStore {
        RemoteSecretStore { client: self.clone() }
    }

    fn call(&self, call: Call) -> Result<()> {
        self.calls.send(call).map_err(|_| self.gone())
    }

    fn gone(&self) -> Error {
        Error::internal("the control client's thread ended").with_context("server", &self.server)
    }

    /// Asks `request` and waits, blocking the thread.
    fn ask_blocking(&self, request: Request) -> Result<Answer> {
        let (reply, answer) = blocking::channel();
        self.call(Call::Ask { request, reply: Box::new(move |a| drop(reply.send(a))) })?;
        answer.recv().map_err(|_| self.gone())?
    }

    /// Asks `request` and awaits the answer.
    async fn ask(&self, request: Request) -> Result<Answer> {
        let (reply, answer) = oneshot::channel();
        self.call(Call::Ask { request, reply: Box::new(move |a| drop(reply.send(a))) })?;
        answer.await.map_err(|_| self.gone())?
    }

    /// The error for an answer that does not fit the request.
    fn unexpected(&self, answer: &Answer) -> Error {
        Error::internal(format!("the control endpoint gave an unexpected answer: {answer:?}"))
            .with_context("server", &self.server)
    }
}

/// The conversations of one client, one after another, on its thread.
struct Conversations {
    transport: Arc<dyn Transport>,
    command: Command,
    current: Option<Conversation>,
}

impl Conversations {
    /// Answers calls in order until every handle of the client is dropped.
    async fn serve(mut self, mut queue: mpsc::UnboundedReceiver<Call>) {
        while let Some(call) = queue.recv().await {
            match call {
                Call::Ask { request, reply } => reply(self.exchange(&request).await),
                Call::Update { document, decision, reply } => {
                    let begun = self.exchange(&Request::Begin).await.and_then(|a| match a {
                        Answer::Document { document } => Ok(*document),
                        other => Err(self.protocol_error(&other)),
                    });
                    let began = begun.is_ok();
                    let _ = document.send(begun);
                    if !began {
                        continue;
                    }
                    let Ok(next) = decision.await else {
                        // The caller's mutation failed and it returned: only the lock is to give back.
                        if let Ok(answer) = self.exchange(&Request::Abort).await
                            && !matches!(answer, Answer::Aborted)
                        {
                            self.current = None;
                        }
                        continue;
                    };
                    let done =
                        self.exchange(&Request::Commit { document: Box::new(next) }).await.and_then(|a| match a {
                            Answer::Committed { revision, changed } => Ok(Commit { revision, changed }),
                            other => Err(self.protocol_error(&other)),
                        });
                    reply(done);
                }
            }
        }
    }

    /// Sends `request` on the current conversation (starting one if there is
    /// none) and reads its answer; a failed endpoint's answer is its error.
    /// A conversation that failed is dropped.
    async fn exchange(&mut self, request: &Request) -> Result<Answer> {
        if self.current.is_none() {
            let started = Conversation::start(&*self.transport, &self.command).await;
            self.current = Some(started.map_err(|e| self.name(e))?);
        }
        let conversation = self.current.as_mut().ok_or_else(|| Error::internal("no control conversation"))?;
        let started = std::time::Instant::now();
        let answered = conversation.exchange(request).await.map_err(|e| self.name(e));
        crate::transport::trace::control(self.transport.server(), request.op(), started, &answered);
        match answered {
            Ok(Answer::Failed { kind, message }) => Err(self.name(Error::new(kind, message))),
            Ok(answer) => Ok(answer),
            Err(e) => {
                self.current = None;
                Err(e)
            }
        }
    }

    /// The error for an answer out of turn: the conversation is dropped.
    fn protocol_error(&mut self, answer: &Answer) -> Error {
        self.current = None;
        self.name(Error::internal(format!("the control endpoint answered out of turn: {answer:?}")))
    }

    fn name(&self, e: Error) -> Error {
        e.with_context("server", self.transport.server()).with_context("role", "control")
    }
}

/// One running endpoint: its output read line by line.
struct Conversation {
    stream: BufReader<Box<dyn Stream>>,
}

impl Conversation {
    /// Starts the endpoint and reads its greeting.
    async fn start(transport: &dyn Transport, command: &Command) -> Result<Self> {
        let mut conversation = Conversation { stream: BufReader::new(transport.spawn(command).await?) };
        let not_started = |why: &str| {
            Error::new(
                ErrorKind::Unavailable,
                format!(
                    "the control endpoint {:?} on {} {why}: is codeb installed there? ([control] command names it)",
                    command.argv(),
                    transport.server()
                ),
            )
        };
        match conversation.receive().await {
            Ok(Answer::Hello { protocol, .. }) if protocol == PROTOCOL => Ok(conversation),
            Ok(Answer::Hello { protocol, codeb }) => Err(Error::conflict(format!(
                "the control endpoint speaks protocol {protocol} (codeb {codeb}), this codeb {PROTOCOL}: \
                 install the same codeb on both sides"
            ))),
            Ok(_) => Err(not_started("did not greet")),
            Err(e) if e.kind() == ErrorKind::Unavailable => Err(not_started("ended before greeting")),
            Err(e) => Err(e),
        }
    }

    async fn exchange(&mut self, request: &Request) -> Result<Answer> {
        let mut line =
            serde_json::to_vec(request).map_err(|e| Error::internal("cannot encode a request").with_source(e))?;
        line.push(b'\n');
        let stream = self.stream.get_mut();
        let sent = async { stream.write_all(&line).await.and(stream.flush().await) };
        within(sent).await?.map_err(|e| lost("cannot send to the control endpoint", e))?;
        self.receive().await
    }

    async fn receive(&mut self) -> Result<Answer> {
        let mut line = String::new();
        let read = within(self.stream.read_line(&mut line))
            .await?
            .map_err(|e| lost("cannot read from the control endpoint", e))?;
        if read == 0 {
            return Err(Error::new(ErrorKind::Unavailable, "the control endpoint ended the conversation"));
        }
        serde_json::from_str(&line)
            .map_err(|e| Error::internal(format!("the control endpoint's answer is not one (column {})", e.column())))
    }
}

/// `work`, or a timeout past [`ANSWER_TIMEOUT`].
async fn within<T>(work: impl std::future::Future<Output = T>) -> Result<T> {
    tokio::time::timeout(ANSWER_TIMEOUT, work).await.map_err(|_| {
        Error::new(ErrorKind::Timeout, format!("the control endpoint did not answer within {ANSWER_TIMEOUT:?}"))
    })
}

fn lost(what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, what.to_owned()).with_source(e)
}

/// The SSOT on the control server. See [`ControlClient`].
#[derive(Clone, Debug)]
pub struct RemoteStateStore {
    client: ControlClient,
}

impl StateStore for RemoteStateStore {
    fn load(&self) -> Result<Ssot> {
        match self.client.ask_blocking(Request::Load)? {
            Answer::Document { document } => Ok(*document),
            other => Err(self.client.unexpected(&other)),
        }
    }

    fn update(&self, mutate: &mut dyn FnMut(&mut Ssot) -> Result<()>) -> Result<Commit> {
        let (document, begun) = blocking::channel();
        let (decide, decision) = oneshot::channel();
        let (reply, done) = blocking::channel();
        self.client.call(Call::Update { document, decision, reply: Box::new(move |c| drop(reply.send(c))) })?;
        let mut doc = begun.recv().map_err(|_| self.client.gone())??;
        // Dropping `decide` unsent aborts: the endpoint releases its lock.
        mutate(&mut doc)?;
        decide.send(doc).map_err(|_| self.client.gone())?;
        done.recv().map_err(|_| self.client.gone())?
    }
}

/// The secret store on the control server: values are encrypted there,
/// with its key, and travel only inside the conversation. See [`ControlClient`].
#[derive(Clone, Debug)]
pub struct RemoteSecretStore {
    client: ControlClient,
}

impl RemoteSecretStore {
    async fn version(&self, request: Request) -> Result<EnvVersion> {
        match self.client.ask(request).await? {
            Answer::Version { version } => Ok(version),
            other => Err(self.client.unexpected(&other)),
        }
    }

    async fn set_of(&self, request: Request) -> Result<EnvSet> {
        match self.client.ask(request).await? {
            Answer::Set { version, vars } => env_set(version, vars),
            other => Err(self.client.unexpected(&other)),
        }
    }
}

#[async_trait]
impl SecretStore for RemoteSecretStore {
    async fn set(&self, scope: &Scope, vars: &[EnvVar]) -> Result<EnvVersion> {
        self.version(Request::SecretSet { scope: WireScope::from(scope), vars: wire_vars(vars) }).await
    }

    async fn unset(&self, scope: &Scope, keys: &[EnvKey]) -> Result<EnvVersion> {
        let keys = keys.iter().map(|k| k.as_str().to_owned()).collect();
        self.version(Request::SecretUnset { scope: WireScope::from(scope), keys }).await
    }

    async fn get(&self, scope: &Scope, key: &EnvKey) -> Result<Option<EnvVar>> {
        let request = Request::SecretGet { scope: WireScope::from(scope), key: key.as_str().to_owned() };
        match self.client.ask(request).await? {
            Answer::Var { var } => var.map(|v| v.into_var()).transpose(),
            other => Err(self.client.unexpected(&other)),
        }
    }

    async fn list(&self, scope: &Scope) -> Result<EnvSet> {
        self.set_of(Request::SecretList { scope: WireScope::from(scope) }).await
    }

    async fn list_at(&self, scope: &Scope, version: EnvVersion) -> Result<EnvSet> {
        self.set_of(Request::SecretListAt { scope: WireScope::from(scope), version }).await
    }
}
