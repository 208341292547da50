//! What a result class reads from the SDK type it mirrors: its attributes
//! (the type's fields, from `codeb::schema`, under their Python names) and how
//! each value becomes a Python value.
//!
//! The fields, their order, which may be absent or null and what an absent
//! one reads as are the SDK's (see `codeb::schema`). The rules added here:
//! - every field is an attribute of the same name, unless an alias renames it
//!   (`from_release = "/from"`: `from` is a Python keyword); an alias may also
//!   reach into a field (`healthy = "/verdict/healthy"`), or into one variant
//!   of a tagged enum (`upstreams = route_switched "/to"`);
//! - a value whose SDK type has a result class becomes that class wherever it
//!   sits (an attribute, a list, a dict); an RFC 3339 `date-time` string
//!   becomes an aware `datetime.datetime`; everything else is plain JSON
//!   (`dict`, `list`, `str`, `int`, `float`, `bool`, `None`).

use chrono::{DateTime, Utc};
use codeb::schema::{Field, Kind, TypeSchema};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

use super::class::ClassRef;
use crate::convert::to_py;

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

/// One attribute of a result class: an SDK field under its Python name.
pub(crate) struct Attr {
    /// The Python name.
    pub(crate) name: String,
    /// The SDK field: its doc, where it sits, its kinds, whether it may be `None`.
    pub(crate) field: Field,
    shape: Shape,
}

impl Attr {
    /// Where the value sits in the JSON (RFC 6901).
    pub(crate) fn pointer(&self) -> &str {
        &self.field.pointer
    }

    /// The attribute of `json` as a Python value.
    pub(crate) fn read<'py>(&self, py: Python<'py>, json: &Value) -> PyResult<Bound<'py, PyAny>> {
        self.shape.to_py(py, self.field.value(json).unwrap_or(&self.field.absent), Times::Datetime)
    }

    /// The attribute's value of `json` in a repr, if `json` holds one.
    pub(crate) fn repr(&self, py: Python<'_>, json: &Value) -> PyResult<Option<String>> {
        self.field.value(json).map(|v| self.shape.repr(py, v)).transpose()
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

/// What an RFC 3339 `date-time` string becomes: an aware `datetime.datetime`
/// as an attribute, the SDK's own text in a repr.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Times {
    /// A `datetime.datetime`.
    Datetime,
    /// The string as it is.
    Text,
}

impl Shape {
    /// `value` as a Python object. A value that does not fit the shape converts as plain JSON.
    pub(crate) fn to_py<'py>(&self, py: Python<'py>, value: &Value, times: Times) -> PyResult<Bound<'py, PyAny>> {
        match (self, value) {
            (Shape::Class(class), Value::Object(_)) => (class.new)(py, value.clone()),
            (Shape::DateTime, Value::String(s)) if times == Times::Datetime => match DateTime::parse_from_rfc3339(s) {
                Ok(at) => Ok(at.with_timezone(&Utc).into_pyobject(py)?.into_any()),
                Err(_) => to_py(py, value),
            },
            (Shape::List(item), Value::Array(items)) => {
                let list = PyList::empty(py);
                for v in items {
                    list.append(item.to_py(py, v, times)?)?;
                }
                Ok(list.into_any())
            }
            (Shape::Map(_) | Shape::Object(_), Value::Object(map)) => {
                let dict = PyDict::new(py);
                for (k, v) in map {
                    dict.set_item(k, self.field(k).to_py(py, v, times)?)?;
                }
                Ok(dict.into_any())
            }
            _ => to_py(py, value),
        }
    }

    /// `value` as Python's `repr` writes it (nested result objects as their reprs, times as text).
    pub(crate) fn repr(&self, py: Python<'_>, value: &Value) -> PyResult<String> {
        Ok(self.to_py(py, value, Times::Text)?.repr()?.to_string())
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

/// The shape of a whole value of the type.
pub(crate) fn shape(schema: &TypeSchema, class_of: fn(&str) -> Option<ClassRef>) -> Shape {
    Shapes { schema, class_of }.of(&schema.kind(), 0)
}

/// Reads the layout of a class from its SDK type's schema.
///
/// `class_of` names the result class of an SDK type by its schema name. An
/// error names a declaration that does not fit the schema (an alias to a
/// field the type lacks): a bug in codeb-py that its tests catch.
pub(crate) fn layout(
    class: &str,
    schema: &TypeSchema,
    aliases: &[Alias],
    class_of: fn(&str) -> Option<ClassRef>,
) -> Result<Layout, String> {
    let shapes = Shapes { schema, class_of };
    let record = schema.record();
    let mut attrs = Vec::new();
    for field in record.fields {
        let name = field.name.clone();
        if !aliases.iter().any(|a| a.pointer == field.pointer || a.name == name) {
            attrs.push(shapes.attr(name.clone(), field));
        }
        for alias in aliases.iter().filter(|a| first_segment(a.pointer) == name) {
            let field = schema
                .field_at(alias.pointer, alias.variant)
                .map_err(|e| format!("{class}.{}: {}", alias.name, e.message()))?;
            attrs.push(shapes.attr(alias.name.to_owned(), field));
        }
    }
    if let Some(stray) = aliases.iter().find(|a| !attrs.iter().any(|attr| attr.name == a.name)) {
        return Err(format!("{class}.{}: {} is not a field of the SDK type", stray.name, stray.pointer));
    }
    Ok(Layout { tag: record.tag, attrs })
}

fn first_segment(pointer: &str) -> &str {
    pointer.trim_start_matches('/').split('/').next().unwrap_or_default()
}

/// How the kinds of one SDK type's values become shapes.
struct Shapes<'a> {
    schema: &'a TypeSchema,
    class_of: fn(&str) -> Option<ClassRef>,
}

impl Shapes<'_> {
    fn attr(&self, name: String, field: Field) -> Attr {
        let shape = self.combine(field.kinds.iter().map(|k| self.of(k, 0)));
        Attr { name, field, shape }
    }

    /// How a value of `kind` becomes a Python value.
    fn of(&self, kind: &Kind, depth: usize) -> Shape {
        if depth > 32 {
            return Shape::Plain;
        }
        let nested = |kind: &Kind, wrap: fn(Box<Shape>) -> Shape| match self.of(kind, depth + 1) {
            Shape::Plain => Shape::Plain,
            item => wrap(Box::new(item)),
        };
        match kind {
            Kind::Named(name) => match (self.class_of)(name) {
                Some(class) => Shape::Class(class),
                None => self.schema.definition(name).map_or(Shape::Plain, |def| self.of(&def, depth + 1)),
            },
            Kind::DateTime => Shape::DateTime,
            Kind::List(item) => nested(item, Shape::List),
            Kind::Map(item) => nested(item, Shape::Map),
            Kind::Object(fields) => {
                let fields: Vec<(String, Shape)> = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), self.of(v, depth + 1)))
                    .filter(|(_, s)| *s != Shape::Plain)
                    .collect();
                if fields.is_empty() { Shape::Plain } else { Shape::Object(fields) }
            }
            Kind::OneOf(kinds) => self.combine(kinds.iter().map(|k| self.of(k, depth + 1))),
            Kind::Any | Kind::Null | Kind::Bool | Kind::Integer | Kind::Number | Kind::String | Kind::Tuple(_) => {
                Shape::Plain
            }
        }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn layout_of<T: schemars::JsonSchema>(aliases: &[Alias]) -> Result<Layout, String> {
        layout("X", &TypeSchema::of::<T>(), aliases, crate::results::class_of)
    }

    fn attr<'a>(layout: &'a Layout, name: &str) -> &'a Attr {
        layout.attrs.iter().find(|a| a.name == name).unwrap_or_else(|| panic!("no attribute {name}"))
    }

    #[test]
    fn every_field_is_an_attribute_of_its_name_in_the_sdks_order() {
        let layout = layout_of::<codeb::engine::DeployReport>(&[]).unwrap();
        let names: Vec<&str> = layout.attrs.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names.join(" "),
            "project env server release image port domains elapsed_ms previous recovered retiring"
        );
        assert_eq!(attr(&layout, "release").field.doc, "The release that serves now.");
    }

    #[test]
    fn an_alias_renames_a_field_or_reaches_into_one() {
        let renamed = [Alias { name: "from_release", variant: None, pointer: "/from" }];
        let layout = layout_of::<codeb::engine::RollbackPlan>(&renamed).unwrap();
        assert!(layout.attrs.iter().all(|a| a.name != "from"));
        assert_eq!(attr(&layout, "from_release").field.value(&json!({"from": "v2"})), Some(&json!("v2")));

        let inside = [Alias { name: "healthy", variant: None, pointer: "/verdict/healthy" }];
        let layout = layout_of::<codeb::ops::HealthReport>(&inside).unwrap();
        assert_eq!(attr(&layout, "healthy").field.value(&json!({"verdict": {"healthy": true}})), Some(&json!(true)));
        assert!(layout.attrs.iter().any(|a| a.name == "verdict"), "the field it reaches into stays");
    }

    #[test]
    fn an_alias_of_a_tagged_enums_tag_or_of_one_variant_replaces_the_field() {
        let aliases = [
            Alias { name: "kind", variant: None, pointer: "/event" },
            Alias { name: "upstreams", variant: Some("route_switched"), pointer: "/to" },
            Alias { name: "to_release", variant: Some("rolled_back"), pointer: "/to" },
        ];
        let layout = layout_of::<codeb::engine::DeployEvent>(&aliases).unwrap();
        assert_eq!(layout.tag.as_deref(), Some("event"));
        assert!(layout.attrs.iter().all(|a| a.name != "to" && a.name != "event"));
        let switched = json!({"event": "route_switched", "host": "a.test", "to": {"fixed": [{"host": "127.0.0.1", "port": 3000}]}});
        assert!(attr(&layout, "upstreams").field.value(&switched).is_some());
        assert_eq!(attr(&layout, "to_release").field.value(&switched), None);
        // Fixed addresses (a list of `Upstream`s) or an SRV name: a dict whose `fixed` holds the class.
        let Shape::Object(fields) = &attr(&layout, "upstreams").shape else { panic!("upstreams is not a dict") };
        let fixed = Shape::List(Box::new(Shape::Class(ClassRef::of::<crate::results::Upstream>())));
        assert!(fields.iter().any(|(name, shape)| name == "fixed" && *shape == fixed));
    }

    #[test]
    fn an_alias_that_does_not_fit_the_schema_is_an_error_naming_it() {
        let stray = [Alias { name: "nope", variant: None, pointer: "/verdict/nope" }];
        let e = layout_of::<codeb::ops::HealthReport>(&stray).err().unwrap();
        assert!(e.contains("X.nope") && e.contains("/verdict/nope"), "{e}");
        let not_tagged = [Alias { name: "v", variant: Some("x"), pointer: "/port" }];
        assert!(layout_of::<codeb::ops::HealthReport>(&not_tagged).is_err());
    }

    #[test]
    fn sdk_values_with_a_class_are_that_class_wherever_they_sit_and_times_are_datetimes() {
        let layout = layout_of::<codeb::ssot::ReleaseRecord>(&[]).unwrap();
        assert!(attr(&layout, "created_at").shape == Shape::DateTime);
        let change = shape(&TypeSchema::of::<codeb::engine::PlannedChange>(), crate::results::class_of);
        assert!(change.field("key") == &Shape::Class(ClassRef::of::<crate::results::PortKey>()), "a change's key");
        assert!(change.field("server") == &Shape::Plain);
    }
}
