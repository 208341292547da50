//! The arguments of `codeb-envexec`, the secrets they name, and what can fail.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the arguments ask for: the variables to read from `dir`, the program to run.
#[derive(Debug, PartialEq, Eq)]
pub struct Invocation {
    dir: PathBuf,
    names: Vec<String>,
    program: OsString,
    args: Vec<OsString>,
}

/// Why the program was not run.
#[derive(Debug)]
pub enum Failure {
    /// The arguments are not `DIR NAME... -- PROGRAM [ARG...]`.
    Usage(String),
    /// The file of the secret `name` could not be read.
    Unreadable {
        /// The variable.
        name: String,
        /// Its file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The file of the secret `name` holds a NUL byte, which no environment variable can.
    Nul {
        /// The variable.
        name: String,
        /// Its file.
        path: PathBuf,
    },
    /// The program could not be run.
    Exec {
        /// The program.
        program: OsString,
        /// Why.
        error: io::Error,
    },
}

impl Invocation {
    /// Reads `DIR NAME... -- PROGRAM [ARG...]` (the arguments after the program's own name):
    /// `DIR` an absolute path, each `NAME` an environment variable's name.
    pub fn parse(args: &[OsString]) -> Result<Invocation, Failure> {
        let Some((dir, rest)) = args.split_first() else { return usage("no arguments") };
        let dir = PathBuf::from(dir);
        if !dir.is_absolute() {
            return usage("DIR must be an absolute path");
        }
        let Some(separator) = rest.iter().position(|arg| arg == "--") else { return usage("no `--` before PROGRAM") };
        let (names, command) = (&rest[..separator], &rest[separator + 1..]);
        let Some((program, args)) = command.split_first() else { return usage("no PROGRAM after `--`") };
        let names = names
            .iter()
            .map(|name| match name.to_str().filter(|name| is_env_name(name)) {
                Some(name) => Ok(name.to_owned()),
                None => usage(&format!("{} is no environment variable name", name.to_string_lossy())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Invocation { dir, names, program: program.clone(), args: args.to_vec() })
    }

    /// Each named variable with the contents of its file, in the order named.
    pub fn secrets(&self) -> Result<Vec<(&str, OsString)>, Failure> {
        self.names
            .iter()
            .map(|name| {
                let path = self.dir.join(name);
                let value = std::fs::read(&path).map_err(|error| Failure::Unreadable {
                    name: name.clone(),
                    path: path.clone(),
                    error,
                })?;
                if value.contains(&0) {
                    return Err(Failure::Nul { name: name.clone(), path });
                }
                Ok((name.as_str(), OsString::from_vec(value)))
            })
            .collect()
    }

    /// The program, and the command that runs it with its arguments and the
    /// secrets set (over any variable of the same name it would inherit).
    pub fn command(&self) -> Result<(&OsStr, Command), Failure> {
        let mut command = Command::new(&self.program);
        command.args(&self.args).envs(self.secrets()?);
        Ok((&self.program, command))
    }
}

/// A usage error saying `why`.
fn usage<T>(why: &str) -> Result<T, Failure> {
    Err(Failure::Usage(format!("{why}; usage: codeb-envexec DIR NAME... -- PROGRAM [ARG...]")))
}

/// Whether `name` is `[A-Za-z_][A-Za-z0-9_]*` (so it is a plain file name too).
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Failure {
    /// The failure of running `program`.
    pub fn exec(program: &OsStr, error: io::Error) -> Failure {
        Failure::Exec { program: program.to_owned(), error }
    }

    /// The exit code, as env(1) has it: 127 when the program is not there,
    /// 126 when it cannot run, 125 for every failure of this program's own.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Exec { error, .. } if error.kind() == io::ErrorKind::NotFound => 127,
            Failure::Exec { .. } => 126,
            Failure::Usage(_) | Failure::Unreadable { .. } | Failure::Nul { .. } => 125,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(why) => f.write_str(why),
            Failure::Unreadable { name, path, error } => {
                write!(f, "the secret {name} cannot be read from {}: {error}", shown(path))
            }
            Failure::Nul { name, path } => {
                write!(f, "the secret {name} in {} holds a NUL byte, which no environment variable can", shown(path))
            }
            Failure::Exec { program, error } => write!(f, "cannot run {}: {error}", program.to_string_lossy()),
        }
    }
}

/// A path as text: it is made of an absolute directory and a variable's name.
fn shown(path: &Path) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(path.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn usage(list: &[&str]) -> String {
        match Invocation::parse(&args(list)) {
            Err(failure @ Failure::Usage(_)) => {
                assert_eq!(failure.exit_code(), 125);
                failure.to_string()
            }
            other => panic!("{list:?} is no usage error: {other:?}"),
        }
    }

    /// A fresh directory of secret files, removed when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str, files: &[(&str, &[u8])]) -> Dir {
            let dir = std::env::temp_dir().join(format!("codeb-envexec-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            for (file, contents) in files {
                std::fs::write(dir.join(file), contents).unwrap();
            }
            Dir(dir)
        }

        fn invocation(&self, names: &[&str]) -> Invocation {
            let dir = self.0.to_str().unwrap();
            Invocation::parse(&args(&[&[dir][..], names, &["--", "/app", "serve"]].concat())).unwrap()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_names_come_before_the_separator_and_the_program_after_it() {
        let invocation =
            Invocation::parse(&args(&["/run/secrets/env", "DATABASE_URL", "_KEY2", "--", "node", "--", "x"])).unwrap();
        assert_eq!(
            invocation,
            Invocation {
                dir: PathBuf::from("/run/secrets/env"),
                names: vec!["DATABASE_URL".into(), "_KEY2".into()],
                program: "node".into(),
                args: args(&["--", "x"]),
            }
        );
        let bare = Invocation::parse(&args(&["/s", "--", "/bin/app"])).unwrap();
        assert!(bare.names.is_empty() && bare.args.is_empty());
    }

    #[test]
    fn arguments_that_are_not_dir_names_separator_program_are_usage_errors() {
        assert!(usage(&[]).contains("no arguments"));
        assert!(usage(&["relative/dir", "--", "app"]).contains("absolute"));
        assert!(usage(&["/s", "KEY", "app"]).contains("no `--`"));
        assert!(usage(&["/s", "KEY", "--"]).contains("no PROGRAM"));
        for name in ["../etc/passwd", "A/B", "1KEY", "", "KEY=1", "-x"] {
            let text = usage(&["/s", name, "--", "app"]);
            assert!(text.contains("is no environment variable name"), "{name:?}: {text}");
        }
        assert!(usage(&["/s", "--"]).contains("usage: codeb-envexec DIR NAME... -- PROGRAM [ARG...]"));
    }

    #[test]
    fn each_secret_is_its_files_contents_set_over_an_inherited_variable() {
        let dir = Dir::new("read", &[("DATABASE_URL", b"postgres://u:p@db/x\n"), ("API_KEY", b"k=1 2")]);
        let invocation = dir.invocation(&["DATABASE_URL", "API_KEY"]);
        let secrets = invocation.secrets().unwrap();
        assert_eq!(secrets, [("DATABASE_URL", "postgres://u:p@db/x\n".into()), ("API_KEY", "k=1 2".into())]);
        let (program, command) = invocation.command().unwrap();
        assert_eq!(program, "/app");
        assert_eq!(command.get_args().collect::<Vec<_>>(), ["serve"]);
        let envs: Vec<_> = command.get_envs().collect();
        assert_eq!(
            envs,
            [
                (OsStr::new("API_KEY"), Some(OsStr::new("k=1 2"))),
                (OsStr::new("DATABASE_URL"), Some(OsStr::new("postgres://u:p@db/x\n")))
            ]
        );
    }

    #[test]
    fn a_missing_or_nul_holding_secret_is_named_with_its_file_and_its_value_never_shown() {
        let dir = Dir::new("bad", &[("TOKEN", b"s3cret\0tail")]);
        let missing = dir.invocation(&["ABSENT"]).command().unwrap_err();
        let text = missing.to_string();
        assert!(text.starts_with("the secret ABSENT cannot be read from "), "{text}");
        assert!(text.contains(&format!("{}/ABSENT", dir.0.display())), "{text}");
        assert_eq!(missing.exit_code(), 125);
        let nul = dir.invocation(&["TOKEN"]).secrets().unwrap_err();
        let text = nul.to_string();
        assert!(text.contains("TOKEN") && text.contains("NUL"), "{text}");
        assert!(!text.contains("s3cret") && !format!("{nul:?}").contains("s3cret"), "{text}");
        assert_eq!(nul.exit_code(), 125);
    }

    #[test]
    fn a_program_that_is_not_there_exits_127_and_one_that_cannot_run_126() {
        use std::os::unix::process::CommandExt;
        let dir = Dir::new("exec", &[("data", b"plain text")]);
        let absent = dir.0.join("absent");
        let error = Command::new(&absent).exec();
        let failure = Failure::exec(absent.as_os_str(), error);
        assert_eq!(failure.exit_code(), 127);
        assert_eq!(
            failure.to_string(),
            format!("cannot run {}: No such file or directory (os error 2)", absent.display())
        );
        // A file without the execute bit.
        let data = dir.0.join("data");
        let error = Command::new(&data).exec();
        assert_eq!(Failure::exec(data.as_os_str(), error).exit_code(), 126);
    }
}
