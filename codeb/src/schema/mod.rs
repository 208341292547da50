//! The shape of an SDK result type, read from its JSON schema (feature
//! `schemars`) in terms any language maps: its fields (name, doc, where the
//! value sits, whether it may be absent or null, what an absent one reads
//! as) and the [`Kind`] of each value, naming the SDK types nested in it.
//!
//! A front end that publishes the SDK's results in another type system maps
//! kinds to its own types and needs to know nothing of JSON Schema: Python's
//! result classes and stubs read their attributes from [`TypeSchema::record`].
//!
//! The rules, the same for every type:
//! - the fields of a struct are its properties: the required ones in
//!   declaration order, then the others by name (a schema keeps no other
//!   order);
//! - the fields of a tagged enum are those of all its variants, each once;
//!   its tag is the field that is a constant in every variant;
//! - a field is optional when it may be null or some variant lacks it; an
//!   absent optional field reads as null, any other as its type's empty
//!   value (serde's default: `[]`, `{}`, `false`, `0`, `""`).

pub mod standard;

use serde_json::{Map, Value};

use crate::{Error, Result};

/// A value's kind, as its schema describes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Anything (the schema does not say).
    Any,
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// A string.
    String,
    /// An RFC 3339 date and time, as a string.
    DateTime,
    /// A value of the named SDK type (its schema name: `PortKey`, `ReleaseRecord`, ...); see
    /// [`TypeSchema::definition`].
    Named(String),
    /// A list of values of one kind.
    List(Box<Kind>),
    /// A fixed-length list whose items have their own kinds.
    Tuple(Vec<Kind>),
    /// An object whose keys are free and whose values have one kind.
    Map(Box<Kind>),
    /// An object with these fields.
    Object(Vec<(String, Kind)>),
    /// One of these kinds.
    OneOf(Vec<Kind>),
}

/// The fields of a type: of a struct, or of every variant of a tagged enum.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The tag of a tagged enum (`event` of a `DeployEvent`).
    pub tag: Option<String>,
    /// The fields, in order (see the module's rules).
    pub fields: Vec<Field>,
}

/// One field of a type, or a value inside one ([`TypeSchema::field_at`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The field's name (the last segment of its pointer).
    pub name: String,
    /// Its doc comment, from the SDK.
    pub doc: String,
    /// Where the value sits in the type's JSON (RFC 6901).
    pub pointer: String,
    /// The tag and its value when only that variant of a tagged enum holds the field.
    pub variant: Option<(String, String)>,
    /// The kinds the value may have (one per variant or branch that holds it).
    pub kinds: Vec<Kind>,
    /// Whether it may be null or absent.
    pub optional: bool,
    /// What it reads as when absent: null when optional, else its type's empty value.
    pub absent: Value,
}

impl Field {
    /// The JSON of this field in `json`, a value of the type, if `json` holds it.
    pub fn value<'a>(&self, json: &'a Value) -> Option<&'a Value> {
        if let Some((tag, variant)) = &self.variant
            && json.get(tag).and_then(Value::as_str) != Some(variant)
        {
            return None;
        }
        json.pointer(&self.pointer)
    }
}

/// The JSON schema of one SDK type, with the schemas it refers to.
#[derive(Clone, Debug)]
pub struct TypeSchema {
    root: Value,
    defs: Map<String, Value>,
}

impl TypeSchema {
    /// The schema of `T`, as schemars derives it.
    pub fn of<T: schemars::JsonSchema>() -> Self {
        TypeSchema::from_root(schemars::SchemaGenerator::default().into_root_schema_for::<T>().to_value())
    }

    /// A root schema (with its `$defs`).
    pub fn from_root(root: Value) -> Self {
        let defs = root.get("$defs").and_then(Value::as_object).cloned().unwrap_or_default();
        TypeSchema { root, defs }
    }

    /// The root schema.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The kind of a whole value of the type.
    pub fn kind(&self) -> Kind {
        self.kind_of(&self.root)
    }

    /// The kind of a value of the SDK type `name` refers to, if the schema holds it.
    pub fn definition(&self, name: &str) -> Option<Kind> {
        self.defs.get(name).map(|def| self.kind_of(def))
    }

    /// The type's fields.
    pub fn record(&self) -> Record {
        let variants = self.objects(&self.root);
        let mut fields: Vec<(&str, Vec<&Value>)> = Vec::new();
        for variant in &variants {
            let Some(props) = variant.get("properties").and_then(Value::as_object) else { continue };
            let required: Vec<&str> = variant
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let rest = props.keys().map(String::as_str).filter(|k| !required.contains(k));
            for name in required.iter().copied().chain(rest) {
                let Some((name, schema)) = props.get_key_value(name) else { continue };
                match fields.iter_mut().find(|(n, _)| n == name) {
                    Some((_, schemas)) => schemas.push(schema),
                    None => fields.push((name, vec![schema])),
                }
            }
        }
        let fields = fields
            .into_iter()
            .map(|(name, schemas)| {
                let optional = schemas.len() < variants.len() || schemas.iter().any(|s| self.nullable(s));
                self.field(name, format!("/{name}"), None, &schemas, optional, None)
            })
            .collect();
        Record { tag: tag(&variants), fields }
    }

    /// The value at `pointer` inside the type's fields (`/verdict/healthy`),
    /// followed through every variant, or through the one whose tag is
    /// `variant`. An error says why the pointer does not fit the schema.
    pub fn field_at(&self, pointer: &str, variant: Option<&str>) -> Result<Field> {
        let fail = |why: &str| Error::invalid(format!("{pointer} {why}"));
        let variants = self.objects(&self.root);
        let tag = tag(&variants);
        let mut current: Vec<&Value> = match (variant, &tag) {
            (None, _) => variants.clone(),
            (Some(variant), Some(tag)) => {
                let of = |v: &&Value| v.pointer(&format!("/properties/{tag}/const")) == Some(&Value::from(variant));
                variants.iter().copied().filter(of).collect()
            }
            (Some(_), None) => return Err(fail("names a variant, but the SDK type is not a tagged enum")),
        };
        if current.is_empty() {
            return Err(fail("names a variant the SDK type does not have"));
        }
        // The other variants lack it.
        let (mut optional, mut doc) = (current.len() < variants.len(), None);
        let segments: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
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
        let name = segments.last().copied().unwrap_or_default();
        let variant = variant.zip(tag).map(|(v, t)| (t, v.to_owned()));
        Ok(self.field(name, pointer.to_owned(), variant, &current, optional, doc))
    }

    fn field(
        &self,
        name: &str,
        pointer: String,
        variant: Option<(String, String)>,
        schemas: &[&Value],
        optional: bool,
        doc: Option<String>,
    ) -> Field {
        Field {
            name: name.to_owned(),
            doc: doc.or_else(|| schemas.iter().find_map(|s| description(s))).unwrap_or_default(),
            pointer,
            variant,
            kinds: schemas.iter().map(|s| self.kind_of(s)).collect(),
            optional,
            absent: if optional { Value::Null } else { schemas.first().map_or(Value::Null, |s| self.default(s)) },
        }
    }

    /// `schema` with `$ref`s followed.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match def_name(schema).and_then(|name| self.defs.get(name)) {
                Some(def) => schema = def,
                None => break,
            }
        }
        schema
    }

    /// The object schemas a value of `schema` may match: itself, or each variant of an enum.
    fn objects<'a>(&'a self, schema: &'a Value) -> Vec<&'a Value> {
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

    /// What an absent, non-null value of `schema` reads as: serde's default of its type.
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

    /// The kind of a value of `schema`; a reference to another type stays its name.
    fn kind_of(&self, schema: &Value) -> Kind {
        if let Some(name) = def_name(schema) {
            return if self.defs.contains_key(name) { Kind::Named(name.to_owned()) } else { Kind::Any };
        }
        if let Some(alts) = alternatives(schema)
            && schema.get("properties").is_none()
        {
            return Kind::OneOf(alts.iter().map(|alt| self.kind_of(alt)).collect());
        }
        match schema.get("type") {
            Some(Value::String(t)) => self.single(t, schema),
            Some(Value::Array(ts)) => {
                Kind::OneOf(ts.iter().filter_map(Value::as_str).map(|t| self.single(t, schema)).collect())
            }
            _ if schema.get("properties").is_some() || schema.get("additionalProperties").is_some() => {
                self.single("object", schema)
            }
            _ => Kind::Any,
        }
    }

    fn single(&self, ty: &str, schema: &Value) -> Kind {
        match ty {
            "string" if schema.get("format").and_then(Value::as_str) == Some("date-time") => Kind::DateTime,
            "string" => Kind::String,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "boolean" => Kind::Bool,
            "null" => Kind::Null,
            "array" => match (schema.get("prefixItems").and_then(Value::as_array), schema.get("items")) {
                (Some(items), _) => Kind::Tuple(items.iter().map(|i| self.kind_of(i)).collect()),
                (None, Some(items)) => Kind::List(Box::new(self.kind_of(items))),
                (None, None) => Kind::List(Box::new(Kind::Any)),
            },
            "object" => match schema.get("additionalProperties").filter(|v| v.is_object()) {
                Some(values) => Kind::Map(Box::new(self.kind_of(values))),
                None if schema.get("properties").is_some() => self.object(schema),
                None => Kind::Map(Box::new(Kind::Any)),
            },
            _ => Kind::Any,
        }
    }

    /// An object's fields; with an enum flattened into it (`#[serde(flatten)]`),
    /// one object per variant, each with the object's own fields too.
    fn object(&self, schema: &Value) -> Kind {
        let props = |s: &Value| -> Vec<(String, Kind)> {
            let map = s.get("properties").and_then(Value::as_object);
            map.into_iter().flatten().map(|(k, v)| (k.clone(), self.kind_of(v))).collect()
        };
        let own = props(schema);
        match alternatives(schema) {
            None => Kind::Object(own),
            Some(alts) => Kind::OneOf(
                alts.iter()
                    .flat_map(|alt| self.objects(alt))
                    .map(|variant| Kind::Object(own.iter().cloned().chain(props(variant)).collect()))
                    .collect(),
            ),
        }
    }
}

/// The tag of a tagged enum: the field that is a constant in every variant.
fn tag(variants: &[&Value]) -> Option<String> {
    let first = variants.first()?.get("properties")?.as_object()?;
    let is_tag = |name: &str| {
        variants.iter().all(|v| v.get("properties").and_then(|p| p.get(name)).is_some_and(|s| s.get("const").is_some()))
    };
    (variants.len() > 1).then(|| first.keys().find(|k| is_tag(k)).cloned()).flatten()
}

/// The `$defs` entry a schema refers to.
fn def_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix("#/$defs/")
}

/// The alternatives of a `oneOf` or `anyOf` schema.
fn alternatives(schema: &Value) -> Option<&Vec<Value>> {
    schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array)
}

fn description(schema: &Value) -> Option<String> {
    schema.get("description").and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field<'a>(record: &'a Record, name: &str) -> &'a Field {
        record.fields.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no field {name}"))
    }

    fn kind(schema: Value) -> Kind {
        TypeSchema::from_root(json!({"$defs": {"PortKey": {"type": "object"}}})).kind_of(&schema)
    }

    #[test]
    fn the_fields_of_a_struct_are_its_required_ones_in_declaration_order_then_the_others() {
        let record = TypeSchema::of::<crate::engine::DeployReport>().record();
        let names: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names.join(" "),
            "project env server release image port domains elapsed_ms previous recovered retiring"
        );
        assert_eq!(field(&record, "release").doc, "The release that serves now.");
        assert_eq!(field(&record, "release").pointer, "/release");
        assert!(field(&record, "previous").optional && !field(&record, "port").optional);
        assert_eq!(record.tag, None);
    }

    #[test]
    fn an_absent_field_reads_as_null_when_it_may_be_null_else_as_its_types_empty_value() {
        let record = TypeSchema::of::<crate::ssot::EnvironmentRecord>().record();
        assert_eq!(field(&record, "domains").absent, json!([]));
        assert_eq!(field(&record, "accessories").absent, json!({}));
        assert_eq!(field(&record, "lock").absent, Value::Null);
        assert!(!field(&record, "domains").optional && field(&record, "lock").optional);
    }

    #[test]
    fn a_tagged_enum_has_the_fields_of_every_variant_and_its_tag() {
        let record = TypeSchema::of::<crate::engine::DeployEvent>().record();
        assert_eq!(record.tag.as_deref(), Some("event"));
        assert!(field(&record, "step").optional, "some variants lack it");
        assert!(!field(&record, "event").optional);
        assert_eq!(field(&record, "to").kinds.len(), 2, "two variants hold `to`");
    }

    #[test]
    fn a_value_inside_a_field_or_one_variant_is_found_by_its_pointer() {
        let health = TypeSchema::of::<crate::ops::HealthReport>();
        let healthy = health.field_at("/verdict/healthy", None).unwrap();
        assert_eq!((healthy.name.as_str(), &healthy.kinds[..]), ("healthy", &[Kind::Bool][..]));
        assert_eq!(healthy.value(&json!({"verdict": {"healthy": true}})), Some(&json!(true)));

        let events = TypeSchema::of::<crate::engine::DeployEvent>();
        let upstreams = events.field_at("/to", Some("route_switched")).unwrap();
        assert_eq!(upstreams.kinds, [Kind::Named("Upstreams".into())]);
        assert!(upstreams.optional, "the other variants read null");
        let rolled_back = json!({"event": "rolled_back", "from": "v2", "to": "v1", "reason": "x"});
        assert_eq!(upstreams.value(&rolled_back), None);
        let kind = events.field_at("/event", None).unwrap();
        assert!(kind.doc.contains("one of `step_started`"), "{}", kind.doc);
    }

    #[test]
    fn a_pointer_that_does_not_fit_the_schema_is_an_error_naming_it() {
        let health = TypeSchema::of::<crate::ops::HealthReport>();
        let e = health.field_at("/verdict/nope", None).unwrap_err();
        assert!(e.to_string().contains("/verdict/nope"), "{e}");
        assert!(health.field_at("/port", Some("x")).is_err(), "not a tagged enum");
        let events = TypeSchema::of::<crate::engine::DeployEvent>();
        assert!(events.field_at("/to", Some("no_such_event")).is_err());
    }

    #[test]
    fn kinds_follow_the_schema_and_name_the_sdk_types_they_refer_to() {
        assert_eq!(kind(json!({"type": ["string", "null"]})), Kind::OneOf(vec![Kind::String, Kind::Null]));
        assert_eq!(kind(json!({"type": "string", "format": "date-time"})), Kind::DateTime);
        assert_eq!(kind(json!({"type": "array", "items": {"type": "integer"}})), Kind::List(Box::new(Kind::Integer)));
        assert_eq!(
            kind(json!({"type": "object", "additionalProperties": {"type": "number"}})),
            Kind::Map(Box::new(Kind::Number))
        );
        assert_eq!(kind(json!({"$ref": "#/$defs/PortKey"})), Kind::Named("PortKey".into()));
        assert_eq!(kind(json!({"$ref": "#/$defs/Missing"})), Kind::Any);
        assert_eq!(kind(json!({})), Kind::Any);
    }

    #[test]
    fn an_enum_flattened_into_an_object_is_one_object_per_variant_with_the_objects_own_fields() {
        let Kind::OneOf(variants) = TypeSchema::of::<crate::engine::PlannedChange>().kind() else {
            panic!("one object per kind of change")
        };
        let release_port = variants
            .iter()
            .find_map(|v| match v {
                Kind::Object(fields) if fields.iter().any(|(k, _)| k == "port") => Some(fields),
                _ => None,
            })
            .unwrap();
        let names: Vec<&str> = release_port.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.contains(&"server") && names.contains(&"change") && names.contains(&"key"), "{names:?}");
    }
}
