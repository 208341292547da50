//! From Podman API failures to `codeb::Error`.
//!
//! Podman's Docker-compatible endpoints answer many conflicts with a 500 and
//! a message rather than Docker's 409 (a taken name, a running container, a
//! busy network), so the kind depends on the operation and, for those, on the
//! message. Everything here is a pure function of a [`Failure`], so the
//! mapping is tested without a service.

use codeb::error::TextCause;
use codeb::redact::Redactor;
use codeb::{Error, ErrorKind};

/// What the backend was doing when the API failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Ping,
    InspectImage,
    PullImage,
    TagImage,
    PushImage,
    BuildImage,
    ListImages,
    RemoveImage,
    CreateContainer,
    StartContainer,
    StopContainer,
    RemoveContainer,
    InspectContainer,
    ListContainers,
    Logs,
    Exec,
    CreateSecret,
    CopyEnvexec,
    RemoveSecret,
    CreateVolume,
    InspectVolume,
    ListVolumes,
    RemoveVolume,
    InspectNetwork,
    CreateNetwork,
    RemoveNetwork,
}

impl Op {
    /// The verb and the kind of object, for messages and the context key.
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Op::Ping => ("reach", "service"),
            Op::InspectImage => ("inspect", "image"),
            Op::PullImage => ("pull", "image"),
            Op::TagImage => ("tag", "image"),
            Op::PushImage => ("push", "image"),
            Op::BuildImage => ("build", "image"),
            Op::ListImages => ("list", "images"),
            Op::RemoveImage => ("remove", "image"),
            Op::CreateContainer => ("create", "container"),
            Op::StartContainer => ("start", "container"),
            Op::StopContainer => ("stop", "container"),
            Op::RemoveContainer => ("remove", "container"),
            Op::InspectContainer => ("inspect", "container"),
            Op::ListContainers => ("list", "containers"),
            Op::Logs => ("read the logs of", "container"),
            Op::Exec => ("run a command in", "container"),
            Op::CreateSecret => ("create the secrets of", "container"),
            Op::CopyEnvexec => ("copy codeb-envexec into", "container"),
            Op::RemoveSecret => ("remove the secrets of", "container"),
            Op::CreateVolume => ("create", "volume"),
            Op::InspectVolume => ("inspect", "volume"),
            Op::ListVolumes => ("list", "volumes"),
            Op::RemoveVolume => ("remove", "volume"),
            Op::InspectNetwork => ("inspect", "network"),
            Op::CreateNetwork => ("create", "network"),
            Op::RemoveNetwork => ("remove", "network"),
        }
    }

    fn creates(self) -> bool {
        matches!(self, Op::CreateContainer | Op::CreateVolume | Op::CreateNetwork)
    }

    /// Whether Podman talks to a registry for it, so the registry may be what failed.
    fn reaches_registry(self) -> bool {
        matches!(self, Op::PullImage | Op::PushImage | Op::BuildImage)
    }
}

/// A failed API call, reduced to what the mapping needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The API answered with an error status and a message.
    Status { code: u16, message: String },
    /// A streaming call (pull, build) reported an error mid-stream.
    Stream(String),
    /// The socket is missing, refused the connection or dropped it.
    Unreachable(String),
    /// The transport's server refused codeb (a changed host key, a login it
    /// does not accept): the transport's kind (`Forbidden`, `Unauthenticated`) and words.
    Refused { kind: ErrorKind, message: String },
    /// The request took longer than the configured timeout.
    Timeout,
    /// The answer could not be decoded.
    Decode(String),
    /// Anything else (a request that could not even be built).
    Other(String),
}

impl From<bollard::errors::Error> for Failure {
    fn from(e: bollard::errors::Error) -> Self {
        use bollard::errors::Error as B;
        match e {
            B::DockerResponseServerError { status_code, message } => Failure::Status { code: status_code, message },
            B::DockerStreamError { error } => Failure::Stream(error),
            B::RequestTimeoutError => Failure::Timeout,
            // The transport's failures reach bollard as I/O errors (see `PodmanRuntime::connect`),
            // a refusal as the transport's own error inside.
            B::IOError { err } => match err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
                Some(refusal) if is_refusal(refusal.kind()) => {
                    Failure::Refused { kind: refusal.kind(), message: refusal.to_string() }
                }
                _ => Failure::Unreachable(B::IOError { err }.to_string()),
            },
            e @ B::HyperResponseError { .. } => Failure::Unreachable(e.to_string()),
            e @ (B::JsonDataError { .. } | B::JsonSerdeError { .. } | B::StrParseError { .. }) => {
                Failure::Decode(e.to_string())
            }
            e => Failure::Other(e.to_string()),
        }
    }
}

impl Failure {
    /// Whether this is the answer bollard gives when Podman reports a state it cannot decode
    /// (Podman's transient `stopped`).
    pub(crate) fn is_decode(&self) -> bool {
        matches!(self, Failure::Decode(_))
    }

    /// Whether a forced removal failed at its stop step (an orphan whose
    /// conmon died: Podman waits for an exit file that never comes, or finds
    /// the state moved under it). The failed stop leaves the container
    /// marked exited, so removing it again succeeds.
    pub(crate) fn is_failed_stop_before_removal(&self) -> bool {
        matches!(self, Failure::Status { code: 500, message } if message.contains("could not be stopped"))
    }

    /// Whether the API failed with a server error (500), after which the
    /// container's state may still have moved as asked.
    pub(crate) fn is_server_error(&self) -> bool {
        matches!(self, Failure::Status { code: 500, .. })
    }

    /// A connection through the transport that failed with `e`, told as `text`.
    pub(crate) fn connecting(e: &Error, text: String) -> Failure {
        if is_refusal(e.kind()) {
            Failure::Refused { kind: e.kind(), message: text }
        } else {
            Failure::Unreachable(text)
        }
    }

    /// Whether the API said the object does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Failure::Status { code: 404, .. })
    }

    fn text(&self) -> &str {
        match self {
            Failure::Status { message, .. }
            | Failure::Stream(message)
            | Failure::Unreachable(message)
            | Failure::Refused { message, .. }
            | Failure::Decode(message)
            | Failure::Other(message) => message,
            Failure::Timeout => "the request timed out",
        }
    }
}

/// The kind of error `failure` is when it happens during `op`.
pub(crate) fn kind_of(op: Op, failure: &Failure) -> ErrorKind {
    match failure {
        Failure::Status { code, message } => status_kind(op, *code, &message.to_ascii_lowercase()),
        Failure::Stream(message) => stream_kind(op, &message.to_ascii_lowercase()),
        Failure::Unreachable(_) => ErrorKind::Unavailable,
        Failure::Refused { kind, .. } => *kind,
        Failure::Timeout => ErrorKind::Timeout,
        Failure::Decode(_) | Failure::Other(_) => ErrorKind::Internal,
    }
}

/// Whether a transport error of `kind` is the server refusing codeb, not failing.
pub(crate) fn is_refusal(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::Forbidden | ErrorKind::Unauthenticated)
}

/// Words of a failure to reach a registry (Podman answered; the registry did
/// not): a name that does not resolve ("no such host", which must not read
/// as "no such image"), a refused or timed-out connection, TLS trouble.
const REGISTRY_UNREACHABLE: [&str; 10] = [
    "no such host",
    "lookup ",
    "dial tcp",
    "connection refused",
    "no route to host",
    "network is unreachable",
    "i/o timeout",
    "http response to https client",
    "tls: ",
    "x509: ",
];

/// Whether a pull or build failed because a registry could not be reached.
fn registry_unreachable(op: Op, failure: &Failure) -> bool {
    let message = match failure {
        Failure::Status { message, .. } | Failure::Stream(message) => message.to_ascii_lowercase(),
        Failure::Unreachable(_)
        | Failure::Refused { .. }
        | Failure::Timeout
        | Failure::Decode(_)
        | Failure::Other(_) => return false,
    };
    op.reaches_registry() && REGISTRY_UNREACHABLE.iter().any(|n| message.contains(n))
}

fn status_kind(op: Op, code: u16, message: &str) -> ErrorKind {
    let has = |needles: &[&str]| needles.iter().any(|n| message.contains(n));
    match code {
        _ if op.reaches_registry() && has(&REGISTRY_UNREACHABLE) => ErrorKind::Unavailable,
        404 => ErrorKind::NotFound,
        409 if op.creates() => ErrorKind::AlreadyExists,
        409 => ErrorKind::Conflict,
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::Forbidden,
        // The host port is taken: Podman says so with a 500 when the container starts.
        _ if has(&["address already in use"]) => ErrorKind::Conflict,
        _ if op.creates() && has(&["already in use", "already exists"]) => ErrorKind::AlreadyExists,
        _ if has(&["state improper", "is running", "is being used", "in use by"]) => ErrorKind::Conflict,
        _ if has(&["no such", "not found", "not known"]) => ErrorKind::NotFound,
        400..=499 => ErrorKind::Invalid,
        _ => ErrorKind::Unavailable,
    }
}

fn stream_kind(op: Op, message: &str) -> ErrorKind {
    let has = |needles: &[&str]| needles.iter().any(|n| message.contains(n));
    if has(&["unauthorized", "authentication required", "requested access to the resource is denied"]) {
        ErrorKind::Unauthenticated
    } else if has(&REGISTRY_UNREACHABLE) {
        ErrorKind::Unavailable
    } else if has(&["manifest unknown", "name unknown"])
        || (matches!(op, Op::PullImage | Op::PushImage) && has(&["not found", "no such", "not known"]))
    {
        ErrorKind::NotFound
    } else if op == Op::BuildImage {
        // A build step failed (a missing file, a failing command): the context or the Containerfile is at fault.
        ErrorKind::Invalid
    } else {
        ErrorKind::Unavailable
    }
}

/// The `codeb::Error` for `failure` during `op` on the object `name`.
///
/// `secrets` are strings that must not reach the message (env values sent
/// with a create request); the API's message is kept as the error's source,
/// with them masked.
pub(crate) fn to_error(op: Op, name: &str, failure: &Failure, secrets: &[&str]) -> Error {
    let kind = kind_of(op, failure);
    let (verb, object) = op.describe();
    let what = if name.is_empty() { object.to_owned() } else { format!("{object} {name}") };
    let message = match kind {
        ErrorKind::NotFound => format!("cannot {verb} {what}: it does not exist"),
        ErrorKind::AlreadyExists => format!("cannot {verb} {what}: the name is taken"),
        ErrorKind::Conflict if op == Op::StartContainer => {
            format!("cannot {verb} {what}: a host port it publishes is taken")
        }
        ErrorKind::Conflict => format!("cannot {verb} {what}: it is in use or running"),
        ErrorKind::Unavailable if registry_unreachable(op, failure) => {
            format!("cannot {verb} {what}: its registry cannot be reached")
        }
        ErrorKind::Unavailable if matches!(failure, Failure::Unreachable(_)) => {
            format!("cannot {verb} {what}: the Podman API is unavailable")
        }
        ErrorKind::Unavailable => format!("cannot {verb} {what}: Podman failed"),
        ErrorKind::Timeout => format!("cannot {verb} {what}: the Podman API did not answer in time"),
        ErrorKind::Unauthenticated if op.reaches_registry() && !matches!(failure, Failure::Refused { .. }) => {
            format!("cannot {verb} {what}: its registry refused the credentials")
        }
        kind if is_refusal(kind) => format!("cannot {verb} {what}: its server refused the connection"),
        _ => format!("cannot {verb} {what}"),
    };
    let mut error = Error::new(kind, message).with_context("backend", "podman");
    if !name.is_empty() {
        error = error.with_context(object.trim_end_matches('s'), name);
    }
    // The cause is the API's own words, with secrets masked.
    error.with_source(TextCause(Redactor::new(secrets.iter().copied()).text(failure.text()).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, message: &str) -> Failure {
        Failure::Status { code, message: message.to_owned() }
    }

    #[test]
    fn statuses_map_to_kinds_per_operation() {
        let cases = [
            (Op::InspectContainer, status(404, "no container with name or ID \"x\" found"), ErrorKind::NotFound),
            (
                Op::CreateContainer,
                status(409, "Conflict. The container name is already in use"),
                ErrorKind::AlreadyExists,
            ),
            (
                Op::CreateContainer,
                status(500, "creating container storage: the container name \"x\" is already in use by abc"),
                ErrorKind::AlreadyExists,
            ),
            (
                Op::StartContainer,
                status(500, "cannot listen on the TCP port: listen tcp4 127.0.0.1:18555: bind: address already in use"),
                ErrorKind::Conflict,
            ),
            (
                Op::RemoveContainer,
                status(
                    500,
                    "cannot remove container abc as it is running - running or paused containers cannot be removed without force: container state improper",
                ),
                ErrorKind::Conflict,
            ),
            (Op::RemoveContainer, status(409, "You cannot remove a running container"), ErrorKind::Conflict),
            (
                Op::RemoveVolume,
                status(409, "volume v is being used by the following container(s): abc"),
                ErrorKind::Conflict,
            ),
            (
                Op::RemoveNetwork,
                status(500, "\"n\" has associated containers with it: network is being used"),
                ErrorKind::Conflict,
            ),
            (
                Op::CreateNetwork,
                status(500, "network name n already used: network already exists"),
                ErrorKind::AlreadyExists,
            ),
            (Op::CreateContainer, status(404, "no such image: x: image not known"), ErrorKind::NotFound),
            (Op::CreateContainer, status(400, "invalid reference format"), ErrorKind::Invalid),
            (Op::StartContainer, status(500, "OCI runtime error: crun: cgroups"), ErrorKind::Unavailable),
            (Op::PullImage, status(401, "unauthorized"), ErrorKind::Unauthenticated),
            (Op::PushImage, status(404, "failed to find image localhost/x:1: image not known"), ErrorKind::NotFound),
        ];
        for (op, failure, kind) in cases {
            assert_eq!(kind_of(op, &failure), kind, "{op:?} {failure:?}");
        }
    }

    #[test]
    fn stream_errors_of_pulls_and_builds_are_classified_by_message() {
        let cases = [
            (Op::PullImage, "reading manifest v9 in 127.0.0.1:5000/x: manifest unknown", ErrorKind::NotFound),
            (
                Op::PushImage,
                "trying to reuse blob sha256:39e4 at destination: checking whether a blob sha256:39e4 exists in 127.0.0.1:5000/x: authentication required",
                ErrorKind::Unauthenticated,
            ),
            (
                Op::PullImage,
                "unable to retrieve auth token: invalid username/password: unauthorized",
                ErrorKind::Unauthenticated,
            ),
            (
                Op::PullImage,
                "pinging container registry r:1: Get \"https://r:1/v2/\": http: server gave HTTP response to HTTPS client",
                ErrorKind::Unavailable,
            ),
            (Op::PullImage, "dial tcp 127.0.0.1:1: connect: connection refused", ErrorKind::Unavailable),
            (
                Op::PullImage,
                "initializing source docker://r.invalid/x:1: pinging container registry r.invalid: Get \"https://r.invalid/v2/\": dial tcp: lookup r.invalid: no such host",
                ErrorKind::Unavailable,
            ),
            (
                Op::BuildImage,
                "building at STEP \"RUN false\": while running runtime: exit status 1",
                ErrorKind::Invalid,
            ),
        ];
        for (op, message, kind) in cases {
            assert_eq!(kind_of(op, &Failure::Stream(message.to_owned())), kind, "{message}");
        }
    }

    #[test]
    fn a_server_that_refuses_the_transport_keeps_the_transports_kind() {
        for kind in [ErrorKind::Forbidden, ErrorKind::Unauthenticated] {
            let refusal = Error::new(kind, "the host key of root@h:22 changed: SHA256:a offered, SHA256:b pinned");
            let bollard = bollard::errors::Error::IOError { err: std::io::Error::other(refusal) };
            let err = to_error(Op::Ping, "", &Failure::from(bollard), &[]);
            assert_eq!(err.kind(), kind, "{err}");
            assert!(err.to_string().contains("SHA256:a offered, SHA256:b pinned"), "the cause is kept: {err}");
        }
    }

    #[test]
    fn transport_failures_are_unavailable_or_timeout() {
        assert_eq!(
            kind_of(Op::Ping, &Failure::Unreachable("cannot connect to unix:/x".into())),
            ErrorKind::Unavailable
        );
        assert_eq!(kind_of(Op::Ping, &Failure::Timeout), ErrorKind::Timeout);
        assert_eq!(kind_of(Op::InspectContainer, &Failure::Decode("unknown variant".into())), ErrorKind::Internal);
        let missing: Failure =
            bollard::errors::Error::IOError { err: std::io::Error::other("cannot connect to unix:/run/p.sock") }.into();
        assert_eq!(kind_of(Op::ListContainers, &missing), ErrorKind::Unavailable);
        let timeout: Failure = bollard::errors::Error::RequestTimeoutError.into();
        assert_eq!(timeout, Failure::Timeout);
    }

    #[test]
    fn errors_name_the_backend_and_object_and_keep_the_api_message_as_source() {
        let failure = status(500, "cannot listen on the TCP port: bind: address already in use");
        let err = to_error(Op::StartContainer, "codeb-web", &failure, &[]);
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(err.context_value("backend"), Some("podman"));
        assert_eq!(err.context_value("container"), Some("codeb-web"));
        assert!(err.to_string().contains("address already in use"), "{err}");
        let err = to_error(Op::ListVolumes, "", &Failure::Unreachable("refused".into()), &[]);
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert_eq!(err.context_value("volume"), None);
    }

    #[test]
    fn each_unavailable_error_names_what_failed() {
        let socket = to_error(Op::PullImage, "r.invalid/x:1", &Failure::Unreachable("refused".into()), &[]);
        assert!(socket.message().ends_with("the Podman API is unavailable"), "{socket}");
        let dns = Failure::Stream("dial tcp: lookup r.invalid: no such host".into());
        let registry = to_error(Op::PullImage, "r.invalid/x:1", &dns, &[]);
        assert_eq!(registry.kind(), ErrorKind::Unavailable);
        assert_eq!(registry.message(), "cannot pull image r.invalid/x:1: its registry cannot be reached");
        let oci = to_error(Op::StartContainer, "c", &status(500, "OCI runtime error"), &[]);
        assert_eq!(oci.message(), "cannot start container c: Podman failed");
    }

    #[test]
    fn secrets_in_an_api_message_are_masked() {
        let failure = status(500, "invalid env DATABASE_URL=postgres://u:hunter2@db/x");
        let err = to_error(Op::CreateContainer, "codeb-web", &failure, &["postgres://u:hunter2@db/x"]);
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains(codeb::model::MASK), "{text}");
        }
    }
}
