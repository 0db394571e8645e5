//! What a tool's input schema costs. Every byte of `tools/list` is context a
//! model pays for on every turn, so the schemas schemars derives from the
//! argument types are made plain before they are listed: `$ref`s to `$defs`
//! inlined (a model reads a property where it is, not through a pointer),
//! enums of documented constants (`oneOf` of `const`s) turned into `enum`
//! lists (the property's own description names the values), and `$schema`
//! (the default dialect of MCP), the non-standard integer `format`s (`uint64`,
//! `double`) and the bounds of the Rust integer types (`minimum: 0` of a
//! `usize`, `maximum: 255` of a `u8`: the descriptions give the real ranges)
//! dropped, as is `additionalProperties: false` (the server refuses an unknown
//! argument anyway, with an error naming it) and `true` (the default).

use rmcp::model::JsonObject;
use serde_json::{Map, Value};

/// Makes `schema` plain, as the module says.
pub(crate) fn compact(schema: &mut JsonObject) {
    schema.remove("$schema");
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        schema.remove("additionalProperties");
    }
    let defs = match schema.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    for value in schema.values_mut() {
        plain(value, &defs);
    }
}

fn plain(value: &mut Value, defs: &Map<String, Value>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(pointer)) = object.remove("$ref") {
                let name = pointer.rsplit('/').next().unwrap_or_default();
                if let Some(Value::Object(def)) = defs.get(name) {
                    // The property's description says what it is here; the
                    // type's own says what it is in general.
                    for (key, field) in def {
                        if key != "description" {
                            object.entry(key.clone()).or_insert_with(|| field.clone());
                        }
                    }
                }
            }
            if let Some(consts) = object.get("oneOf").and_then(string_consts) {
                object.remove("oneOf");
                object.insert("type".into(), "string".into());
                object.insert("enum".into(), consts.into());
            }
            // `true` is the default; `false` is refused by the server anyway.
            if object
                .get("additionalProperties")
                .is_some_and(Value::is_boolean)
            {
                object.remove("additionalProperties");
            }
            if object.get("type").and_then(Value::as_str) == Some("integer") {
                if object.get("minimum").and_then(Value::as_i64) == Some(0) {
                    object.remove("minimum");
                }
                let type_bound = |v: &Value| {
                    v.as_u64()
                        .is_some_and(|m| [255, 65_535, 4_294_967_295, u64::MAX].contains(&m))
                };
                if object.get("maximum").is_some_and(type_bound) {
                    object.remove("maximum");
                }
            }
            if let Some(Value::String(format)) = object.get("format")
                && matches!(
                    format.as_str(),
                    "uint"
                        | "uint8"
                        | "uint16"
                        | "uint32"
                        | "uint64"
                        | "int32"
                        | "int64"
                        | "float"
                        | "double"
                )
            {
                object.remove("format");
            }
            for field in object.values_mut() {
                plain(field, defs);
            }
        }
        Value::Array(items) => {
            for item in items {
                plain(item, defs);
            }
        }
        _ => {}
    }
}

/// The values of a `oneOf` whose every branch is a string `const`.
fn string_consts(one_of: &Value) -> Option<Vec<Value>> {
    one_of
        .as_array()?
        .iter()
        .map(|branch| branch.get("const").filter(|c| c.is_string()).cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn compacted(schema: serde_json::Value) -> serde_json::Value {
        let mut schema = schema.as_object().unwrap().clone();
        super::compact(&mut schema);
        serde_json::Value::Object(schema)
    }

    #[test]
    fn refs_are_inlined_and_documented_constants_become_enums() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "Mode": {"description": "In general.", "oneOf": [
                    {"const": "a", "type": "string", "description": "A."},
                    {"const": "b", "type": "string", "description": "B."}
                ]},
                "Point": {"type": "object", "additionalProperties": false,
                    "properties": {"x": {"type": "integer", "format": "uint64", "minimum": 0}}}
            },
            "properties": {
                "mode": {"$ref": "#/$defs/Mode", "description": "\"a\" or \"b\"."},
                "points": {"type": "array", "items": {"$ref": "#/$defs/Point"}}
            }
        });
        assert_eq!(
            compacted(schema),
            json!({
                "type": "object",
                "properties": {
                    "mode": {"description": "\"a\" or \"b\".", "type": "string", "enum": ["a", "b"]},
                    "points": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}}
                }
            })
        );
    }

    #[test]
    fn other_one_ofs_and_formats_stay() {
        let schema = json!({
            "type": "object",
            "properties": {
                "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "when": {"type": "string", "format": "date-time"},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                "percent": {"type": "integer", "minimum": 1, "maximum": 100}
            }
        });
        assert_eq!(compacted(schema.clone()), schema);
    }
}
