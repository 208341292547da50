//! Environment variables: validated keys and values whose printing is masked.

use std::fmt;

use super::string_newtype;
use super::validation::ValidationError;

/// Largest accepted value, in bytes.
pub const MAX_ENV_VALUE_BYTES: usize = 64 * 1024;

/// What every masked value prints as.
pub const MASK: &str = "********";

/// The name of an environment variable: `[A-Za-z_][A-Za-z0-9_]*`, at most 255 characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvKey(String);

impl EnvKey {
    /// Validates `s` as an environment variable name.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        const FIELD: &str = "env key";
        let err = |rule: &str| Err(ValidationError::new(FIELD, s, rule));
        match s.chars().next() {
            None => return err("must not be empty"),
            Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
                return err("must start with a letter or '_'");
            }
            Some(_) => {}
        }
        if s.len() > 255 {
            return err("is at most 255 characters");
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return err("may contain only letters, digits and '_'");
        }
        Ok(EnvKey(s.to_owned()))
    }
}
string_newtype!(EnvKey);

/// The value of an environment variable: UTF-8 without NUL, at most 64 KiB.
///
/// Any value may be a secret, so `Debug` and `Display` always print a mask
/// and there is deliberately no `Serialize`: the plaintext is reached only
/// through [`EnvValue::expose`], which makes every place that handles it
/// visible in review.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvValue(String);

impl EnvValue {
    /// Validates `s` as an environment variable value. A rejection never echoes the value.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        const FIELD: &str = "env value";
        if s.contains('\0') {
            return Err(ValidationError::new(FIELD, s, "must not contain NUL").redacted());
        }
        if s.len() > MAX_ENV_VALUE_BYTES {
            return Err(ValidationError::new(FIELD, s, "is at most 64 KiB").redacted());
        }
        Ok(EnvValue(s.to_owned()))
    }

    /// The plaintext. Call this only to hand the value to a container or an encrypted store.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EnvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvValue({MASK})")
    }
}

impl fmt::Display for EnvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl std::str::FromStr for EnvValue {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnvValue::parse(s)
    }
}

/// One environment variable of a project environment.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name.
    pub key: EnvKey,
    /// The variable's value.
    pub value: EnvValue,
    /// Whether the value is a secret: never shown unless asked for explicitly.
    pub secret: bool,
}

impl EnvVar {
    /// A variable from its name and value, both validated. A rejected value is never echoed.
    pub fn parse(key: &str, value: &str, secret: bool) -> Result<Self, ValidationError> {
        Ok(EnvVar { key: EnvKey::parse(key)?, value: EnvValue::parse(value)?, secret })
    }

    /// A variable from `KEY=VALUE`: the value is all after the first `=`, so it
    /// may hold `=`. A text without `=` may be a secret pasted alone, so that
    /// rejection never echoes it either.
    pub fn parse_assignment(text: &str, secret: bool) -> Result<Self, ValidationError> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(ValidationError::new("env assignment", text, "is KEY=VALUE; this has no `=`").redacted());
        };
        EnvVar::parse(key, value, secret)
    }

    /// A variable that may be shown in listings.
    pub fn plain(key: EnvKey, value: EnvValue) -> Self {
        EnvVar { key, value, secret: false }
    }

    /// A variable whose value is never shown in listings.
    pub fn secret(key: EnvKey, value: EnvValue) -> Self {
        EnvVar { key, value, secret: true }
    }

    /// The value as a listing shows it: the plaintext of a plain variable, the mask of a secret.
    pub fn listed_value(&self) -> &str {
        if self.secret { MASK } else { self.value.expose() }
    }
}

impl fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvVar")
            .field("key", &self.key)
            .field("value", &self.listed_value())
            .field("secret", &self.secret)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_masked_in_debug_and_display() {
        let v = EnvValue::parse("hunter2").unwrap();
        assert_eq!(format!("{v}"), MASK);
        assert!(!format!("{v:?}").contains("hunter2"));
        assert_eq!(v.expose(), "hunter2");
        let var = EnvVar::secret(EnvKey::parse("PASSWORD").unwrap(), v);
        assert!(!format!("{var:?}").contains("hunter2"));
        assert_eq!(var.listed_value(), MASK);
    }

    #[test]
    fn rejected_values_are_not_echoed() {
        let e = EnvValue::parse("top\0secret").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(EnvValue::parse(&"x".repeat(MAX_ENV_VALUE_BYTES)).is_ok());
        assert!(EnvValue::parse(&"x".repeat(MAX_ENV_VALUE_BYTES + 1)).is_err());
    }

    #[test]
    fn assignments_split_on_the_first_equals_and_never_echo_the_value() {
        let var = EnvVar::parse_assignment("URL=postgres://a?b=c", true).unwrap();
        assert_eq!((var.key.as_str(), var.value.expose(), var.secret), ("URL", "postgres://a?b=c", true));
        let err = EnvVar::parse_assignment("NOEQUALS-hunter2", true).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(err.rule(), "is KEY=VALUE; this has no `=`");
        let bad_key = EnvVar::parse_assignment("BAD KEY=hunter2", true).unwrap_err();
        assert!(!bad_key.to_string().contains("hunter2"), "{bad_key}");
        let bad_value = EnvVar::parse("KEY", "hunter2\0", false).unwrap_err();
        assert!(!bad_value.to_string().contains("hunter2"), "{bad_value}");
    }

    #[test]
    fn keys_follow_the_posix_shape() {
        for ok in ["A", "_", "DATABASE_URL", "a1_b"] {
            assert!(EnvKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "A=B", "$A"] {
            assert!(EnvKey::parse(bad).is_err(), "{bad}");
        }
    }
}
