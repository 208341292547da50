//! Completion as a user meets it: bash in a real terminal (tmux), the script
//! `we completions bash` printed sourced, and Tab pressed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use codeb::model::{Environment, ProjectName};
use codeb::ssot::StateStore;
use codeb_backends::FileStateStore;

/// A tmux session running `bash --norc` with `we` on its PATH; killed on drop.
struct Terminal {
    session: String,
}

impl Terminal {
    fn start(home: &Path, config: &Path) -> Self {
        let session = format!("codeb-completion-{}", std::process::id());
        let we_dir = Path::new(env!("CARGO_BIN_EXE_we")).parent().unwrap();
        let path = format!("{}:/usr/bin:/bin", we_dir.display());
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-x", "200", "-y", "50", "-s", &session])
            .args(["env", "-i", &format!("PATH={path}"), &format!("HOME={}", home.display())])
            .arg(format!("CODEB_CONFIG={}", config.display()))
            .args(["TERM=xterm", "bash", "--norc", "--noprofile"])
            .status()
            .expect("tmux runs (scripts/install-deps installs it)");
        assert!(status.success(), "tmux new-session");
        Terminal { session }
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux").args(["send-keys", "-t", &self.session]).args(keys).status().unwrap();
        assert!(status.success(), "tmux send-keys {keys:?}");
    }

    /// The screen once it shows every one of `expected`, or what it shows after 10 s.
    fn screen_showing(&self, expected: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.session]).output().unwrap();
            let screen = String::from_utf8_lossy(&out.stdout).into_owned();
            if expected.iter().all(|e| screen.contains(e)) || Instant::now() > deadline {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.session]).status();
    }
}

#[test]
fn tab_in_bash_offers_the_ssots_projects_for_p_and_their_environments_for_env() {
    let dir = tempfile::tempdir().unwrap();
    let config = codeb::testkit::offline_platform_file(dir.path(), &dir.path().join("no-such.sock"));
    let store = FileStateStore::new(dir.path().join("ssot.json"));
    store
        .update(&mut |doc| {
            let preview = Environment::parse("preview-pr-7").unwrap();
            doc.environment_mut(&ProjectName::parse("shop").unwrap(), &preview);
            doc.environment_mut(&ProjectName::parse("blog").unwrap(), &Environment::Staging);
            Ok(())
        })
        .unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let terminal = Terminal::start(&home, &config);

    terminal.keys(&["source <(we completions bash)", "Enter", "clear", "Enter"]);
    terminal.keys(&["we releases -p ", "Tab", "Tab"]);
    let screen = terminal.screen_showing(&["blog", "shop"]);
    assert!(screen.contains("blog") && screen.contains("shop"), "the SSOT's projects are offered:\n{screen}");

    terminal.keys(&["C-u", "clear", "Enter", "we releases -p shop --env ", "Tab", "Tab"]);
    let expected = ["preview-pr-7", "production", "staging"];
    let screen = terminal.screen_showing(&expected);
    assert!(expected.iter().all(|e| screen.contains(e)), "the environments are offered:\n{screen}");

    terminal.keys(&["C-u", "clear", "Enter", "we relea", "Tab"]);
    let screen = terminal.screen_showing(&["we releases"]);
    assert!(screen.contains("we releases"), "a command is completed:\n{screen}");

    terminal.keys(&["C-u", "clear", "Enter", "we releases -p sh", "Tab"]);
    // (tmux drops the trailing space of a line.)
    let screen = terminal.screen_showing(&["we releases -p shop"]);
    assert!(screen.contains("we releases -p shop"), "a unique prefix is completed:\n{screen}");
}
