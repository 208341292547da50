//! The file-backed SSOT under real processes: writers killed with SIGKILL at
//! random instants, and fifty allocators racing on one file.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use codeb::model::{Environment, ProjectName, Service};
use codeb::ssot::Ssot;

const STRESS: &str = env!("CARGO_BIN_EXE_ssot-stress");

/// The most either test may take, so a hang fails instead of stalling CI.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// A child that is killed and reaped however the test ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The committed document at `path`, or `None` when no write ever committed.
fn read_state(path: &Path) -> Option<Ssot> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(Ssot::from_json(&text).unwrap_or_else(|e| {
            panic!("torn or invalid state file ({e}):\n{text}");
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

/// Starts a write loop whose committed revisions arrive on the returned channel
/// (which disconnects once the child is gone).
fn spawn_writer(state: &Path) -> (Reaped, mpsc::Receiver<u64>, thread::JoinHandle<()>) {
    let mut child = Command::new(STRESS)
        .arg("write-loop")
        .arg(state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the write loop");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        // Only whole lines count: a kill may cut a line short.
        while lines.read_line(&mut line).is_ok_and(|n| n > 0) && line.ends_with('\n') {
            let revision = line.trim_end().parse().expect("a revision per line");
            if tx.send(revision).is_err() {
                break;
            }
            line.clear();
        }
    });
    (Reaped(child), rx, reader)
}

#[test]
fn killing_a_writer_never_leaves_a_torn_state_file() {
    let start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ssot.json");
    let tmp = dir.path().join("ssot.json.tmp");

    let mut revision = 0; // the file's revision; 0 while absent
    let (mut committed, mut kills, mut after_stray_tmp) = (0, 0, 0);
    while committed < 200 || kills < 20 {
        let remaining = TIME_LIMIT
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("only {committed} commits and {kills} kills in {TIME_LIMIT:?}"));
        // Every seventh round plays a writer that died mid-write, leaving a torn temp file.
        if kills % 7 == 3 {
            std::fs::write(&tmp, b"{\"schema_version\": 1, \"revision\": 99, \"proj").unwrap();
        }
        let stray_tmp = tmp.exists();

        let (mut child, revisions, reader) = spawn_writer(&state);
        let mut printed = Vec::new();
        if stray_tmp {
            // The next writer must commit despite what the last one left behind.
            let first = revisions
                .recv_timeout(remaining)
                .unwrap_or_else(|e| panic!("no commit with a stray {} present: {e}", tmp.display()));
            printed.push(first);
            after_stray_tmp += 1;
        } else if fastrand::u8(..4) != 0 {
            // Otherwise kill at a random instant, a quarter of the time right after spawning.
            thread::sleep(Duration::from_millis(fastrand::u64(0..=30)));
        }
        child.0.kill().unwrap();
        let status = child.0.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "the write loop must run until killed, it ended with {status}");
        printed.extend(revisions.iter());
        reader.join().unwrap();
        kills += 1;

        let expected: Vec<u64> = (revision + 1..).take(printed.len()).collect();
        assert_eq!(printed, expected, "each commit bumps the revision by one");
        let last_printed = revision + printed.len() as u64;
        committed += printed.len();

        match read_state(&state) {
            None => assert_eq!(last_printed, 0, "committed revisions but no state file"),
            Some(doc) => {
                assert!(
                    doc.revision == last_printed || doc.revision == last_printed + 1,
                    "file at revision {}, the child last committed {last_printed}",
                    doc.revision
                );
                let newest = ProjectName::parse(&format!("p{}", doc.revision)).unwrap();
                assert!(doc.projects.contains_key(&newest), "revision {} lacks its own write", doc.revision);
                revision = doc.revision;
            }
        }
    }
    assert!(after_stray_tmp >= 2, "the stray temp file case ran");
    eprintln!(
        "{kills} kills, {committed} observed commits, revision {revision}, {after_stray_tmp} runs after a stray .tmp, {:?}",
        start.elapsed()
    );
}

#[test]
fn fifty_concurrent_allocators_get_distinct_ports_and_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ssot.json");
    let projects: Vec<String> = (0..50).map(|i| format!("proj{i}")).collect();

    let mut children: Vec<Reaped> = projects
        .iter()
        .map(|project| {
            let child = Command::new(STRESS)
                .arg("allocate")
                .arg(&state)
                .arg(project)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn an allocator");
            Reaped(child)
        })
        .collect();
    // Read every child's output on its own thread; end of output means the child exited.
    let (tx, rx) = mpsc::channel();
    for (i, child) in children.iter_mut().enumerate() {
        let mut stdout = child.0.stdout.take().expect("piped stdout");
        let mut stderr = child.0.stderr.take().expect("piped stderr");
        let tx = tx.clone();
        thread::spawn(move || {
            let (mut out, mut err) = (String::new(), String::new());
            let _ = stdout.read_to_string(&mut out);
            let _ = stderr.read_to_string(&mut err);
            let _ = tx.send((i, out, err));
        });
    }
    drop(tx);
    let deadline = Instant::now() + TIME_LIMIT;
    let mut outputs = vec![(String::new(), String::new()); children.len()];
    for _ in 0..children.len() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let (i, out, err) =
            rx.recv_timeout(remaining).unwrap_or_else(|e| panic!("allocators still running after {TIME_LIMIT:?}: {e}"));
        outputs[i] = (out, err);
    }

    let mut printed = Vec::new();
    for ((child, (out, err)), project) in children.iter_mut().zip(&outputs).zip(&projects) {
        let status = child.0.wait().unwrap();
        assert!(status.success(), "{project}: {status}, stderr: {err}");
        let (app, postgres) = out
            .trim_end()
            .strip_prefix("app=")
            .and_then(|rest| rest.split_once(" postgres="))
            .unwrap_or_else(|| panic!("{project} printed {out:?}"));
        let (app, postgres): (u16, u16) = (app.parse().unwrap(), postgres.parse().unwrap());
        printed.push((project.clone(), app, postgres));
    }

    let doc = read_state(&state).expect("the allocators wrote the state file");
    assert_eq!(doc.projects.len(), 50);
    assert_eq!(doc.revision, 100, "one commit per allocation, none lost");
    let mut all_ports = BTreeSet::new();
    for (project, app, postgres) in printed {
        let name = ProjectName::parse(&project).unwrap();
        let env =
            doc.environment(&name, &Environment::Staging).unwrap_or_else(|| panic!("{project} has no staging record"));
        assert_eq!(env.ports.len(), 2, "{project}: {:?}", env.ports);
        assert_eq!(env.ports[&Service::App].get(), app, "{project} app");
        assert_eq!(env.ports[&Service::Postgres].get(), postgres, "{project} postgres");
        assert!((3000..=3499).contains(&app), "{project} app {app}");
        assert!((15432..=15499).contains(&postgres), "{project} postgres {postgres}");
        all_ports.insert(app);
        all_ports.insert(postgres);
    }
    assert_eq!(all_ports.len(), 100, "every port distinct");
}
