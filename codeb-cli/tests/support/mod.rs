//! Running the `we` binary as a user's shell would, shared by the test
//! files that drive it against the live stack.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// One `we` invocation's result.
pub struct Run {
    /// Its exit code (-1 when a signal ended it).
    pub code: i32,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Run {
    /// Its stdout, which must be one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", self.stdout))
    }
}

/// Runs `we` with the test's platform file in a HOME of its own, keeping
/// every output for the secret checks.
pub struct We {
    config: PathBuf,
    home: PathBuf,
    /// What each run printed (stdout, then stderr), in order.
    pub outputs: Vec<String>,
}

impl We {
    /// `we` with the platform file `config` and the home directory `home`.
    pub fn new(config: PathBuf, home: PathBuf) -> Self {
        We { config, home, outputs: Vec::new() }
    }

    /// Runs `we args` with nothing on its standard input.
    pub fn run(&mut self, args: &[&str]) -> Run {
        self.run_with_input(args, "")
    }

    /// Runs `we` with `input` on its standard input.
    pub fn run_with_input(&mut self, args: &[&str], input: &str) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_we"))
            .args(args)
            .env("CODEB_CONFIG", &self.config)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        // What `we` printed (its arguments and input are the test's own, not its output).
        self.outputs.push(format!("{}\n{}", run.stdout, run.stderr));
        run
    }

    /// Runs `we args` (which must exit 0) and returns the run.
    pub fn ok(&mut self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, 0, "we {args:?} exited {}: {}{}", run.code, run.stdout, run.stderr);
        run
    }

    /// Runs with --json, expecting exit `code`, and returns the parsed document.
    pub fn json(&mut self, args: &[&str], code: i32) -> Value {
        self.json_with_input(args, "", code)
    }

    /// Like [`We::json`], with `input` on standard input.
    pub fn json_with_input(&mut self, args: &[&str], input: &str, code: i32) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let run = self.run_with_input(&all, input);
        assert_eq!(run.code, code, "we {all:?} exited {}: {}{}", run.code, run.stdout, run.stderr);
        run.json()
    }
}
