//! The control endpoint: the SSOT and secret stores of the control server,
//! served to one client over its standard input and output.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use codeb::config::KeySource;
use codeb::secrets::SecretStore;
use codeb::ssot::StateStore;
use codeb::{Error, ErrorKind, Result};
use tokio::runtime::Handle;

use super::protocol::{Answer, PROTOCOL, Request, vars, wire_vars};
use crate::{FileSecretStore, FileStateStore, SecretFileConfig};

/// Where the control server keeps the truth: its SSOT file, its secret
/// store's directory and key file (made on first use, and never sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlPaths {
    /// The SSOT file.
    pub state: PathBuf,
    /// The secret store's directory.
    pub secrets: PathBuf,
    /// The secret store's key file.
    pub key_file: PathBuf,
}

/// Serves the stores at `paths` to the client on this process's standard
/// input and output, until that input ends (`we control serve`).
pub async fn serve_stdio(paths: ControlPaths) -> Result<()> {
    let handle = Handle::current();
    let serving = tokio::task::spawn_blocking(move || {
        let state = FileStateStore::new(&paths.state);
        let secrets = FileSecretStore::open(SecretFileConfig::new(&paths.secrets, KeySource::File(paths.key_file)))?;
        serve(std::io::stdin().lock(), std::io::stdout().lock(), &state, &secrets, &handle)
    });
    serving.await.map_err(|e| Error::internal("the control endpoint panicked").with_source(e))?
}

/// Serves `state` and `secrets` to the client that writes `input` and reads
/// `output`: a greeting, then one answer per request, until `input` ends.
///
/// A `Begin` holds the store's writers' lock until the client's `Commit` or
/// `Abort`; a client that leaves in between leaves the document as it was
/// (the lock goes with the update). Runs on a thread that may block; async
/// stores run on `runtime`.
pub fn serve(
    mut input: impl BufRead,
    mut output: impl Write,
    state: &dyn StateStore,
    secrets: &dyn SecretStore,
    runtime: &Handle,
) -> Result<()> {
    send(&mut output, &Answer::Hello { protocol: PROTOCOL, codeb: env!("CARGO_PKG_VERSION").to_owned() })?;
    while let Some(request) = receive(&mut input)? {
        let answer = match request {
            Ok(Request::Begin) => match update(&mut input, &mut output, state) {
                Ok(Some(answer)) => answer,
                Ok(None) => return Ok(()),
                Err(e) => Answer::failed(&e),
            },
            Ok(request) => answer(request, state, secrets, runtime).unwrap_or_else(|e| Answer::failed(&e)),
            Err(e) => Answer::failed(&e),
        };
        send(&mut output, &answer)?;
    }
    Ok(())
}

/// Answers one request other than `Begin`.
fn answer(request: Request, state: &dyn StateStore, secrets: &dyn SecretStore, runtime: &Handle) -> Result<Answer> {
    Ok(match request {
        Request::Load => Answer::Document { document: Box::new(state.load()?) },
        Request::Begin | Request::Commit { .. } | Request::Abort => {
            return Err(Error::invalid("commit and abort come only after begin"));
        }
        Request::SecretSet { scope, vars: set } => {
            Answer::Version { version: runtime.block_on(secrets.set(&scope.into(), &vars(set)?))? }
        }
        Request::SecretUnset { scope, keys } => {
            let keys = keys.iter().map(|k| codeb::model::EnvKey::parse(k)).collect::<Result<Vec<_>, _>>()?;
            Answer::Version { version: runtime.block_on(secrets.unset(&scope.into(), &keys))? }
        }
        Request::SecretGet { scope, key } => {
            let key = codeb::model::EnvKey::parse(&key)?;
            let var = runtime.block_on(secrets.get(&scope.into(), &key))?;
            Answer::Var { var: var.as_ref().map(Into::into) }
        }
        Request::SecretList { scope } => set_answer(runtime.block_on(secrets.list(&scope.into()))?),
        Request::SecretListAt { scope, version } => {
            set_answer(runtime.block_on(secrets.list_at(&scope.into(), version))?)
        }
    })
}

fn set_answer(set: codeb::secrets::EnvSet) -> Answer {
    Answer::Set { version: set.version, vars: wire_vars(&set.vars) }
}

/// One update under the store's lock: the document out, the client's
/// decision in. `None` when the client left before deciding.
fn update(input: &mut impl BufRead, output: &mut impl Write, state: &dyn StateStore) -> Result<Option<Answer>> {
    let (mut aborted, mut left) = (false, false);
    let committed = state.update(&mut |doc| {
        send(output, &Answer::Document { document: Box::new(doc.clone()) })?;
        match receive(input)? {
            Some(Ok(Request::Commit { document })) => {
                *doc = *document;
                Ok(())
            }
            Some(Ok(Request::Abort)) => {
                aborted = true;
                Err(Error::conflict("aborted by the client"))
            }
            Some(Ok(_)) => Err(Error::invalid("only commit or abort may follow begin")),
            Some(Err(e)) => Err(e),
            None => {
                left = true;
                Err(Error::new(ErrorKind::Unavailable, "the client left during an update"))
            }
        }
    });
    match committed {
        Ok(commit) => Ok(Some(Answer::Committed { revision: commit.revision, changed: commit.changed })),
        Err(_) if aborted => Ok(Some(Answer::Aborted)),
        Err(_) if left => Ok(None),
        Err(e) => Err(e),
    }
}

/// The next request: `None` at the end of the input, an `Err` inside when
/// the line is not one (answered, and the conversation goes on).
fn receive(input: &mut impl BufRead) -> Result<Option<Result<Request>>> {
    let mut line = String::new();
    let read = input
        .read_line(&mut line)
        .map_err(|e| Error::new(ErrorKind::Unavailable, "cannot read the client's request").with_source(e))?;
    if read == 0 {
        return Ok(None);
    }
    // The parser's own message may quote the line, and a line may hold a secret.
    let parsed = serde_json::from_str(&line)
        .map_err(|e| Error::invalid(format!("not a control request (column {})", e.column())));
    Ok(Some(parsed))
}

/// Writes one answer line and flushes it.
fn send(output: &mut impl Write, answer: &Answer) -> Result<()> {
    let mut line = serde_json::to_vec(answer).map_err(|e| Error::internal("cannot encode an answer").with_source(e))?;
    line.push(b'\n');
    output
        .write_all(&line)
        .and_then(|()| output.flush())
        .map_err(|e| Error::new(ErrorKind::Unavailable, "cannot answer the client").with_source(e))
}
