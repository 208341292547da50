//! What a result class reads from the JSON schema of the SDK type it mirrors:
//! its attributes (name, doc, where the value sits in the JSON, what it reads
//! as when absent) and how each value becomes a Python value.
//!
//! The rules, the same for every class:
//! - every field of the SDK type is an attribute of the same name, unless an
//!   alias renames it (`from_release = "/from"`: `from` is a Python keyword);
//!   an alias may also reach into a field (`healthy = "/verdict/healthy"`), or
//!   into one variant of a tagged enum (`upstreams = route_switched "/to"`);
//! - the fields of a tagged enum are those of all its variants; one that the
//!   value's variant lacks reads as `None`;
//! - an absent field reads as `None` when it may be null (or belongs to
//!   another variant), else as the empty value of its type (serde's default:
//!   `[]`, `{}`, `False`, `0`, `""`);
//! - a value whose SDK type has a result class becomes that class wherever it
//!   sits (an attribute, a list, a dict); an RFC 3339 `date-time` string
//!   becomes an aware `datetime.datetime`; everything else is plain JSON
//!   (`dict`, `list`, `str`, `int`, `float`, `bool`, `None`).

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::{Map, Value};

use super::class::ClassRef;
use crate::convert::{literal, quote, to_py};

/// An attribute at another place than its own field: `name = "/pointer"`,
/// or `name = variant "/pointer"` for one variant of a tagged enum.
pub(crate) struct Alias {
    /// The attribute's name.
    pub(crate) name: &'static str,
    /// The variant (the tag's value) the pointer applies to; other variants read `None`.
    pub(crate) variant: Option<&'static str>,
    /// A JSON pointer into the value (RFC 6901).
    pub(crate) pointer: &'static str,
}

/// The attributes of a result class, read from its SDK type's schema once.
pub(crate) struct Layout {
    /// The tag of a tagged enum (`event` of a `DeployEvent`): its value leads the repr.
    pub(crate) tag: Option<String>,
    /// The attributes, in the schema's order: required fields as declared, then the others by name.
    pub(crate) attrs: Vec<Attr>,
}

/// One attribute of a result class.
pub(crate) struct Attr {
    /// The Python name.
    pub(crate) name: String,
    /// The SDK field's doc comment.
    pub(crate) doc: String,
    pointer: String,
    variant: Option<(String, String)>,
    shape: Shape,
    absent: Value,
    /// The schemas the value may have (the stubs type it from them).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) schemas: Vec<Value>,
    /// Whether it may read as `None`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) optional: bool,
}

impl Attr {
    /// Where the value sits in the JSON (RFC 6901).
    pub(crate) fn pointer(&self) -> &str {
        &self.pointer
    }

    /// The JSON under this attribute, if `json` holds it.
    pub(crate) fn value<'a>(&self, json: &'a Value) -> Option<&'a Value> {
        if let Some((tag, variant)) = &self.variant
            && json.get(tag).and_then(Value::as_str) != Some(variant)
        {
            return None;
        }
        json.pointer(&self.pointer)
    }

    /// The attribute of `json` as a Python value.
    pub(crate) fn read<'py>(&self, py: Python<'py>, json: &Value) -> PyResult<Bound<'py, PyAny>> {
        self.shape.to_py(py, self.value(json).unwrap_or(&self.absent))
    }

    /// The attribute's value of `json` in a repr, if `json` holds one.
    pub(crate) fn repr(&self, json: &Value) -> Option<String> {
        self.value(json).map(|v| self.shape.repr(v))
    }
}

/// How a JSON value becomes a Python value.
#[derive(Clone, PartialEq)]
pub(crate) enum Shape {
    /// Plain JSON.
    Plain,
    /// An RFC 3339 string as an aware `datetime.datetime`.
    DateTime,
    /// An object of an SDK type that has a result class.
    Class(ClassRef),
    /// A list of values of one shape.
    List(Box<Shape>),
    /// A dict whose values have one shape.
    Map(Box<Shape>),
    /// A dict some of whose fields have their own shape.
    Object(Vec<(String, Shape)>),
}

impl Shape {
    /// `value` as a Python object. A value that does not fit the shape converts as plain JSON.
    pub(crate) fn to_py<'py>(&self, py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
        match (self, value) {
            (Shape::Class(class), Value::Object(_)) => (class.new)(py, value.clone()),
            (Shape::DateTime, Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
                Ok(at) => Ok(at.with_timezone(&Utc).into_pyobject(py)?.into_any()),
                Err(_) => to_py(py, value),
            },
            (Shape::List(item), Value::Array(items)) => {
                let list = PyList::empty(py);
                for v in items {
                    list.append(item.to_py(py, v)?)?;
                }
                Ok(list.into_any())
            }
            (Shape::Map(_) | Shape::Object(_), Value::Object(map)) => {
                let dict = PyDict::new(py);
                for (k, v) in map {
                    dict.set_item(k, self.field(k).to_py(py, v)?)?;
                }
                Ok(dict.into_any())
            }
            _ => to_py(py, value),
        }
    }

    /// `value` in Python literal syntax, nested result objects as their reprs.
    pub(crate) fn repr(&self, value: &Value) -> String {
        match (self, value) {
            (Shape::Class(class), Value::Object(_)) => (class.repr)(value),
            (Shape::List(item), Value::Array(items)) => {
                format!("[{}]", items.iter().map(|v| item.repr(v)).collect::<Vec<_>>().join(", "))
            }
            (Shape::Map(_) | Shape::Object(_), Value::Object(map)) => format!(
                "{{{}}}",
                map.iter()
                    .map(|(k, v)| format!("{}: {}", quote(k), self.field(k).repr(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => literal(value),
        }
    }

    /// The shape of field `key` of a dict of this shape.
    pub(crate) fn field(&self, key: &str) -> &Shape {
        match self {
            Shape::Map(item) => item,
            Shape::Object(fields) => fields.iter().find(|(k, _)| k == key).map_or(&Shape::Plain, |(_, s)| s),
            _ => &Shape::Plain,
        }
    }
}

/// The shape of a whole value of the type whose root schema is `root`.
pub(crate) fn shape(root: &Value, class_of: fn(&str) -> Option<ClassRef>) -> Shape {
    let empty = Map::new();
    Schemas { defs: root.get("$defs").and_then(Value::as_object).unwrap_or(&empty), class_of }.shape(root, 0)
}

/// Reads the layout of a class from its SDK type's root schema.
///
/// `class_of` names the result class of an SDK type by its schema name. An
/// error names a declaration that does not fit the schema (an alias to a
/// field the type lacks): a bug in codeb-py that its tests catch.
pub(crate) fn layout(
    class: &str,
    root: &Value,
    aliases: &[Alias],
    class_of: fn(&str) -> Option<ClassRef>,
) -> Result<Layout, String> {
    let empty = Map::new();
    let schemas = Schemas { defs: root.get("$defs").and_then(Value::as_object).unwrap_or(&empty), class_of };
    let variants = schemas.objects(root);
    let tag = tag(&variants);
    let mut attrs = Vec::new();
    for field in fields(&variants) {
        let hidden = aliases.iter().any(|a| a.pointer == format!("/{}", field.name) || a.name == field.name);
        if !hidden {
            let optional = field.schemas.len() < variants.len() || field.schemas.iter().any(|s| schemas.nullable(s));
            attrs.push(schemas.attr(field.name, format!("/{}", field.name), None, &field.schemas, optional, None));
        }
        for alias in aliases.iter().filter(|a| first_segment(a.pointer) == field.name) {
            attrs.push(schemas.alias(class, alias, &variants, tag.as_deref())?);
        }
    }
    if let Some(stray) = aliases.iter().find(|a| !attrs.iter().any(|attr| attr.name == a.name)) {
        return Err(format!("{class}.{}: {} is not a field of the SDK type", stray.name, stray.pointer));
    }
    Ok(Layout { tag, attrs })
}

fn first_segment(pointer: &str) -> &str {
    pointer.trim_start_matches('/').split('/').next().unwrap_or_default()
}

/// A field of an object schema or of the variants of a tagged enum.
struct Field<'a> {
    name: &'a str,
    /// Its schema in each variant that has it.
    schemas: Vec<&'a Value>,
}

/// The fields of `variants`, each once, in order: each variant's required
/// fields as declared (the schema keeps that order), then its others by name.
fn fields<'a>(variants: &[&'a Value]) -> Vec<Field<'a>> {
    let mut fields: Vec<Field<'a>> = Vec::new();
    for variant in variants {
        let Some(props) = variant.get("properties").and_then(Value::as_object) else { continue };
        let required: Vec<&str> = variant
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let ordered =
            required.iter().copied().chain(props.keys().map(String::as_str).filter(|k| !required.contains(k)));
        for name in ordered {
            let Some((name, schema)) = props.get_key_value(name) else { continue };
            match fields.iter_mut().find(|f| f.name == name) {
                Some(field) => field.schemas.push(schema),
                None => fields.push(Field { name, schemas: vec![schema] }),
            }
        }
    }
    fields
}

/// The tag of a tagged enum: the field that is a constant in every variant.
fn tag(variants: &[&Value]) -> Option<String> {
    let first = variants.first()?.get("properties")?.as_object()?;
    let is_tag = |name: &str| {
        variants.iter().all(|v| v.get("properties").and_then(|p| p.get(name)).is_some_and(|s| s.get("const").is_some()))
    };
    (variants.len() > 1).then(|| first.keys().find(|k| is_tag(k)).cloned()).flatten()
}

/// The `$defs` of one root schema, and the registry of result classes.
struct Schemas<'a> {
    defs: &'a Map<String, Value>,
    class_of: fn(&str) -> Option<ClassRef>,
}

impl<'a> Schemas<'a> {
    /// `schema` with `$ref`s followed.
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match def_name(schema).and_then(|name| self.defs.get(name)) {
                Some(def) => schema = def,
                None => break,
            }
        }
        schema
    }

    /// The object schemas a value of `schema` may match: itself, or each variant of an enum.
    fn objects(&self, schema: &'a Value) -> Vec<&'a Value> {
        let schema = self.resolve(schema);
        match alternatives(schema) {
            Some(alts) if schema.get("properties").is_none() => alts.iter().flat_map(|alt| self.objects(alt)).collect(),
            _ if schema.get("properties").is_some() => vec![schema],
            _ => Vec::new(),
        }
    }

    /// Whether a value of `schema` may be null.
    fn nullable(&self, schema: &Value) -> bool {
        let schema = self.resolve(schema);
        let types = match schema.get("type") {
            Some(Value::String(t)) => t == "null",
            Some(Value::Array(ts)) => ts.iter().any(|t| t == "null"),
            _ => false,
        };
        types || alternatives(schema).is_some_and(|alts| alts.iter().any(|alt| self.nullable(alt)))
    }

    /// What an absent, non-null field of `schema` reads as: serde's default of its type.
    fn default(&self, schema: &Value) -> Value {
        if let Some(default) = schema.get("default") {
            return default.clone();
        }
        let schema = self.resolve(schema);
        match schema.get("type").and_then(Value::as_str) {
            Some("array") => Value::Array(Vec::new()),
            Some("object") => Value::Object(Map::new()),
            Some("boolean") => Value::Bool(false),
            Some("integer" | "number") => Value::from(0),
            Some("string") if schema.get("const").is_none() => Value::String(String::new()),
            _ => Value::Null,
        }
    }

    fn attr(
        &self,
        name: &str,
        pointer: String,
        variant: Option<(String, String)>,
        schemas: &[&'a Value],
        optional: bool,
        doc: Option<String>,
    ) -> Attr {
        let doc = doc.or_else(|| schemas.iter().find_map(|s| description(s))).unwrap_or_default();
        Attr {
            name: name.to_owned(),
            doc,
            pointer,
            variant,
            shape: self.combine(schemas.iter().map(|s| self.shape(s, 0))),
            absent: if optional { Value::Null } else { schemas.first().map_or(Value::Null, |s| self.default(s)) },
            schemas: schemas.iter().map(|s| (*s).clone()).collect(),
            optional,
        }
    }

    /// The attribute an alias names: its pointer followed through the schema.
    fn alias(&self, class: &str, alias: &Alias, variants: &[&'a Value], tag: Option<&str>) -> Result<Attr, String> {
        let fail = |why: &str| format!("{class}.{}: {} {why}", alias.name, alias.pointer);
        let mut current: Vec<&'a Value> = match (alias.variant, tag) {
            (None, _) => variants.to_vec(),
            (Some(variant), Some(tag)) => {
                let of = |v: &&Value| v.pointer(&format!("/properties/{tag}/const")) == Some(&Value::from(variant));
                variants.iter().copied().filter(of).collect()
            }
            (Some(_), None) => return Err(fail("names a variant, but the SDK type is not a tagged enum")),
        };
        if current.is_empty() {
            return Err(fail("names a variant the SDK type does not have"));
        }
        // The other variants read `None`.
        let (mut optional, mut doc) = (current.len() < variants.len(), None);
        let segments: Vec<&str> = alias.pointer.trim_start_matches('/').split('/').collect();
        for segment in &segments {
            let mut next = Vec::new();
            for schema in &current {
                optional |= self.nullable(schema);
                let objects = self.objects(schema);
                for object in &objects {
                    match object.get("properties").and_then(|p| p.get(*segment)) {
                        Some(field) => next.push(field),
                        None => optional = true,
                    }
                }
                optional |= objects.is_empty();
            }
            if next.is_empty() {
                return Err(fail("is not in the SDK type's schema"));
            }
            doc = next.iter().find_map(|s| description(s)).or(doc);
            current = next;
        }
        if let Some(values) = current.iter().map(|s| s.get("const")).collect::<Option<Vec<_>>>() {
            let values: Vec<String> = values.iter().map(|v| format!("`{}`", v.as_str().unwrap_or_default())).collect();
            let base = doc.as_deref().unwrap_or("The kind").trim_end_matches('.').to_owned();
            doc = Some(format!("{base}: one of {}.", values.join(", ")));
        }
        let variant = alias.variant.zip(tag).map(|(v, t)| (t.to_owned(), v.to_owned()));
        Ok(self.attr(alias.name, alias.pointer.to_owned(), variant, &current, optional, doc))
    }

    /// How a value of `schema` becomes a Python value.
    fn shape(&self, schema: &Value, depth: usize) -> Shape {
        if depth > 32 {
            return Shape::Plain;
        }
        if let Some(name) = def_name(schema) {
            if let Some(class) = (self.class_of)(name) {
                return Shape::Class(class);
            }
            return self.shape(self.resolve(schema), depth + 1);
        }
        if let Some(alts) = alternatives(schema)
            && schema.get("properties").is_none()
        {
            return self.combine(alts.iter().map(|alt| self.shape(alt, depth + 1)));
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if types.contains(&"string") && schema.get("format").and_then(Value::as_str) == Some("date-time") {
            return Shape::DateTime;
        }
        if types.contains(&"array") {
            return match schema.get("items").map(|items| self.shape(items, depth + 1)) {
                Some(Shape::Plain) | None => Shape::Plain,
                Some(item) => Shape::List(Box::new(item)),
            };
        }
        if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            return match self.shape(values, depth + 1) {
                Shape::Plain => Shape::Plain,
                item => Shape::Map(Box::new(item)),
            };
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            let fields: Vec<(String, Shape)> = props
                .iter()
                .map(|(k, v)| (k.clone(), self.shape(v, depth + 1)))
                .filter(|(_, s)| *s != Shape::Plain)
                .collect();
            let shape = if fields.is_empty() { Shape::Plain } else { Shape::Object(fields) };
            // Fields flattened into the object from an enum (`#[serde(flatten)]`).
            return match alternatives(schema) {
                Some(alts) => self.combine(std::iter::once(shape).chain(alts.iter().map(|a| self.shape(a, depth + 1)))),
                None => shape,
            };
        }
        Shape::Plain
    }

    /// One shape for a value that may have any of `shapes`: the one that is not
    /// plain, the merged fields of dicts, or plain when they disagree.
    fn combine(&self, shapes: impl Iterator<Item = Shape>) -> Shape {
        let mut distinct: Vec<Shape> = Vec::new();
        for shape in shapes.filter(|s| *s != Shape::Plain) {
            if !distinct.contains(&shape) {
                distinct.push(shape);
            }
        }
        if distinct.iter().all(|s| matches!(s, Shape::Object(_))) && distinct.len() > 1 {
            let mut merged: Vec<(String, Shape)> = Vec::new();
            for (k, s) in distinct.into_iter().flat_map(|s| match s {
                Shape::Object(fields) => fields,
                _ => Vec::new(),
            }) {
                match merged.iter_mut().find(|(m, _)| *m == k) {
                    Some((_, existing)) if *existing != s => *existing = Shape::Plain,
                    Some(_) => {}
                    None => merged.push((k, s)),
                }
            }
            return Shape::Object(merged);
        }
        match <[Shape; 1]>::try_from(distinct) {
            Ok([shape]) => shape,
            Err(_) => Shape::Plain,
        }
    }
}

/// The `$defs` entry a schema refers to.
pub(crate) fn def_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix("#/$defs/")
}

/// The alternatives of a `oneOf` or `anyOf` schema.
pub(crate) fn alternatives(schema: &Value) -> Option<&Vec<Value>> {
    schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array)
}

fn description(schema: &Value) -> Option<String> {
    schema.get("description").and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn layout_of<T: schemars::JsonSchema>(aliases: &[Alias]) -> Result<Layout, String> {
        layout("X", &schemars::schema_for!(T).to_value(), aliases, crate::results::class_of)
    }

    fn attr<'a>(layout: &'a Layout, name: &str) -> &'a Attr {
        layout.attrs.iter().find(|a| a.name == name).unwrap_or_else(|| panic!("no attribute {name}"))
    }

    #[test]
    fn every_field_is_an_attribute_required_ones_first_in_declaration_order() {
        let layout = layout_of::<codeb::engine::DeployReport>(&[]).unwrap();
        let names: Vec<&str> = layout.attrs.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["project", "env", "server", "release", "image", "port", "domains", "elapsed_ms", "previous"]
        );
        assert_eq!(attr(&layout, "release").doc, "The release that serves now.");
        assert!(attr(&layout, "previous").optional && !attr(&layout, "port").optional);
    }

    #[test]
    fn an_alias_renames_a_field_or_reaches_into_one() {
        let renamed = [Alias { name: "from_release", variant: None, pointer: "/from" }];
        let layout = layout_of::<codeb::engine::RollbackPlan>(&renamed).unwrap();
        assert!(layout.attrs.iter().all(|a| a.name != "from"));
        assert_eq!(attr(&layout, "from_release").value(&json!({"from": "v2"})), Some(&json!("v2")));

        let inside = [Alias { name: "healthy", variant: None, pointer: "/verdict/healthy" }];
        let layout = layout_of::<codeb::ops::HealthReport>(&inside).unwrap();
        assert_eq!(attr(&layout, "healthy").value(&json!({"verdict": {"healthy": true}})), Some(&json!(true)));
        assert!(layout.attrs.iter().any(|a| a.name == "verdict"), "the field it reaches into stays");
    }

    #[test]
    fn the_fields_of_a_tagged_enum_are_those_of_every_variant_and_a_variant_alias_reads_only_its_own() {
        let aliases = [
            Alias { name: "kind", variant: None, pointer: "/event" },
            Alias { name: "upstreams", variant: Some("route_switched"), pointer: "/to" },
            Alias { name: "to_release", variant: Some("rolled_back"), pointer: "/to" },
        ];
        let layout = layout_of::<codeb::engine::DeployEvent>(&aliases).unwrap();
        assert_eq!(layout.tag.as_deref(), Some("event"));
        assert!(layout.attrs.iter().all(|a| a.name != "to" && a.name != "event"));
        let switched =
            json!({"event": "route_switched", "host": "a.test", "to": [{"host": "127.0.0.1", "port": 3000}]});
        assert!(attr(&layout, "upstreams").value(&switched).is_some());
        assert_eq!(attr(&layout, "to_release").value(&switched), None);
        assert!(
            attr(&layout, "step").optional && attr(&layout, "upstreams").optional && !attr(&layout, "kind").optional
        );
        assert!(attr(&layout, "kind").doc.contains("`route_switched`"), "{}", attr(&layout, "kind").doc);
    }

    #[test]
    fn an_absent_field_reads_as_none_when_it_may_be_null_else_as_its_types_default() {
        let layout = layout_of::<codeb::ssot::EnvironmentRecord>(&[]).unwrap();
        assert_eq!(attr(&layout, "domains").absent, json!([]));
        assert_eq!(attr(&layout, "accessories").absent, json!({}));
        assert_eq!(attr(&layout, "lock").absent, Value::Null);
        assert!(!attr(&layout, "domains").optional && attr(&layout, "lock").optional);
    }

    #[test]
    fn an_alias_that_does_not_fit_the_schema_is_an_error_naming_it() {
        let stray = [Alias { name: "nope", variant: None, pointer: "/verdict/nope" }];
        let e = layout_of::<codeb::ops::HealthReport>(&stray).err().unwrap();
        assert!(e.contains("X.nope") && e.contains("/verdict/nope"), "{e}");
        let not_tagged = [Alias { name: "v", variant: Some("x"), pointer: "/port" }];
        assert!(layout_of::<codeb::ops::HealthReport>(&not_tagged).is_err());
    }
}
