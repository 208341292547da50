//! Container images made of this machine's static busybox, built `FROM
//! scratch` through a Podman service: nothing is pulled from anywhere, which
//! is how the live tests and the local example get images on machines without
//! internet access.
//!
//! ```no_run
//! # fn main() -> codeb::Result<()> {
//! use codeb::model::ImageRef;
//! use codeb_devstack::images::{BusyboxImage, PodmanCli};
//!
//! let podman = PodmanCli::new("/tmp/stack/podman.sock".as_ref())?;
//! let tag = ImageRef::parse("localhost/hello:v1")?;
//! BusyboxImage::httpd(tag, "hello\n").build(&podman, "/tmp/stack/images".as_ref())?;
//! # Ok(())
//! # }
//! ```

use std::ffi::{OsStr, OsString};
use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use codeb::model::ImageRef;
use codeb::{Error, ErrorKind, Result};

pub mod debian;

use super::api_key::random_hex;
use super::binaries::{self, SearchPath};

/// Where busybox-static puts the binary every image is made of.
pub const BUSYBOX: &str = "/bin/busybox";

/// The port [`BusyboxImage::httpd`] images listen on inside the container.
pub const HTTPD_PORT: u16 = 8080;

/// The applets linked in `/bin` unless [`BusyboxImage::with_applets`] says otherwise.
pub const DEFAULT_APPLETS: [&str; 4] = ["sh", "httpd", "sleep", "echo"];

/// How many trailing lines of a failed podman command's output an error quotes.
const OUTPUT_TAIL_LINES: usize = 20;

/// An image whose root filesystem is `/bin/busybox`, links to it for some
/// applets, and a few files; with a command to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusyboxImage {
    tag: ImageRef,
    applets: Vec<String>,
    files: Vec<RootfsFile>,
    cmd: Vec<String>,
}

/// A file of the root filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RootfsFile {
    /// Relative to `/`, made of plain components only.
    path: PathBuf,
    contents: Vec<u8>,
    mode: u32,
}

impl BusyboxImage {
    /// An image tagged `tag` with the default applets, no files, running `busybox sh`.
    pub fn new(tag: ImageRef) -> Self {
        BusyboxImage {
            tag,
            applets: DEFAULT_APPLETS.iter().map(|a| (*a).to_owned()).collect(),
            files: Vec::new(),
            cmd: vec![BUSYBOX.to_owned(), "sh".to_owned()],
        }
    }

    /// An image serving `page` at `/` over HTTP on [`HTTPD_PORT`]: busybox
    /// httpd in the foreground with `/www` as its root.
    pub fn httpd(tag: ImageRef, page: &str) -> Self {
        let mut image = BusyboxImage::new(tag).with_cmd([BUSYBOX, "httpd", "-f", "-p", "8080", "-h", "/www"]);
        image.files.push(RootfsFile { path: PathBuf::from("www/index.html"), contents: page.into(), mode: 0o644 });
        image
    }

    /// Adds (or replaces) the file at `path` (relative to `/`, no `..`) with `contents` and `mode`.
    pub fn with_file(mut self, path: &str, contents: impl Into<Vec<u8>>, mode: u32) -> Result<Self> {
        let rel = Path::new(path.trim_start_matches('/'));
        if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(Error::invalid("an image file's path must name a file below / without `.` or `..`")
                .with_context("path", path));
        }
        if rel == Path::new(BUSYBOX.trim_start_matches('/')) {
            return Err(Error::invalid("an image file may not replace busybox itself").with_context("path", path));
        }
        self.files.retain(|f| f.path != rel);
        self.files.push(RootfsFile { path: rel.to_owned(), contents: contents.into(), mode: mode & 0o7777 });
        Ok(self)
    }

    /// Runs `cmd` (an argv, no shell) when a container starts.
    pub fn with_cmd<S: Into<String>>(mut self, cmd: impl IntoIterator<Item = S>) -> Self {
        self.cmd = cmd.into_iter().map(Into::into).collect();
        self
    }

    /// Links exactly these applets in `/bin`.
    pub fn with_applets<S: Into<String>>(mut self, applets: impl IntoIterator<Item = S>) -> Self {
        self.applets = applets.into_iter().map(Into::into).collect();
        self
    }

    /// The image's tag.
    pub fn tag(&self) -> &ImageRef {
        &self.tag
    }

    /// The Containerfile that turns the context's `rootfs/` into the image.
    pub fn containerfile(&self) -> String {
        // JSON is the exec form's syntax: every argument is quoted and escaped, never split by a shell.
        let cmd = serde_json::Value::from(self.cmd.clone());
        format!("FROM scratch\nCOPY rootfs/ /\nCMD {cmd}\n")
    }

    /// Writes the build context into `dir` (created; it must not exist yet):
    /// `Containerfile` and `rootfs/` with the static busybox copied in.
    pub fn write_context(&self, dir: &Path) -> Result<()> {
        let busybox = static_busybox()?;
        for applet in &self.applets {
            if applet.is_empty() || applet.contains('/') || applet == "busybox" || applet == "." || applet == ".." {
                return Err(Error::invalid("an applet name must be one plain file name").with_context("applet", applet));
            }
        }
        let rootfs = dir.join("rootfs");
        let bin = rootfs.join("bin");
        DirBuilder::new().mode(0o755).create(dir).map_err(|e| io_error("create the build context", dir, e))?;
        DirBuilder::new().recursive(true).mode(0o755).create(&bin).map_err(|e| io_error("create", &bin, e))?;
        let target = bin.join("busybox");
        fs::copy(&busybox, &target).map_err(|e| io_error("copy busybox into", &target, e))?;
        for applet in &self.applets {
            let link = bin.join(applet);
            std::os::unix::fs::symlink("busybox", &link).map_err(|e| io_error("link", &link, e))?;
        }
        for file in &self.files {
            let path = rootfs.join(&file.path);
            if let Some(parent) = path.parent() {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(parent)
                    .map_err(|e| io_error("create", parent, e))?;
            }
            fs::write(&path, &file.contents).map_err(|e| io_error("write", &path, e))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(file.mode))
                .map_err(|e| io_error("chmod", &path, e))?;
        }
        let containerfile = dir.join("Containerfile");
        fs::write(&containerfile, self.containerfile()).map_err(|e| io_error("write", &containerfile, e))
    }

    /// Builds the image through `podman`, in a fresh context directory under
    /// `scratch` (created when missing) that is removed afterwards.
    pub fn build(&self, podman: &PodmanCli, scratch: &Path) -> Result<()> {
        DirBuilder::new().recursive(true).mode(0o700).create(scratch).map_err(|e| io_error("create", scratch, e))?;
        let suffix = random_hex(6).map_err(|e| io_error("name a build context in", scratch, e))?;
        let context = scratch.join(format!("context-{suffix}"));
        let built = self.write_context(&context).and_then(|()| podman.build(&context, &self.tag));
        let _ = fs::remove_dir_all(&context);
        built
    }
}

/// The `podman` command line, as a client of one Podman service (`--url`).
#[derive(Clone, Debug)]
pub struct PodmanCli {
    program: PathBuf,
    url: OsString,
}

impl PodmanCli {
    /// A client of the service on `socket`, running the `podman` found on `$PATH`.
    pub fn new(socket: &Path) -> Result<Self> {
        PodmanCli::with_search_path(socket, None)
    }

    /// A client of the service on `socket`, running the `podman` found in `dirs` (`$PATH` syntax).
    pub fn with_search_path(socket: &Path, dirs: Option<&OsStr>) -> Result<Self> {
        let program = SearchPath::new(dirs).require(binaries::PODMAN)?;
        let mut url = OsString::from("unix://");
        url.push(socket.as_os_str());
        Ok(PodmanCli { program, url })
    }

    /// Builds the context directory `context` (with its `Containerfile`) as `tag`.
    ///
    /// The build is reproducible (every timestamp is the epoch), so the same
    /// context always gives the same image ID: rebuilding an image that
    /// exists changes nothing and leaves no untagged copy behind, even while
    /// containers of it run.
    pub fn build(&self, context: &Path, tag: &ImageRef) -> Result<()> {
        self.run::<&OsStr>(&[
            "build".as_ref(),
            "--timestamp=0".as_ref(),
            "--tag".as_ref(),
            tag.as_str().as_ref(),
            context.as_os_str(),
        ])
        .map(drop)
        .map_err(|e| e.with_context("image", tag))
    }

    /// Pushes the local image `source` to `destination`, whose registry speaks
    /// plain HTTP, with the credentials of the podman auth file `authfile`
    /// (never on the command line).
    pub fn push(&self, source: &ImageRef, destination: &ImageRef, authfile: &Path) -> Result<()> {
        self.run::<&OsStr>(&[
            "push".as_ref(),
            "--tls-verify=false".as_ref(),
            "--authfile".as_ref(),
            authfile.as_os_str(),
            source.as_str().as_ref(),
            destination.as_str().as_ref(),
        ])
        .map(drop)
        .map_err(|e| e.with_context("image", destination))
    }

    /// Runs `podman --url <url> <args>` and returns what it printed on
    /// stdout; a failure is `Unavailable` with the end of its output.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String> {
        let mut command = Command::new(&self.program);
        command.arg("--url").arg(&self.url).args(args);
        let name = args.first().map(|a| format!("podman {}", a.as_ref().to_string_lossy())).unwrap_or_default();
        run_command(command, &name).map_err(|e| e.with_context("backend", "podman"))
    }

    /// Whether the service holds an image tagged `tag`.
    pub fn has_image(&self, tag: &ImageRef) -> Result<bool> {
        Ok(!self.run(&["images", "--quiet", tag.as_str()])?.trim().is_empty())
    }

    /// Imports the root filesystem in the tar file `tarball` as the image `tag`.
    pub fn import(&self, tarball: &Path, tag: &ImageRef) -> Result<()> {
        self.run::<&OsStr>(&["import".as_ref(), tarball.as_os_str(), tag.as_str().as_ref()])
            .map(drop)
            .map_err(|e| e.with_context("image", tag))
    }
}

/// Copies `images` from the Podman service on `from` to the one on `to`:
/// `podman save` of them into the archive `archive`, then `podman load` of
/// it; the archive is removed afterwards.
pub fn copy_images(from: &Path, to: &Path, images: &[ImageRef], archive: &Path) -> Result<()> {
    let mut save: Vec<&OsStr> = vec!["save".as_ref(), "-m".as_ref(), "-o".as_ref(), archive.as_os_str()];
    save.extend(images.iter().map(|i| OsStr::new(i.as_str())));
    let copied = PodmanCli::new(from)?
        .run(&save)
        .and_then(|_| PodmanCli::new(to)?.run(&["load".as_ref(), "-i".as_ref(), archive.as_os_str()]));
    let _ = fs::remove_file(archive);
    copied.map(drop)
}

/// Runs `command` (stdin from `/dev/null`) and returns what it printed on
/// stdout; a failure is `Unavailable`, naming the command as `name` and
/// quoting the end of its output.
pub(crate) fn run_command(mut command: Command, name: &str) -> Result<String> {
    let program = PathBuf::from(command.get_program());
    let output = command.stdin(Stdio::null()).output().map_err(|e| io_error("run", &program, e))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..].join("\n");
    Err(Error::new(ErrorKind::Unavailable, format!("`{name}` failed ({}):\n{tail}", output.status)))
}

/// The static busybox binary, or an error naming busybox-static when it is
/// missing or is the dynamically linked one (which cannot run in a scratch image).
pub fn static_busybox() -> Result<PathBuf> {
    let path = PathBuf::from(BUSYBOX);
    let bytes = fs::read(&path).map_err(|_| binaries::missing_error(&[binaries::BUSYBOX_STATIC]))?;
    match is_statically_linked(&bytes) {
        Some(true) => Ok(path),
        Some(false) => Err(Error::new(
            ErrorKind::NotFound,
            format!("{BUSYBOX} is dynamically linked and cannot run in an image built FROM scratch; install with: apt-get install busybox-static"),
        )
        .with_context("packages", "busybox-static")),
        None => Err(Error::invalid(format!("{BUSYBOX} is not an ELF executable")).with_context("path", BUSYBOX)),
    }
}

/// Whether the ELF file in `bytes` has no program interpreter (`PT_INTERP`),
/// i.e. runs without a dynamic loader; `None` when it is not ELF.
fn is_statically_linked(bytes: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if bytes.get(..4)? != b"\x7fELF" {
        return None;
    }
    let little = match bytes.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let uint = |at: usize, len: usize| -> Option<u64> {
        let raw = bytes.get(at..at + len)?;
        let mut buf = [0u8; 8];
        if little {
            buf[..len].copy_from_slice(raw);
            Some(u64::from_le_bytes(buf))
        } else {
            buf[8 - len..].copy_from_slice(raw);
            Some(u64::from_be_bytes(buf))
        }
    };
    let (phoff, phentsize, phnum) = match bytes.get(4)? {
        1 => (uint(0x1c, 4)?, uint(0x2a, 2)?, uint(0x2c, 2)?),
        2 => (uint(0x20, 8)?, uint(0x36, 2)?, uint(0x38, 2)?),
        _ => return None,
    };
    for i in 0..phnum {
        let at = usize::try_from(phoff.checked_add(i.checked_mul(phentsize)?)?).ok()?;
        if uint(at, 4)? == u64::from(PT_INTERP) {
            return Some(false);
        }
    }
    Some(true)
}

/// A failed file operation while preparing an image.
fn io_error(what: &str, path: &Path, source: std::io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, format!("cannot {what} {}", path.display()))
        .with_context("path", path.display())
        .with_source(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap()
    }

    #[test]
    fn an_httpd_image_serves_www_on_8080_in_the_foreground() {
        let image = BusyboxImage::httpd(tag("localhost/t/httpd:v1"), "v1");
        assert_eq!(
            image.containerfile(),
            "FROM scratch\nCOPY rootfs/ /\nCMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"8080\",\"-h\",\"/www\"]\n"
        );
    }

    #[test]
    fn the_cmd_is_json_so_no_argument_is_split_or_interpreted() {
        let image = BusyboxImage::new(tag("localhost/t/x:v1")).with_cmd(["/bin/busybox", "echo", "a \"b\" $c\nd"]);
        assert!(image.containerfile().ends_with("CMD [\"/bin/busybox\",\"echo\",\"a \\\"b\\\" $c\\nd\"]\n"));
    }

    #[test]
    fn file_paths_must_stay_below_root() {
        let image = || BusyboxImage::new(tag("localhost/t/x:v1"));
        assert!(image().with_file("www/../../etc/passwd", "x", 0o644).is_err());
        assert!(image().with_file("", "x", 0o644).is_err());
        assert!(image().with_file("/bin/busybox", "x", 0o755).is_err());
        assert!(image().with_file("/www/cgi-bin/env", "x", 0o755).is_ok());
    }

    #[test]
    fn the_context_holds_busybox_its_links_and_the_files() {
        if let Err(e) = static_busybox() {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "under CI=true every test runs: {e}");
            eprintln!("SKIPPED: this test needs busybox-static: {e}");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let context = dir.path().join("ctx");
        BusyboxImage::httpd(tag("localhost/t/httpd:v2"), "v2").write_context(&context).unwrap();
        assert_eq!(fs::read_to_string(context.join("rootfs/www/index.html")).unwrap(), "v2");
        for applet in DEFAULT_APPLETS {
            assert_eq!(fs::read_link(context.join("rootfs/bin").join(applet)).unwrap(), Path::new("busybox"));
        }
        assert_eq!(fs::read(context.join("rootfs/bin/busybox")).unwrap(), fs::read(BUSYBOX).unwrap());
        assert!(context.join("Containerfile").is_file());
    }

    /// A minimal 64-bit little-endian ELF header with the given program header types.
    fn elf64(types: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 64 + 56 * types.len()];
        bytes[..4].copy_from_slice(b"\x7fELF");
        bytes[4] = 2;
        bytes[5] = 1;
        bytes[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        bytes[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        bytes[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for (i, t) in types.iter().enumerate() {
            bytes[64 + 56 * i..64 + 56 * i + 4].copy_from_slice(&t.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn an_elf_with_an_interpreter_is_dynamic() {
        assert_eq!(is_statically_linked(&elf64(&[6, 3, 1])), Some(false));
        assert_eq!(is_statically_linked(&elf64(&[1, 1, 4])), Some(true));
        assert_eq!(is_statically_linked(b"#!/bin/sh\n"), None);
        assert_eq!(is_statically_linked(&elf64(&[1])[..40]), None, "a truncated header");
    }

    #[test]
    fn the_system_shell_is_seen_as_dynamic() {
        // /bin/sh on Debian is dash, linked against libc.
        let sh = fs::read(fs::canonicalize("/bin/sh").unwrap()).unwrap();
        assert_eq!(is_statically_linked(&sh), Some(false));
    }
}
