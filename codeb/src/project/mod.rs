//! An app's side of a deploy: its project file (`codeb.toml`) and the
//! analysis of its directory (framework, accessories it needs, how it builds).

mod analysis;
mod file;
mod raw;
mod units;

pub use analysis::{Analysis, Framework, ProjectFiles, analyze};
pub use file::{BuildSection, PROJECT_FILE, ProjectFile};
pub use units::{parse_duration, parse_size};
