//! The command line, as clap definitions. Values that name things are parsed
//! straight into the SDK's validated types, so nothing invalid gets further.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;
use codeb::model::{DomainName, EnvKey, Environment, ImageRef, ProjectName, ReleaseId, Service};

/// Deploy containerised apps to your own servers.
#[derive(Debug, Parser)]
#[command(
    name = "we",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("CODEB_COMMIT"), ", ", env!("CODEB_TARGET"), ")"),
    about,
    propagate_version = true
)]
pub struct Cli {
    /// The platform file (default: $CODEB_CONFIG, then ~/.config/codeb/platform.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print one JSON document on stdout (JSON lines for streams) and nothing else there.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print no progress and no human output beyond errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Trace what codeb asks of each server on stderr: -v each API call,
    /// program and file write; -vv also every file read. Never a body or a value.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour output: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never.
    #[arg(long, global = true, value_name = "WHEN", default_value_t = clap::ColorChoice::Auto)]
    pub color: clap::ColorChoice,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Every `we` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, stop or inspect the local stack (Podman, Caddy, PowerDNS on loopback).
    #[command(subcommand)]
    Local(LocalCommand),
    /// Analyse a directory (package.json, lock file, Prisma, Redis clients) and write its codeb.toml.
    Init(InitArgs),
    /// Deploy a project directory (its codeb.toml) to an environment.
    Deploy(DeployArgs),
    /// Go back to the previous release or a named one.
    Rollback(RollbackArgs),
    /// Deploy the exact image one environment serves (by digest) to another, with its own env, without a build.
    Promote(PromoteArgs),
    /// List the releases of an environment.
    Releases(Target),
    /// Complete or clean up an interrupted deploy.
    Recover(RecoverArgs),
    /// Recover every environment: serving releases, routes and DNS records as the SSOT records them.
    Reconcile,
    /// Drain and stop the release a deploy replaced (`we deploy` runs it in the background).
    #[command(hide = true)]
    Retire(RetireArgs),
    /// Route domains to an environment.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Env vars and secrets of an environment.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Probe the release serving an environment.
    #[command(subcommand)]
    Health(HealthCommand),
    /// The single source of truth.
    #[command(subcommand)]
    Ssot(SsotCommand),
    /// Port allocations.
    #[command(subcommand)]
    Port(PortCommand),
    /// Projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Deploy locks.
    #[command(subcommand)]
    Lock(LockCommand),
    /// The servers of the fleet.
    #[command(subcommand)]
    Server(ServerCommand),
    /// SSH access to the servers.
    #[command(subcommand)]
    Ssh(SshCommand),
    /// The last log lines of the release serving an environment.
    Logs(LogsArgs),
    /// The MCP server, for AI agents.
    #[command(subcommand)]
    Mcp(McpCommand),
    /// The control endpoint, run on the control server by each client over SSH.
    #[command(subcommand)]
    Control(ControlCommand),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page of `we` or of a command (roff), or write them all with --dir.
    Man(ManArgs),
}

/// A project and one of its environments, named the same way by every command.
#[derive(Debug, Args)]
pub struct Target {
    /// The project (default: the `name` of ./codeb.toml).
    #[arg(long, short, default_value = project_here(), required = project_here().is_none(), add = projects())]
    pub project: ProjectName,
    /// The environment: staging, production or preview-<id>.
    #[arg(long, short, add = environments())]
    pub env: Environment,
}

/// The project of the directory `we` runs in: the `name` of its codeb.toml,
/// read once; `None` (so `--project` is required) when there is none.
fn project_here() -> Option<&'static str> {
    static HERE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let name = HERE.get_or_init(|| {
        let path = std::env::current_dir().ok()?.join(codeb::project::PROJECT_FILE);
        let text = codeb::tomlfile::read_capped(&path, "the project file").ok()?;
        codeb::project::ProjectFile::parse(&text).ok().map(|file| file.name.to_string())
    });
    name.as_deref()
}

/// Completes a project name from the SSOT.
fn projects() -> ArgValueCompleter {
    ArgValueCompleter::new(crate::complete::projects)
}

/// Completes an environment name from the SSOT's projects.
fn environments() -> ArgValueCompleter {
    ArgValueCompleter::new(crate::complete::environments)
}

/// `we local ...`
#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start the local stack and write a platform file for it.
    Up(LocalArgs),
    /// Stop exactly what `up` started.
    Down(LocalArgs),
    /// Show each part of the local stack and whether it answers.
    Status(LocalArgs),
}

/// Where the local stack keeps its data.
#[derive(Debug, Args)]
pub struct LocalArgs {
    /// The data directory (default: ~/.local/share/codeb/local).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `we init`
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Write over an existing codeb.toml.
    #[arg(long)]
    pub force: bool,
    /// Print what was found and the file, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `we deploy`
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The project directory holding codeb.toml.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The environment: staging, production or preview-<id>.
    #[arg(long, short, required_unless_present = "plan", add = environments())]
    pub env: Option<Environment>,
    /// Deploy this image instead of the one codeb.toml names or builds.
    #[arg(long)]
    pub image: Option<ImageRef>,
    /// Run on this server (a [servers.NAME] of the platform file) instead of the one codeb.toml names or the first app server.
    #[arg(long, value_name = "NAME")]
    pub server: Option<codeb::model::ServerName>,
    /// Print the plan and change nothing (with --json: a plan to save and apply with --plan).
    #[arg(long)]
    pub dry_run: bool,
    /// Apply a plan saved from `we deploy --dry-run --json`; refused if the SSOT moved since.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["env", "image", "dry_run"])]
    pub plan: Option<PathBuf>,
    /// Wait up to this many seconds for another deploy of the environment to finish.
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,
}

/// `we rollback`
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Which project environment.
    #[command(flatten)]
    pub target: Target,
    /// The release to go back to (default: the previous one).
    #[arg(long)]
    pub to: Option<ReleaseId>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `we promote`
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The project.
    #[arg(add = projects())]
    pub project: ProjectName,
    /// The environment whose serving release is promoted.
    #[arg(long, add = environments())]
    pub from: Environment,
    /// The environment that runs it next.
    #[arg(long, add = environments())]
    pub to: Environment,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait up to this many seconds for another deploy of the environment to finish.
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,
}

/// `we retire`: not for people; `we deploy` hands it what it left.
#[derive(Debug, Args)]
pub struct RetireArgs {
    /// The deploy report's `retiring`, as JSON.
    pub retirement: String,
}

/// `we recover`
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Which project environment.
    #[command(flatten)]
    pub target: Target,
    /// Take the lock even from a holder that still runs.
    #[arg(long)]
    pub force: bool,
}

/// `we domain ...`
#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Route a domain to an environment (route, DNS record, SSOT).
    Setup {
        /// The domain.
        domain: DomainName,
        /// Which project environment.
        #[command(flatten)]
        scope: Target,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Move the domain here when another environment owns it.
        #[arg(long)]
        force: bool,
    },
    /// List an environment's domains.
    List {
        /// Which project environment.
        #[command(flatten)]
        scope: Target,
    },
    /// Stop routing a domain (needs --force).
    Remove {
        /// The domain.
        domain: DomainName,
        /// Which project environment.
        #[command(flatten)]
        scope: Target,
        /// Really remove it; without this, print what would be removed.
        #[arg(long)]
        force: bool,
    },
}

/// `we env ...`
#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Set variables (KEY=VALUE ..., or lines on standard input with --stdin).
    Set {
        /// The assignments.
        #[arg(required_unless_present = "stdin", value_name = "KEY=VALUE")]
        assignments: Vec<String>,
        /// Which project environment.
        #[command(flatten)]
        scope: Target,
        /// Mark them secret: never shown except by `we env get`.
        #[arg(long)]
        secret: bool,
        /// Also read a .env file from standard input (`export`, quotes,
        /// comments; `$VAR` kept as written, never expanded), so a secret
        /// never appears in the process list or the shell's history.
        #[arg(long)]
        stdin: bool,
    },
    /// List variables; secret values are masked.
    List {
        /// Which project environment.
        #[command(flatten)]
        scope: Target,
    },
    /// Print one variable's value, secret or not.
    Get {
        /// The variable.
        key: EnvKey,
        /// Which project environment.
        #[command(flatten)]
        scope: Target,
    },
    /// Remove variables (needs --force).
    Unset {
        /// The variables.
        #[arg(required = true)]
        keys: Vec<EnvKey>,
        /// Which project environment.
        #[command(flatten)]
        scope: Target,
        /// Really remove them; without this, print what would be removed.
        #[arg(long)]
        force: bool,
    },
}

/// `we health ...`
#[derive(Debug, Subcommand)]
pub enum HealthCommand {
    /// Probe once with the release's own health check.
    Check(Target),
}

/// `we ssot ...`
#[derive(Debug, Subcommand)]
pub enum SsotCommand {
    /// Revision and counts.
    Status,
    /// One project's record.
    Show {
        /// The project.
        #[arg(add = projects())]
        project: ProjectName,
    },
    /// The whole document as JSON.
    Export,
    /// Make an exported document this platform's SSOT (moving a platform to a control server).
    Import {
        /// The file `we ssot export` wrote.
        file: PathBuf,
        /// The platform file of the platform it came from: copy its environments' variables too.
        #[arg(long, value_name = "PLATFORM_FILE")]
        secrets_from: Option<PathBuf>,
        /// Replace an SSOT that already records projects.
        #[arg(long)]
        force: bool,
    },
    /// Where reality differs from the record (drift).
    Diff,
}

/// `we port ...`
#[derive(Debug, Subcommand)]
pub enum PortCommand {
    /// Allocate (or show) the port of a service.
    Allocate {
        /// Which project environment.
        #[command(flatten)]
        scope: Target,
        /// The service.
        #[arg(long, default_value = "app")]
        service: Service,
    },
    /// List allocations.
    List {
        /// Only this project's.
        #[arg(long, short, add = projects())]
        project: Option<ProjectName>,
        /// Only this environment's.
        #[arg(long, short, add = environments())]
        env: Option<Environment>,
    },
    /// Free a port (needs --force).
    Release {
        /// Which project environment.
        #[command(flatten)]
        scope: Target,
        /// The service.
        #[arg(long, default_value = "app")]
        service: Service,
        /// Really free it; without this, print what would be freed.
        #[arg(long)]
        force: bool,
    },
    /// Compare allocations with the ports that listen.
    Check,
}

/// `we project ...`
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Every project with its serving releases.
    List,
    /// One project's record.
    Show {
        /// The project.
        #[arg(add = projects())]
        project: ProjectName,
    },
    /// Delete a project whole (needs --force; protected volumes survive).
    Delete {
        /// The project.
        #[arg(add = projects())]
        project: ProjectName,
        /// Really delete it; without this, print what would be deleted.
        #[arg(long)]
        force: bool,
        /// Print what would be deleted and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `we lock ...`
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Who holds an environment's deploy lock, on which host, since when, and the lease left.
    Status(Target),
    /// Release a stale lock: its lease ran out, or its holder is gone (or any, with --force).
    Release {
        /// Which project environment.
        #[command(flatten)]
        target: Target,
        /// Release it even if its holder still runs.
        #[arg(long)]
        force: bool,
    },
}

/// `we logs`
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Which project environment.
    #[command(flatten)]
    pub target: Target,
    /// How many of the last lines.
    #[arg(long, default_value_t = 100)]
    pub tail: usize,
    /// Keep printing new lines until interrupted.
    #[arg(long, short)]
    pub follow: bool,
}

/// `we mcp ...`
#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Serve codeb's tools to an MCP client (stdio by default; --http for streamable HTTP).
    Serve(codeb_mcp::ServeArgs),
}

/// `we control ...`
#[derive(Debug, Subcommand)]
pub enum ControlCommand {
    /// Serve this server's SSOT and secrets to one client on stdin and stdout.
    Serve {
        /// The SSOT file.
        #[arg(long)]
        state: std::path::PathBuf,
        /// The secret store's directory.
        #[arg(long)]
        secrets: std::path::PathBuf,
        /// The secret store's key file (made if missing; never sent).
        #[arg(long)]
        key_file: std::path::PathBuf,
    },
}

/// `we man`
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (`deploy`, `env set`); default: `we` itself.
    pub command: Vec<String>,
    /// Write every page (we.1, we-deploy.1, we-env-set.1, ...) into this directory instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub dir: Option<PathBuf>,
}

/// `we server ...`
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// List the servers: their roles, how they are reached, the environments on each.
    List,
    /// Check servers as a doctor would: login, Podman, disk, clock, ports, the proxy and DNS APIs (exit 1 on a failure).
    Check {
        /// Only this server.
        server: Option<codeb::model::ServerName>,
    },
    /// Add a server reached over SSH, pinning its host key only as you say (--fingerprint, a yes on a terminal, or --accept-new).
    Add(ServerAddArgs),
    /// Remove a server from the platform file (refused while environments run on it; its pinned key stays).
    Remove {
        /// The server.
        server: codeb::model::ServerName,
    },
}

/// `we ssh ...`
#[derive(Debug, Subcommand)]
pub enum SshCommand {
    /// The keys that may log in to a server as codeb's login (its authorized_keys).
    #[command(subcommand)]
    Key(SshKeyCommand),
}

/// `we ssh key ...`
#[derive(Debug, Subcommand)]
pub enum SshKeyCommand {
    /// List the keys with their fingerprints and comments.
    List {
        /// The server.
        server: codeb::model::ServerName,
    },
    /// Authorize one OpenSSH public key (a .pub file's line; no options such as command=).
    Add {
        /// The server.
        server: codeb::model::ServerName,
        /// The public key file.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
    },
    /// Remove a key by its fingerprint (codeb's own only with --proven-by).
    Remove {
        /// The server.
        server: codeb::model::ServerName,
        /// The key's fingerprint, as `we ssh key list` shows it.
        #[arg(value_name = "SHA256:...")]
        fingerprint: String,
        /// The private key of another authorized key, which must log in before codeb's own is removed.
        #[arg(long, value_name = "PATH")]
        proven_by: Option<PathBuf>,
    },
}

/// `we server add`
#[derive(Debug, Args)]
pub struct ServerAddArgs {
    /// Its name in the fleet (a DNS label: app1, storage).
    pub server: codeb::model::ServerName,
    /// Where to log in: user@host[:port].
    #[arg(long, value_name = "USER@HOST[:PORT]", value_parser = codeb_backends::transport::ssh::SshTarget::parse)]
    pub ssh: codeb_backends::transport::ssh::SshTarget,
    /// What it is for: app, proxy, dns, control, storage, backup, streaming, build (repeat it).
    #[arg(long = "role", required = true, value_name = "ROLE")]
    pub roles: Vec<codeb::model::Role>,
    /// The private key to log in with (default: the keys of the ssh-agent at $SSH_AUTH_SOCK).
    #[arg(long, value_name = "PATH")]
    pub identity: Option<PathBuf>,
    /// Pin the host key only if it has this fingerprint (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the server).
    #[arg(long, value_name = "SHA256:...", conflicts_with = "accept_new")]
    pub fingerprint: Option<String>,
    /// Pin whatever host key the server offers now (for scripts that checked it another way).
    #[arg(long)]
    pub accept_new: bool,
    /// The address its domains' DNS records point at (default: [network] public_ipv4).
    #[arg(long, value_name = "IPV4")]
    pub public_ipv4: Option<std::net::Ipv4Addr>,
    /// Podman's socket on the server (default: [podman] socket).
    #[arg(long, value_name = "PATH")]
    pub podman_socket: Option<PathBuf>,
}

/// `we completions`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn hostile_arguments_are_refused_at_parse_time() {
        for args in [
            vec!["we", "rollback", "-p", "shop;id", "--env", "staging"],
            vec!["we", "releases", "-p", "shop", "--env", "prod"],
            vec!["we", "domain", "setup", "a b.com", "-p", "shop", "-e", "staging"],
            vec!["we", "env", "get", "A-B", "-p", "shop", "-e", "staging"],
            vec!["we", "deploy", "--env", "staging", "--image", "$(id)"],
            vec!["we", "promote", "shop", "--from", "staging", "--to", "prod"],
            vec!["we", "promote", "shop;id", "--from", "staging", "--to", "production"],
            vec!["we", "logs", "--project", "../etc", "--env", "staging"],
        ] {
            let err = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{args:?}");
        }
    }

    #[test]
    fn every_command_names_its_project_with_p() {
        for args in [
            vec!["we", "releases", "-p", "shop", "-e", "staging"],
            vec!["we", "rollback", "-p", "shop", "-e", "staging"],
            vec!["we", "logs", "-p", "shop", "-e", "staging"],
            vec!["we", "health", "check", "-p", "shop", "-e", "staging"],
            vec!["we", "lock", "status", "-p", "shop", "-e", "staging"],
            vec!["we", "recover", "-p", "shop", "-e", "staging"],
            vec!["we", "env", "list", "-p", "shop", "-e", "staging"],
            vec!["we", "domain", "list", "-p", "shop", "-e", "staging"],
        ] {
            assert!(Cli::try_parse_from(&args).is_ok(), "{args:?}");
        }
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from(["we", "ssot", "status", "--json", "--config", "/x.toml"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("/x.toml")));
    }
}
