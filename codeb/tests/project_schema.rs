//! The JSON schema of `codeb.toml` that editors read (`docs/codeb.schema.json`):
//! it is what the SDK's own types generate, and it agrees with the loader.
//!
//! After a change to what codeb.toml holds, write the schema again with
//!
//! ```text
//! CODEB_UPDATE_SCHEMA=1 cargo test -p codeb --test project_schema
//! ```

use std::path::{Path, PathBuf};

use codeb::project::{PROJECT_FILE, ProjectFile};
use serde_json::Value;

const SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/codeb.schema.json");

fn validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&ProjectFile::json_schema())
        .unwrap_or_else(|e| panic!("the schema of codeb.toml is not a valid JSON Schema: {e}"))
}

/// The codeb.toml `text` as the JSON an editor checks against the schema.
fn as_json(text: &str) -> Value {
    let table: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    serde_json::to_value(table).unwrap()
}

/// Every way `text` breaks the schema.
fn schema_errors(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    validator.iter_errors(&as_json(text)).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

#[test]
fn the_committed_schema_is_the_one_the_types_generate() {
    let generated = format!("{:#}\n", ProjectFile::json_schema());
    if std::env::var_os("CODEB_UPDATE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_FILE, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(SCHEMA_FILE).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/codeb.schema.json is not what codeb's types generate; run \
         CODEB_UPDATE_SCHEMA=1 cargo test -p codeb --test project_schema"
    );
}

/// Every codeb.toml under `dir`, depth first.
fn project_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            project_files(&path, found);
        } else if path.file_name().is_some_and(|n| n == PROJECT_FILE) {
            found.push(path);
        }
    }
}

#[test]
fn every_example_project_file_loads_and_keeps_to_the_schema() {
    let validator = validator();
    let mut files = Vec::new();
    project_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"), &mut files);
    assert!(!files.is_empty(), "the examples hold project files");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        ProjectFile::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let errors = schema_errors(&validator, &text);
        assert!(errors.is_empty(), "{}:\n{}", path.display(), errors.join("\n"));
    }
}

const HEAD: &str = "name = \"shop\"\nimage = \"a:1\"\nport = 80\n";

#[test]
fn what_the_loader_takes_the_schema_takes_and_common_slips_it_flags_too() {
    let validator = validator();
    for rest in [
        "[healthcheck]\npath = \"/up\"\nstatus = \"200-399\"\ninterval = 30\ntimeout = \"1m30s\"\ndeadline = \"500ms\"\n",
        "[healthcheck]\nstart_period = \"1h2m3s4ms\"\nfailure_threshold = 1\n",
        "[resources]\nmemory = \"512MB\"\ncpus = 2\n",
        "[resources]\nmemory = \"1.5GiB\"\ncpus = 0.5\n",
        "[resources]\nmemory = 536870912\n",
        "[env]\nPORT = 3000\nDEBUG = true\nRATIO = 0.5\nNAME = \"shop\"\n",
        "command = [\"node\", \"server.js\"]\n[accessories]\npostgres = true\n[build]\ncontext = \"app\"\n",
        "[environments.staging]\ndomains = [\"a.example.com\"]\n[environments.preview-pr1]\ndomains = []\n",
    ] {
        let text = format!("{HEAD}{rest}");
        ProjectFile::parse(&text).unwrap_or_else(|e| panic!("{rest:?}: {e}"));
        let errors = schema_errors(&validator, &text);
        assert!(errors.is_empty(), "{rest:?}:\n{}", errors.join("\n"));
    }
    for rest in [
        "[healthcheck]\ninterval = \"30 seconds\"\n",
        "[healthcheck]\ntimeout = \"1.5s\"\n",
        "[healthcheck]\nfailure_threshold = 0\n",
        "[resources]\nmemory = \"512 MB\"\n",
        "[resources]\nmemory = 512\n",
        "[resources]\ncpus = \"1.5\"\n",
        "[env]\nLIST = [1, 2]\n",
        "[env]\n\"A B\" = \"x\"\n",
        "[environments.prod]\ndomains = []\n",
        "prot = 81\n",
        "port = 0\n",
    ] {
        let text = if rest == "port = 0\n" { HEAD.replace("port = 80", "port = 0") } else { format!("{HEAD}{rest}") };
        assert!(ProjectFile::parse(&text).is_err(), "{rest:?}: the loader refuses it");
        assert!(!schema_errors(&validator, &text).is_empty(), "{rest:?}: an editor flags it too");
    }
}
