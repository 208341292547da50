//! An app's side of a deploy: its project file (`codeb.toml`), the analysis
//! of its directory (framework, accessories it needs, how it builds), the
//! Containerfile generated for a Node app without one, and `we init`, which
//! writes a project file from the analysis.

mod analysis;
mod containerfile;
mod file;
mod init;
mod raw;
mod units;

pub use analysis::{
    Analysis, Framework, PACKAGE_JSON, PackageManager, PortSource, Prisma, PrismaSchema, ProjectFiles, analyze,
};
pub use containerfile::{DEFAULT_BASE_IMAGE, generate as generate_containerfile};
pub use file::{BuildSection, PROJECT_FILE, ProjectFile};
pub use init::{InitOptions, InitReport, init, init_under};
pub use units::{parse_duration, parse_size};
