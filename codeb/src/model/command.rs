//! The command an app runs instead of its image's default: an argv, never a
//! shell line.

use crate::model::ValidationError;

/// Refuses a command that no process could be started with: no words, an
/// empty program, or a NUL inside a word (argv strings end at NUL, so the
/// process would run something other than what was written).
pub fn check_command(command: &[String]) -> Result<(), ValidationError> {
    check_argv("command", command)
}

/// [`check_command`] for the release command (`release_command` in `codeb.toml`).
pub fn check_release_command(command: &[String]) -> Result<(), ValidationError> {
    check_argv("release_command", command)
}

/// The rule of [`check_command`], a refusal naming `field`.
fn check_argv(field: &'static str, command: &[String]) -> Result<(), ValidationError> {
    let Some(program) = command.first() else {
        return Err(ValidationError::new(field, "[]", "names a program to run"));
    };
    if program.is_empty() {
        return Err(ValidationError::new(field, "", "names a program to run: its first word is empty"));
    }
    match command.iter().find(|word| word.contains('\0')) {
        Some(word) => Err(ValidationError::new(field, word, "must not contain NUL")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_names_a_program_and_holds_no_nul() {
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert!(check_command(&argv(&["node", "server.js", ""])).is_ok());
        assert!(check_command(&argv(&[])).is_err());
        assert!(check_command(&argv(&["", "x"])).is_err());
        let nul = check_command(&argv(&["sh", "-c", "echo hi\0; rm -rf /"])).unwrap_err();
        assert_eq!(nul.field(), "command");
        assert!(nul.to_string().contains("hi\\u{0};"), "the value is shown escaped: {nul}");
        assert_eq!(check_release_command(&argv(&[])).unwrap_err().field(), "release_command");
    }
}
