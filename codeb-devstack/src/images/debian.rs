//! Test images made of Debian's own packages, so that the live tests run
//! real databases and real Node.js apps on machines without a registry.
//!
//! A minimal bookworm root filesystem holding some packages is made once by
//! `debootstrap --variant=minbase` and kept as a tar file in a cache
//! directory outside the clone ([`DebianRootfs`]; a debootstrap takes a
//! minute or more, a missing or removed cache is made again). It is imported
//! into Podman as a base image, and each test image is a reproducible build
//! on that base:
//!
//! - [`DataImages`], on [`DATA`], with entrypoints that follow the
//!   official images' interface:
//!   - PostgreSQL: `POSTGRES_PASSWORD`, `POSTGRES_USER`, `POSTGRES_DB`,
//!     `PGDATA` (each `*_FILE` too); `initdb` runs once, when `PGDATA` holds
//!     no `PG_VERSION`, as the official image does (so a server killed during
//!     its initialisation leaves the same broken directory behind).
//!   - Redis: `redis-server` with the arguments given, as the redis user in
//!     `/data`.
//! - [`NodeImage`], on [`NODE`]: Debian's Node.js and npm (so `npx`
//!   too), the base a Node app's Containerfile builds `FROM`.
//!
//! ```no_run
//! # fn main() -> codeb::Result<()> {
//! use codeb::model::ImageRef;
//! use codeb_devstack::images::PodmanCli;
//! use codeb_devstack::images::debian::{DataImages, DebianRootfs, NodeImage};
//!
//! let podman = PodmanCli::new("/tmp/stack/podman.sock".as_ref())?;
//! let cache = DebianRootfs::default_cache_dir()?;
//! let scratch = std::path::Path::new("/tmp/stack/images");
//! let images = DataImages {
//!     postgres: ImageRef::parse("localhost/codeb-test/postgres:15")?,
//!     redis: ImageRef::parse("localhost/codeb-test/redis:7")?,
//! };
//! images.build(&podman, &cache, scratch)?;
//! NodeImage { tag: ImageRef::parse("localhost/codeb-test/node:bookworm")? }.build(&podman, &cache, scratch)?;
//! # Ok(())
//! # }
//! ```

use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use codeb::Result;
use codeb::model::ImageRef;

use super::{PodmanCli, io_error, random_hex, run_command};
use crate::binaries::{self, SearchPath};

/// The Debian release the images are made of.
pub const SUITE: &str = "bookworm";
/// Where debootstrap fetches the packages from.
pub const MIRROR: &str = "http://deb.debian.org/debian";
/// The data images' root filesystem: PostgreSQL and Redis.
pub const DATA: PackageSet = PackageSet { name: "data", packages: &["postgresql-15", "redis-server"] };
/// The Node.js image's root filesystem: the runtime, and npm with `npx` (a
/// release command such as `npx prisma migrate deploy` runs it).
pub const NODE: PackageSet = PackageSet { name: "node", packages: &["nodejs", "npm"] };

/// The packages of one root filesystem, besides the minimal base, and the
/// name its base image is tagged with (`localhost/codeb-test/debian-<name>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackageSet {
    /// The base image's name.
    pub name: &'static str,
    /// The Debian packages installed.
    pub packages: &'static [&'static str],
}
/// The environment variable that names the cache directory instead of the default.
pub const CACHE_ENV: &str = "CODEB_IMAGE_CACHE";

/// What the images do not need, removed before the root filesystem is packed:
/// the downloaded packages, the package lists, and the cluster the
/// postgresql-common postinst made (the entrypoint makes its own).
const PRUNED: [&str; 4] = ["var/cache/apt/archives", "var/lib/apt/lists", "var/lib/postgresql/15", "etc/postgresql/15"];

/// Where a root filesystem's invoke-rc.d looks for the policy on starting daemons.
const POLICY_RC_D: &str = "usr/sbin/policy-rc.d";

/// The programs that make a root filesystem.
struct Tools {
    debootstrap: PathBuf,
    chroot: PathBuf,
    tar: PathBuf,
}

/// The PostgreSQL image's entrypoint.
const POSTGRES_ENTRYPOINT: &str = include_str!("postgres-entrypoint.sh");
/// The Redis image's entrypoint.
const REDIS_ENTRYPOINT: &str = include_str!("redis-entrypoint.sh");
/// Where each image's entrypoint lives, as in the official images.
const ENTRYPOINT_PATH: &str = "/usr/local/bin/docker-entrypoint.sh";

/// A root filesystem of a [`PackageSet`] on a minimal [`SUITE`], kept as a
/// tar file in a cache directory and made by debootstrap whenever it is missing.
#[derive(Clone, Debug)]
pub struct DebianRootfs {
    cache: PathBuf,
    set: PackageSet,
}

impl DebianRootfs {
    /// A root filesystem of `set` cached in `cache`.
    pub fn new(cache: &Path, set: PackageSet) -> Self {
        DebianRootfs { cache: cache.to_owned(), set }
    }

    /// `$CODEB_IMAGE_CACHE`, else `$XDG_CACHE_HOME/codeb/images`, else
    /// `$HOME/.cache/codeb/images`: outside any clone, so a fresh clone or
    /// `cargo clean` keeps it.
    pub fn default_cache_dir() -> Result<PathBuf> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(dir) = var(CACHE_ENV) {
            return Ok(dir);
        }
        let base = var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|home| home.join(".cache"))).ok_or_else(|| {
            codeb::Error::invalid(format!("neither {CACHE_ENV}, XDG_CACHE_HOME nor HOME names a cache directory"))
        })?;
        Ok(base.join("codeb").join("images"))
    }

    /// The tar file of the root filesystem (present or not).
    pub fn tarball(&self) -> PathBuf {
        self.cache.join(format!("{SUITE}-minbase-{}.tar", self.set.packages.join("-")))
    }

    /// The tar file, made first when the cache lacks it: debootstrap into a
    /// fresh directory of the cache, install the packages, prune, pack, and
    /// rename into place, so a build that fails or is killed leaves no tar
    /// file that looks whole.
    pub fn ensure(&self) -> Result<PathBuf> {
        let tarball = self.tarball();
        if tarball.is_file() {
            return Ok(tarball);
        }
        let search = SearchPath::new(None);
        let tools = Tools {
            debootstrap: search.require(binaries::DEBOOTSTRAP)?,
            chroot: search.require(binaries::CHROOT)?,
            tar: search.require(binaries::TAR)?,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.cache)
            .map_err(|e| io_error("create", &self.cache, e))?;
        let suffix = random_hex(6).map_err(|e| io_error("name a build directory in", &self.cache, e))?;
        let build = self.cache.join(format!("build-{suffix}"));
        let made = self.make(&tools, &build, &tarball);
        let _ = fs::remove_dir_all(&build);
        made.map(|()| tarball)
    }

    /// Debootstraps into `build/root`, installs the packages, prunes it and packs it as `tarball`.
    fn make(&self, tools: &Tools, build: &Path, tarball: &Path) -> Result<()> {
        DirBuilder::new().mode(0o755).create(build).map_err(|e| io_error("create", build, e))?;
        let root = build.join("root");
        let mut command = Command::new(&tools.debootstrap);
        command.arg("--variant=minbase").arg(SUITE).arg(&root).arg(MIRROR);
        run_command(command, "debootstrap")?;
        self.install(&tools.chroot, &root)?;
        for pruned in PRUNED {
            let dir = root.join(pruned);
            if dir.is_dir() {
                fs::remove_dir_all(&dir).map_err(|e| io_error("remove", &dir, e))?;
                DirBuilder::new().mode(0o755).create(&dir).map_err(|e| io_error("create", &dir, e))?;
            }
        }
        let packed = build.join("rootfs.tar");
        let mut command = Command::new(&tools.tar);
        command.arg("--numeric-owner").arg("-C").arg(&root).arg("-c").arg("-f").arg(&packed).arg(".");
        run_command(command, "tar")?;
        fs::rename(&packed, tarball).map_err(|e| io_error("move the root filesystem to", tarball, e))
    }

    /// Installs the packages into `root` with its own apt-get (debootstrap's
    /// `--include` resolves no alternatives, and npm's dependencies need
    /// them), from the package lists debootstrap left there. A policy-rc.d
    /// that refuses every start is in place meanwhile, so no postinst starts
    /// a daemon (postgresql-common's would start its cluster).
    fn install(&self, chroot: &Path, root: &Path) -> Result<()> {
        let policy = root.join(POLICY_RC_D);
        fs::write(&policy, "#!/bin/sh\nexit 101\n").map_err(|e| io_error("write", &policy, e))?;
        fs::set_permissions(&policy, fs::Permissions::from_mode(0o755)).map_err(|e| io_error("chmod", &policy, e))?;
        let mut command = Command::new(chroot);
        command
            .arg(root)
            .args(["apt-get", "install", "--yes", "--quiet", "--no-install-recommends"])
            .args(self.set.packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
        run_command(command, "apt-get install")?;
        fs::remove_file(&policy).map_err(|e| io_error("remove", &policy, e))
    }

    /// The base image of this root filesystem in `podman`: made (when the
    /// cache lacks it) and imported (when `podman` lacks it) first.
    pub fn import(&self, podman: &PodmanCli) -> Result<ImageRef> {
        let tarball = self.ensure()?;
        let base = self.base_image()?;
        if !podman.has_image(&base)? {
            podman.import(&tarball, &base)?;
        }
        Ok(base)
    }

    /// The base image the tar file is imported as (it must be there): its
    /// tag names the set and the file's size and modification time, so a
    /// cache made again is imported again and an unchanged one only once per
    /// Podman storage.
    pub fn base_image(&self) -> Result<ImageRef> {
        let tarball = self.tarball();
        let meta = fs::metadata(&tarball).map_err(|e| io_error("read", &tarball, e))?;
        let name = self.set.name;
        Ok(ImageRef::parse(&format!("localhost/codeb-test/debian-{name}:{SUITE}-{:x}-{:x}", meta.len(), meta.mtime()))?)
    }
}

/// The PostgreSQL and Redis test images, by tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataImages {
    /// The PostgreSQL image (the official `postgres` image's interface).
    pub postgres: ImageRef,
    /// The Redis image (the official `redis` image's interface).
    pub redis: ImageRef,
}

impl DataImages {
    /// Builds both images through `podman` on the base image of
    /// [`DATA`] cached in `cache` (made and imported first when
    /// missing), each in a fresh context directory under `scratch` that is
    /// removed afterwards.
    pub fn build(&self, podman: &PodmanCli, cache: &Path, scratch: &Path) -> Result<()> {
        let base = DebianRootfs::new(cache, DATA).import(podman)?;
        let entrypoint = |script| [("entrypoint.sh", script, 0o755)];
        build_one(podman, scratch, &self.postgres, &postgres_containerfile(&base), &entrypoint(POSTGRES_ENTRYPOINT))?;
        build_one(podman, scratch, &self.redis, &redis_containerfile(&base), &entrypoint(REDIS_ENTRYPOINT))
    }
}

/// The Node.js base image, by tag: Debian's `nodejs` and `npm` on the
/// minimal base, `node` as its command. A Node app's Containerfile builds
/// `FROM` it as it would from the official `node` image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeImage {
    /// The image's tag.
    pub tag: ImageRef,
}

impl NodeImage {
    /// Builds the image through `podman` on the base image of
    /// [`NODE`] cached in `cache` (made and imported first when
    /// missing), in a fresh context directory under `scratch` that is removed
    /// afterwards.
    pub fn build(&self, podman: &PodmanCli, cache: &Path, scratch: &Path) -> Result<()> {
        let base = DebianRootfs::new(cache, NODE).import(podman)?;
        build_one(podman, scratch, &self.tag, &node_containerfile(&base), &[])
    }
}

/// The Node.js image's Containerfile on `base`.
pub fn node_containerfile(base: &ImageRef) -> String {
    format!("FROM {base}\nENV LANG=C.UTF-8\nCMD [\"node\"]\n")
}

/// The PostgreSQL image's Containerfile on `base`.
pub fn postgres_containerfile(base: &ImageRef) -> String {
    format!(
        "FROM {base}\n\
         COPY entrypoint.sh {ENTRYPOINT_PATH}\n\
         ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
         PGDATA=/var/lib/postgresql/data LANG=C.UTF-8\n\
         STOPSIGNAL SIGINT\n\
         EXPOSE 5432\n\
         ENTRYPOINT [\"{ENTRYPOINT_PATH}\"]\n\
         CMD [\"postgres\"]\n"
    )
}

/// The Redis image's Containerfile on `base`.
pub fn redis_containerfile(base: &ImageRef) -> String {
    format!(
        "FROM {base}\n\
         COPY entrypoint.sh {ENTRYPOINT_PATH}\n\
         WORKDIR /data\n\
         EXPOSE 6379\n\
         ENTRYPOINT [\"{ENTRYPOINT_PATH}\"]\n\
         CMD [\"redis-server\"]\n"
    )
}

/// A file of a build context: its name, contents and mode.
type ContextFile<'a> = (&'a str, &'a str, u32);

/// Builds `tag` from `containerfile` and `files` in a fresh context under `scratch`.
fn build_one(
    podman: &PodmanCli,
    scratch: &Path,
    tag: &ImageRef,
    containerfile: &str,
    files: &[ContextFile<'_>],
) -> Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(scratch).map_err(|e| io_error("create", scratch, e))?;
    let suffix = random_hex(6).map_err(|e| io_error("name a build context in", scratch, e))?;
    let context = scratch.join(format!("context-{suffix}"));
    let built = write_context(&context, containerfile, files).and_then(|()| podman.build(&context, tag));
    let _ = fs::remove_dir_all(&context);
    built
}

fn write_context(context: &Path, containerfile: &str, files: &[ContextFile<'_>]) -> Result<()> {
    DirBuilder::new().mode(0o755).create(context).map_err(|e| io_error("create the build context", context, e))?;
    for (name, contents, mode) in files {
        let path = context.join(name);
        fs::write(&path, contents).map_err(|e| io_error("write", &path, e))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).map_err(|e| io_error("chmod", &path, e))?;
    }
    let file = context.join("Containerfile");
    fs::write(&file, containerfile).map_err(|e| io_error("write", &file, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entrypoints_are_valid_posix_shell() {
        for script in [POSTGRES_ENTRYPOINT, REDIS_ENTRYPOINT] {
            let out = Command::new("/bin/sh").args(["-n", "-c", script]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }

    #[test]
    fn the_images_run_their_entrypoint_with_the_official_default_command() {
        let base = ImageRef::parse("localhost/codeb-test/debian-data:x").unwrap();
        let postgres = postgres_containerfile(&base);
        assert!(postgres.starts_with("FROM localhost/codeb-test/debian-data:x\n"), "{postgres}");
        assert!(postgres.contains("PGDATA=/var/lib/postgresql/data"), "{postgres}");
        assert!(postgres.ends_with("ENTRYPOINT [\"/usr/local/bin/docker-entrypoint.sh\"]\nCMD [\"postgres\"]\n"));
        let redis = redis_containerfile(&base);
        assert!(redis.contains("WORKDIR /data\n"), "{redis}");
        assert!(redis.ends_with("CMD [\"redis-server\"]\n"), "{redis}");
    }

    #[test]
    fn the_node_image_runs_node_from_its_base() {
        let base = ImageRef::parse("localhost/codeb-test/debian:x").unwrap();
        assert_eq!(node_containerfile(&base), "FROM localhost/codeb-test/debian:x\nENV LANG=C.UTF-8\nCMD [\"node\"]\n");
    }

    #[test]
    fn the_cache_holds_one_tar_file_per_package_set_named_for_the_suite_and_packages() {
        let data = DebianRootfs::new(Path::new("/c"), DATA);
        assert_eq!(data.tarball(), Path::new("/c/bookworm-minbase-postgresql-15-redis-server.tar"));
        let node = DebianRootfs::new(Path::new("/c"), NODE);
        assert_eq!(node.tarball(), Path::new("/c/bookworm-minbase-nodejs-npm.tar"));
    }

    #[test]
    fn a_cached_tar_file_is_used_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = DebianRootfs::new(dir.path(), NODE);
        fs::write(rootfs.tarball(), b"cached").unwrap();
        assert_eq!(rootfs.ensure().unwrap(), rootfs.tarball(), "no debootstrap runs");
        let tag = rootfs.base_image().unwrap();
        assert!(tag.as_str().starts_with("localhost/codeb-test/debian-node:bookworm-6-"), "{tag}");
    }

    #[test]
    fn each_set_has_its_own_base_image_and_the_data_set_keeps_its_name() {
        let dir = tempfile::tempdir().unwrap();
        for set in [DATA, NODE] {
            fs::write(DebianRootfs::new(dir.path(), set).tarball(), b"cached").unwrap();
        }
        let data = DebianRootfs::new(dir.path(), DATA).base_image().unwrap();
        assert!(data.as_str().starts_with("localhost/codeb-test/debian-data:bookworm-6-"), "{data}");
        let node = DebianRootfs::new(dir.path(), NODE).base_image().unwrap();
        assert!(node.as_str().starts_with("localhost/codeb-test/debian-node:bookworm-6-"), "{node}");
    }
}
