//! What analysis reads out of text that is not JSON: a Prisma schema's
//! datasource, a start script's port, next.config's output mode. Each reads
//! only what it looks for and leaves the rest alone.

use crate::model::Port;

/// The `provider` of the first `datasource` block of a Prisma schema.
pub(super) fn datasource_provider(schema: &str) -> Option<String> {
    let mut in_datasource = false;
    let uncommented: String =
        schema.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let blocks = uncommented.replace('{', "{\n").replace('}', "\n}\n");
    for line in blocks.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), in_datasource) {
            (Some("datasource"), false) => in_datasource = line.ends_with('{'),
            (Some("}"), true) => in_datasource = false,
            (Some(_), true) => {
                let Some(("provider", value)) = line.split_once('=').map(|(k, v)| (k.trim(), v.trim())) else {
                    continue;
                };
                let provider = value.strip_prefix('"')?.split('"').next()?;
                return Some(provider.to_owned());
            }
            _ => {}
        }
    }
    None
}

/// The port a start script gives: `-p N`, `--port N`, `-p=N`, `--port=N` or
/// an env prefix `PORT=N`; the first of them that is a number.
pub(super) fn start_script_port(script: &str) -> Option<Port> {
    let words: Vec<&str> = script.split_whitespace().collect();
    words.iter().enumerate().find_map(|(i, word)| {
        let given = match *word {
            "-p" | "--port" => words.get(i + 1).copied(),
            _ => ["-p=", "--port=", "PORT="].iter().find_map(|prefix| word.strip_prefix(prefix)),
        };
        given?.parse::<u16>().ok().and_then(|n| Port::new(n).ok())
    })
}

/// Whether a next.config (JavaScript or TypeScript) sets `output` to
/// `standalone`, in any quotes, outside a line comment.
pub(super) fn standalone_output(config: &str) -> bool {
    config.lines().filter(|l| !l.trim_start().starts_with("//")).any(|line| {
        line.match_indices("output").any(|(at, _)| {
            let rest = line[at + "output".len()..].trim_start();
            let Some(value) = rest.strip_prefix(':').map(str::trim_start) else { return false };
            ['"', '\'', '`'].iter().any(|q| value.strip_prefix(*q).is_some_and(|v| v.starts_with("standalone")))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_is_read_from_the_datasource_block_only() {
        let schema = r#"
// provider = "mysql" in a comment
generator client {
  provider = "prisma-client-js"
}

datasource db {
  // provider = "sqlite"
  url      = env("DATABASE_URL")
  provider = "postgresql" // the database
}
"#;
        assert_eq!(datasource_provider(schema).as_deref(), Some("postgresql"));
        assert_eq!(datasource_provider("generator client {\n provider = \"prisma-client-js\"\n}\n"), None);
        assert_eq!(datasource_provider("datasource db {\n provider = env(\"P\")\n}\n"), None);
    }

    #[test]
    fn a_start_scripts_port_is_its_first_numeric_one() {
        for (script, port) in [
            ("next start -p 4000", Some(4000)),
            ("next start --port 4001", Some(4001)),
            ("next start -p=4002", Some(4002)),
            ("PORT=4003 node index.js", Some(4003)),
            ("next start -p", None),
            ("next start -p 0", None),
            ("next start -p 70000", None),
            ("node index.js", None),
        ] {
            assert_eq!(start_script_port(script).map(Port::get), port, "{script}");
        }
    }

    #[test]
    fn standalone_output_is_found_in_any_quotes_but_not_in_a_comment() {
        assert!(standalone_output("const c = { output: 'standalone' };"));
        assert!(standalone_output("export default {\n  output : \"standalone\",\n}"));
        assert!(standalone_output("const nextConfig: NextConfig = { output: `standalone` };"));
        assert!(!standalone_output("// output: 'standalone'\nmodule.exports = {}"));
        assert!(!standalone_output("module.exports = { output: 'export' }"));
        assert!(!standalone_output("const output = 'standalone'"));
    }
}
