//! The SDK's schemas as standard JSON Schema 2020-12, for clients that know
//! nothing of schemars: the MCP server passes each tool's input and output
//! schema through [`input`] and [`output`].
//!
//! schemars describes Rust's integer widths with `format` values of its own
//! (`uint16`, `uint64`, `uint`, ...) and `IpAddr` as `format: ip`; JSON Schema
//! defines none of them, so generic clients (the MCP Inspector, Ajv) warn
//! about every one. They become `minimum`/`maximum` (or, for `ip`, the
//! standard `ipv4`/`ipv6`), and any other format JSON Schema does not define
//! is dropped. In arguments, an optional value is left out, never sent as
//! `null`: `["integer", "null"]` made generic clients send `"5"`, so an
//! optional argument is typed as what it is when given.

use schemars::Schema;
use schemars::transform::{RecursiveTransform, Transform};
use serde_json::{Map, Value, json};

/// A JSON object, as a schema is one.
type JsonObject = Map<String, Value>;

/// The formats JSON Schema 2020-12 defines (its "Vocabularies for Semantic Content With format").
pub const STANDARD_FORMATS: [&str; 19] = [
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// The range of an integer `format` schemars writes, as JSON numbers.
fn integer_range(format: &str) -> Option<(Value, Value)> {
    Some(match format {
        "int8" => (json!(i8::MIN), json!(i8::MAX)),
        "int16" => (json!(i16::MIN), json!(i16::MAX)),
        "int32" => (json!(i32::MIN), json!(i32::MAX)),
        "int64" | "int" => (json!(i64::MIN), json!(i64::MAX)),
        "uint8" => (json!(0), json!(u8::MAX)),
        "uint16" => (json!(0), json!(u16::MAX)),
        "uint32" => (json!(0), json!(u32::MAX)),
        "uint64" | "uint" => (json!(0), json!(u64::MAX)),
        _ => return None,
    })
}

/// Formats become standard: integer widths turn into bounds (kept where a
/// field states its own), `ip` into `ipv4` or `ipv6`, anything else unknown goes.
fn standard_formats(schema: &mut Schema) {
    let Some(format) = schema.get("format").and_then(Value::as_str).map(str::to_owned) else { return };
    if STANDARD_FORMATS.contains(&format.as_str()) {
        return;
    }
    schema.remove("format");
    if let Some((min, max)) = integer_range(&format) {
        if schema.get("minimum").is_none() {
            schema.insert("minimum".to_owned(), min);
        }
        if schema.get("maximum").is_none() {
            schema.insert("maximum".to_owned(), max);
        }
    } else if format == "ip" && schema.get("anyOf").is_none() {
        schema.insert("anyOf".to_owned(), json!([{ "format": "ipv4" }, { "format": "ipv6" }]));
    }
}

/// An optional argument is typed as its value: `["integer", "null"]` becomes
/// `"integer"`, and a `null` default goes (leaving the argument out is how
/// to not give it).
fn not_null(schema: &mut Schema) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            schema.insert("type".to_owned(), only);
        }
    }
    if let Some(Value::Array(any)) = schema.get_mut("anyOf") {
        any.retain(|s| s.get("type") != Some(&json!("null")));
        if let [only] = any.as_slice() {
            let only = only.clone();
            schema.remove("anyOf");
            if let Value::Object(only) = only {
                for (k, v) in only {
                    schema.insert(k, v);
                }
            }
        }
    }
    if schema.get("default") == Some(&Value::Null) {
        schema.remove("default");
    }
}

fn apply(schema: &JsonObject, transform: impl Transform) -> JsonObject {
    let mut schema = Schema::from(schema.clone());
    RecursiveTransform(transform).transform(&mut schema);
    match Value::from(schema) {
        Value::Object(object) => object,
        // Transforms keep an object an object; the root of a tool schema is one.
        _ => JsonObject::new(),
    }
}

/// A tool's `inputSchema`: standard formats, no `null` arguments.
pub fn input(schema: &JsonObject) -> JsonObject {
    apply(schema, |s: &mut Schema| {
        standard_formats(s);
        not_null(s);
    })
}

/// A tool's `outputSchema`: standard formats (a `null` in an answer is real and stays).
pub fn output(schema: &JsonObject) -> JsonObject {
    apply(schema, standard_formats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> JsonObject {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn integer_formats_become_bounds_and_a_fields_own_bounds_win() {
        let schema = object(json!({
            "type": "object",
            "properties": {
                "tail": { "type": ["integer", "null"], "format": "uint32", "minimum": 1, "maximum": 1000, "default": null },
                "port": { "type": "integer", "format": "uint16", "minimum": 0 },
                "host": { "type": "string", "format": "ip" },
                "at": { "type": "string", "format": "date-time" },
                "ratio": { "type": "number", "format": "double" }
            },
            "$defs": { "Pid": { "type": "integer", "format": "uint32" } }
        }));
        let out = Value::Object(output(&schema));
        assert_eq!(
            out["properties"]["tail"],
            json!({ "type": ["integer", "null"], "minimum": 1, "maximum": 1000, "default": null })
        );
        assert_eq!(out["properties"]["port"], json!({ "type": "integer", "minimum": 0, "maximum": 65535 }));
        assert_eq!(out["properties"]["host"]["anyOf"], json!([{ "format": "ipv4" }, { "format": "ipv6" }]));
        assert_eq!(out["properties"]["at"]["format"], "date-time", "standard formats stay");
        assert_eq!(out["properties"]["ratio"], json!({ "type": "number" }));
        assert_eq!(out["$defs"]["Pid"], json!({ "type": "integer", "minimum": 0, "maximum": 4294967295u32 }));

        let input = Value::Object(input(&schema));
        assert_eq!(input["properties"]["tail"], json!({ "type": "integer", "minimum": 1, "maximum": 1000 }));
    }

    #[test]
    fn an_optional_object_argument_is_typed_as_the_object() {
        let schema = object(json!({
            "type": "object",
            "properties": { "to": { "anyOf": [{ "$ref": "#/$defs/Release" }, { "type": "null" }], "default": null } }
        }));
        let input = Value::Object(input(&schema));
        assert_eq!(input["properties"]["to"], json!({ "$ref": "#/$defs/Release" }));
    }
}
