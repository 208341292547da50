//! The PostgreSQL and Redis test images, made of Debian's own packages, so
//! that the live tests run real databases on machines without a registry.
//!
//! A minimal bookworm root filesystem holding `postgresql-15` and
//! `redis-server` is made once by `debootstrap --variant=minbase` and kept as
//! a tar file in a cache directory outside the clone ([`DebianRootfs`]; a
//! debootstrap takes a minute or more, a missing or removed cache is made
//! again). It is imported into Podman as a base image, and each test image is
//! a reproducible build on that base with an entrypoint that follows the
//! official image's interface ([`DataImages`]):
//!
//! - PostgreSQL: `POSTGRES_PASSWORD`, `POSTGRES_USER`, `POSTGRES_DB`,
//!   `PGDATA` (each `*_FILE` too); `initdb` runs once, when `PGDATA` holds
//!   no `PG_VERSION`, as the official image does (so a server killed during
//!   its initialisation leaves the same broken directory behind).
//! - Redis: `redis-server` with the arguments given, as the redis user in
//!   `/data`.
//!
//! ```no_run
//! # fn main() -> codeb::Result<()> {
//! use codeb::model::ImageRef;
//! use codeb_devstack::images::PodmanCli;
//! use codeb_devstack::images::debian::{DataImages, DebianRootfs};
//!
//! let podman = PodmanCli::new("/tmp/stack/podman.sock".as_ref())?;
//! let rootfs = DebianRootfs::new(&DebianRootfs::default_cache_dir()?);
//! let images = DataImages {
//!     postgres: ImageRef::parse("localhost/codeb-test/postgres:15")?,
//!     redis: ImageRef::parse("localhost/codeb-test/redis:7")?,
//! };
//! images.build(&podman, &rootfs, "/tmp/stack/images".as_ref())?;
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
/// The packages installed into the root filesystem besides the minimal base.
pub const PACKAGES: [&str; 2] = ["postgresql-15", "redis-server"];
/// The environment variable that names the cache directory instead of the default.
pub const CACHE_ENV: &str = "CODEB_IMAGE_CACHE";

/// What the images do not need, removed before the root filesystem is packed:
/// the downloaded packages, the package lists, and the cluster the
/// postgresql-common postinst made (the entrypoint makes its own).
const PRUNED: [&str; 4] = ["var/cache/apt/archives", "var/lib/apt/lists", "var/lib/postgresql/15", "etc/postgresql/15"];

/// The PostgreSQL image's entrypoint.
const POSTGRES_ENTRYPOINT: &str = include_str!("postgres-entrypoint.sh");
/// The Redis image's entrypoint.
const REDIS_ENTRYPOINT: &str = include_str!("redis-entrypoint.sh");
/// Where each image's entrypoint lives, as in the official images.
const ENTRYPOINT_PATH: &str = "/usr/local/bin/docker-entrypoint.sh";

/// A root filesystem of [`PACKAGES`] on a minimal [`SUITE`], kept as a tar
/// file in a cache directory and made by debootstrap whenever it is missing.
#[derive(Clone, Debug)]
pub struct DebianRootfs {
    cache: PathBuf,
}

impl DebianRootfs {
    /// A root filesystem cached in `cache`.
    pub fn new(cache: &Path) -> Self {
        DebianRootfs { cache: cache.to_owned() }
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
        self.cache.join(format!("{SUITE}-minbase-{}.tar", PACKAGES.join("-")))
    }

    /// The tar file, made first when the cache lacks it: debootstrap into a
    /// fresh directory of the cache, prune, pack, and rename into place, so a
    /// build that fails or is killed leaves no tar file that looks whole.
    pub fn ensure(&self) -> Result<PathBuf> {
        let tarball = self.tarball();
        if tarball.is_file() {
            return Ok(tarball);
        }
        let search = SearchPath::new(None);
        let debootstrap = search.require(binaries::DEBOOTSTRAP)?;
        let tar = search.require(binaries::TAR)?;
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.cache)
            .map_err(|e| io_error("create", &self.cache, e))?;
        let suffix = random_hex(6).map_err(|e| io_error("name a build directory in", &self.cache, e))?;
        let build = self.cache.join(format!("build-{suffix}"));
        let made = self.make(&debootstrap, &tar, &build, &tarball);
        let _ = fs::remove_dir_all(&build);
        made.map(|()| tarball)
    }

    /// Debootstraps into `build/root`, prunes it and packs it as `tarball`.
    fn make(&self, debootstrap: &Path, tar: &Path, build: &Path, tarball: &Path) -> Result<()> {
        DirBuilder::new().mode(0o755).create(build).map_err(|e| io_error("create", build, e))?;
        let root = build.join("root");
        let mut command = Command::new(debootstrap);
        command
            .arg("--variant=minbase")
            .arg(format!("--include={}", PACKAGES.join(",")))
            .arg(SUITE)
            .arg(&root)
            .arg(MIRROR);
        run_command(command, "debootstrap")?;
        for pruned in PRUNED {
            let dir = root.join(pruned);
            if dir.is_dir() {
                fs::remove_dir_all(&dir).map_err(|e| io_error("remove", &dir, e))?;
                DirBuilder::new().mode(0o755).create(&dir).map_err(|e| io_error("create", &dir, e))?;
            }
        }
        let packed = build.join("rootfs.tar");
        let mut command = Command::new(tar);
        command.arg("--numeric-owner").arg("-C").arg(&root).arg("-c").arg("-f").arg(&packed).arg(".");
        run_command(command, "tar")?;
        fs::rename(&packed, tarball).map_err(|e| io_error("move the root filesystem to", tarball, e))
    }
}

/// The base image a tar file is imported as: its tag names the file's size
/// and modification time, so a cache made again is imported again and an
/// unchanged one only once per Podman storage.
pub fn base_image(tarball: &Path) -> Result<ImageRef> {
    let meta = fs::metadata(tarball).map_err(|e| io_error("read", tarball, e))?;
    Ok(ImageRef::parse(&format!("localhost/codeb-test/debian-data:{SUITE}-{:x}-{:x}", meta.len(), meta.mtime()))?)
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
    /// Builds both images through `podman` on the base image of `rootfs`
    /// (made and imported first when missing), each in a fresh context
    /// directory under `scratch` that is removed afterwards.
    pub fn build(&self, podman: &PodmanCli, rootfs: &DebianRootfs, scratch: &Path) -> Result<()> {
        let tarball = rootfs.ensure()?;
        let base = base_image(&tarball)?;
        if !podman.has_image(&base)? {
            podman.import(&tarball, &base)?;
        }
        build_one(podman, scratch, &self.postgres, &postgres_containerfile(&base), POSTGRES_ENTRYPOINT)?;
        build_one(podman, scratch, &self.redis, &redis_containerfile(&base), REDIS_ENTRYPOINT)
    }
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

/// Builds `tag` from `containerfile` and `entrypoint` in a fresh context under `scratch`.
fn build_one(podman: &PodmanCli, scratch: &Path, tag: &ImageRef, containerfile: &str, entrypoint: &str) -> Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(scratch).map_err(|e| io_error("create", scratch, e))?;
    let suffix = random_hex(6).map_err(|e| io_error("name a build context in", scratch, e))?;
    let context = scratch.join(format!("context-{suffix}"));
    let built = write_context(&context, containerfile, entrypoint).and_then(|()| podman.build(&context, tag));
    let _ = fs::remove_dir_all(&context);
    built
}

fn write_context(context: &Path, containerfile: &str, entrypoint: &str) -> Result<()> {
    DirBuilder::new().mode(0o755).create(context).map_err(|e| io_error("create the build context", context, e))?;
    let script = context.join("entrypoint.sh");
    fs::write(&script, entrypoint).map_err(|e| io_error("write", &script, e))?;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).map_err(|e| io_error("chmod", &script, e))?;
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
    fn the_cache_holds_one_tar_file_named_for_the_suite_and_packages() {
        let rootfs = DebianRootfs::new(Path::new("/c"));
        assert_eq!(rootfs.tarball(), Path::new("/c/bookworm-minbase-postgresql-15-redis-server.tar"));
    }

    #[test]
    fn a_cached_tar_file_is_used_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = DebianRootfs::new(dir.path());
        fs::write(rootfs.tarball(), b"cached").unwrap();
        assert_eq!(rootfs.ensure().unwrap(), rootfs.tarball(), "no debootstrap runs");
        let tag = base_image(&rootfs.tarball()).unwrap();
        assert!(tag.as_str().starts_with("localhost/codeb-test/debian-data:bookworm-6-"), "{tag}");
    }
}
