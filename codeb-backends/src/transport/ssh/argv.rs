//! An argv as the one command line SSH's `exec` carries.
//!
//! SSH sends a command as a single string, which the server hands to the
//! user's login shell. Each argument is put in single quotes (a `'` inside
//! becomes `'\''`), so every POSIX shell passes it to the program as one
//! literal word: nothing in it is split, expanded or run.

/// `argv` as a POSIX shell command line that runs exactly that argv.
pub(crate) fn command_line(argv: &[String]) -> String {
    argv.iter().map(|arg| quote(arg)).collect::<Vec<_>>().join(" ")
}

fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_argument_is_one_literal_word_for_the_shell() {
        let argv: Vec<String> =
            ["printf", "%s|", "a b", "it's", "$(touch /tmp/x)", "`id`", "*", ""].map(str::to_owned).into();
        let line = command_line(&argv);
        assert_eq!(line, r#"'printf' '%s|' 'a b' 'it'\''s' '$(touch /tmp/x)' '`id`' '*' ''"#);
        let out = std::process::Command::new("sh").arg("-c").arg(&line).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b|it's|$(touch /tmp/x)|`id`|*||");
    }
}
