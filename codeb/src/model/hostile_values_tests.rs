//! One table of hostile inputs across every validated type: each must be
//! refused with a typed error naming the field, showing the value escaped
//! (no raw control characters), and stating a rule.

use super::*;

type Parser = fn(&str) -> Result<(), ValidationError>;

fn project(s: &str) -> Result<(), ValidationError> {
    ProjectName::parse(s).map(drop)
}
fn environment(s: &str) -> Result<(), ValidationError> {
    Environment::parse(s).map(drop)
}
fn domain(s: &str) -> Result<(), ValidationError> {
    DomainName::parse(s).map(drop)
}
fn env_key(s: &str) -> Result<(), ValidationError> {
    EnvKey::parse(s).map(drop)
}
fn env_value(s: &str) -> Result<(), ValidationError> {
    EnvValue::parse(s).map(drop)
}
fn env_assignment(s: &str) -> Result<(), ValidationError> {
    EnvVar::parse_assignment(s, true).map(drop)
}
fn image(s: &str) -> Result<(), ValidationError> {
    ImageRef::parse(s).map(drop)
}
fn port(s: &str) -> Result<(), ValidationError> {
    s.parse::<Port>().map(drop)
}
fn server(s: &str) -> Result<(), ValidationError> {
    ServerName::parse(s).map(drop)
}
fn release(s: &str) -> Result<(), ValidationError> {
    ReleaseId::parse(s).map(drop)
}
fn volume(s: &str) -> Result<(), ValidationError> {
    VolumeName::parse(s).map(drop)
}

#[test]
fn every_hostile_value_is_refused_with_field_escaped_value_and_rule() {
    let overlong_label = "a".repeat(64);
    let overlong_domain = format!("{}example.com", "abcdefghij.".repeat(24));
    let overlong_value = "v".repeat(64 * 1024 + 1);
    let cases: Vec<(&str, Parser, String)> = vec![
        ("project name", project, "shop; rm -rf /".into()),
        ("project name", project, "shop&&id".into()),
        ("project name", project, "a|b".into()),
        ("project name", project, "$(reboot)".into()),
        ("project name", project, "`id`".into()),
        ("project name", project, "a<b>".into()),
        ("project name", project, "shop\nstaging".into()),
        ("project name", project, "shop\r".into()),
        ("project name", project, "sh\0op".into()),
        ("project name", project, "../etc".into()),
        ("project name", project, "-rf".into()),
        ("project name", project, "my shop".into()),
        ("project name", project, "{shop}".into()),
        ("project name", project, overlong_label.clone()),
        ("project name", project, "Shop".into()),
        ("project name", project, "".into()),
        ("project name", project, "root".into()),
        ("environment", environment, "staging;id".into()),
        ("environment", environment, "preview-$(id)".into()),
        ("environment", environment, "preview-../x".into()),
        ("environment", environment, "PRODUCTION".into()),
        ("environment", environment, "".into()),
        ("domain", domain, "shop.example.com; id".into()),
        ("domain", domain, "shop.example.com\nevil.com".into()),
        ("domain", domain, "{shop}.example.com".into()),
        ("domain", domain, "`id`.example.com".into()),
        ("domain", domain, "\"shop\".example.com".into()),
        ("domain", domain, "-shop.example.com".into()),
        ("domain", domain, "shop..example.com".into()),
        ("domain", domain, "../example.com".into()),
        ("domain", domain, overlong_domain),
        ("domain", domain, "".into()),
        ("domain", domain, "shop.*.example.com".into()),
        ("env key", env_key, "A;B".into()),
        ("env key", env_key, "PATH\n".into()),
        ("env key", env_key, "-A".into()),
        ("env key", env_key, "A B".into()),
        ("env key", env_key, "".into()),
        ("env value", env_value, "a\0b".into()),
        ("env value", env_value, overlong_value),
        ("env assignment", env_assignment, "hunter2-pasted-alone".into()),
        ("env value", env_assignment, "KEY=a\0b".into()),
        ("image", image, "busybox;id".into()),
        ("image", image, "busybox:$(id)".into()),
        ("image", image, "-busybox".into()),
        ("image", image, "BusyBox".into()),
        ("image", image, "busybox\n".into()),
        ("image", image, "../busybox".into()),
        ("port", port, "0".into()),
        ("port", port, "80 && id".into()),
        ("port", port, "-1".into()),
        ("server name", server, "app;id".into()),
        ("server name", server, "".into()),
        ("release id", release, "v1|id".into()),
        ("release id", release, "V1".into()),
        ("volume name", volume, "../../etc".into()),
        ("volume name", volume, "-v".into()),
        ("volume name", volume, "a b".into()),
    ];
    assert!(cases.len() >= 30);
    for (field, parse, value) in &cases {
        let err = match parse(value) {
            Ok(()) => panic!("{field} accepted hostile value {value:?}"),
            Err(e) => e,
        };
        assert_eq!(err.field(), *field, "wrong field for {value:?}");
        assert!(!err.rule().is_empty(), "no rule for {value:?}");
        let shown = err.to_string();
        assert!(
            !shown.chars().any(|c| c.is_control()),
            "the error for {value:?} contains a raw control character: {shown:?}"
        );
        if *field == "env value" || *field == "env assignment" {
            assert!(!shown.contains(value.as_str()), "an env value was echoed");
        } else if value.chars().all(|c| (' '..='~').contains(&c)) && value.len() < 80 && !value.contains(['"', '\\']) {
            assert!(shown.contains(value.as_str()), "the error does not name the value {value:?}: {shown}");
        }
    }
}
