//! Results as data as well as text: `structuredContent` with the `outputSchema`
//! it follows for the tools whose results are records (tabs,
//! console_messages, network_requests, cookies, downloads, farm_status). As
//! the spec has it, `structuredContent` is then the result itself and the text
//! its rendering for clients that show text, so both say the same, a session
//! handle the model must pass back included; some clients (Pydantic AI) hand
//! their model only `structuredContent` when it is there. Tools whose
//! substance is page text (navigate, scrape, snapshot, the actions,
//! batch_scrape) list no schema and return no `structuredContent`: their text
//! is the result, and a client that prefers structured data would otherwise
//! show its model a stub without the page. Schemas come
//! from the same types the data is serialised from, so the two cannot drift,
//! and are listed made plain and without descriptions (the text result says
//! what the fields mean): each byte of `tools/list` costs every turn. For the
//! same reason the larger records (a request, a cookie, a download, a farm
//! node) are listed shallow: the top-level fields with their types, each record as an
//! object whose fields the docs and the text name.

use browserfarm_protocol::{
    ConsoleEntry, Cookie, DownloadInfo, Effect, FarmStatus, JobOutput, RequestEntry, TabInfo,
};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize, JsonSchema)]
struct Tabs {
    tabs: Vec<TabInfo>,
}

#[derive(Serialize, JsonSchema)]
struct Console {
    entries: Vec<ConsoleEntry>,
    omitted: usize,
}

#[derive(Serialize, JsonSchema)]
struct Network {
    entries: Vec<RequestEntry>,
    omitted: usize,
}

/// `cookies`: the cookies read (get), or how many were set or deleted.
#[derive(Serialize, JsonSchema)]
struct Cookies {
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<Vec<Cookie>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    set: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<usize>,
}

#[derive(Serialize, JsonSchema)]
struct Downloads {
    downloads: Vec<DownloadInfo>,
    /// false: the server runs without --downloads.
    enabled: bool,
}

/// The tools that list an output schema.
pub const STRUCTURED_TOOLS: &[&str] = &[
    "tabs",
    "console_messages",
    "network_requests",
    "cookies",
    "downloads",
    "farm_status",
];

/// The output schema listed for `tool`, if it has one.
pub(crate) fn output_schema(tool: &str) -> Option<JsonObject> {
    let (schema, shallow) = match tool {
        "tabs" => (schemars::schema_for!(Tabs), false),
        "console_messages" => (schemars::schema_for!(Console), false),
        "network_requests" => (schemars::schema_for!(Network), true),
        "cookies" => (schemars::schema_for!(Cookies), true),
        "downloads" => (schemars::schema_for!(Downloads), true),
        "farm_status" => (schemars::schema_for!(FarmStatus), true),
        _ => return None,
    };
    let Ok(Value::Object(mut object)) = serde_json::to_value(schema) else {
        return None;
    };
    crate::schema::compact(&mut object);
    let mut schema = Value::Object(object);
    undescribed(&mut schema);
    if shallow {
        only_top_level(&mut schema);
    }
    // The handle a result's text ends with, when the model must pass it back
    // (`render::with_session`): the structured result says it too.
    if tool != "farm_status"
        && let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut)
    {
        properties.insert("session".into(), serde_json::json!({"type": "string"}));
    }
    match schema {
        Value::Object(object) => Some(object),
        _ => None,
    }
}

/// Keeps the top-level properties and their types; the records in an array
/// become `{"type": "object"}`, which any record validates against.
fn only_top_level(schema: &mut Value) {
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for property in properties.values_mut() {
        if let Some(items) = property.get_mut("items")
            && items.get("type") == Some(&Value::from("object"))
        {
            *items = serde_json::json!({"type": "object"});
        }
    }
    if let Some(object) = schema.as_object_mut() {
        object.remove("required");
    }
}

/// Drops descriptions, titles, formats and numeric bounds (the data is ours,
/// and the text result says what it means), keeping properties that happen
/// to be called so.
fn undescribed(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let properties = object.remove("properties");
            for key in [
                "description",
                "title",
                "format",
                "minimum",
                "maximum",
                "default",
            ] {
                object.remove(key);
            }
            not_null(object);
            for v in object.values_mut() {
                undescribed(v);
            }
            if let Some(mut properties) = properties {
                if let Value::Object(props) = &mut properties {
                    for v in props.values_mut() {
                        undescribed(v);
                    }
                }
                object.insert("properties".into(), properties);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(undescribed),
        _ => {}
    }
}

/// `["integer", "null"]` becomes `"integer"` and `anyOf [X, null]` becomes X:
/// the data never holds a null ([`without_nulls`]), so saying it may is bytes
/// for nothing.
fn not_null(object: &mut JsonObject) {
    if let Some(Value::Array(types)) = object.get("type") {
        let kept: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
        if let [only] = kept.as_slice() {
            let only = (*only).clone();
            object.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(options)) = object.get("anyOf") {
        let kept: Vec<Value> = options
            .iter()
            .filter(|o| o.get("type") != Some(&Value::from("null")))
            .cloned()
            .collect();
        if let [Value::Object(only)] = kept.as_slice() {
            let only = only.clone();
            object.remove("anyOf");
            object.extend(only);
        }
    }
}

/// Drops null fields, recursively: an absent field means the same and is
/// what the listed schemas allow.
fn without_nulls(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.retain(|_, v| !v.is_null());
            object.values_mut().for_each(without_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(without_nulls),
        _ => {}
    }
}

/// The structured form of a job's result, for the tools above.
pub(crate) fn of(output: &JobOutput) -> Option<Value> {
    let mut value = of_output(output)?;
    without_nulls(&mut value);
    Some(value)
}

fn of_output(output: &JobOutput) -> Option<Value> {
    let value = match output {
        JobOutput::Tabs { tabs, .. } => serde_json::to_value(Tabs { tabs: tabs.clone() }),
        JobOutput::Console { entries, omitted } => serde_json::to_value(Console {
            entries: entries.clone(),
            omitted: *omitted,
        }),
        JobOutput::Requests { entries, omitted } => serde_json::to_value(Network {
            entries: entries.clone(),
            omitted: *omitted,
        }),
        JobOutput::Cookies { cookies } => serde_json::to_value(Cookies {
            cookies: Some(cookies.clone()),
            set: None,
            deleted: None,
        }),
        JobOutput::Acted {
            effect: Effect::CookiesSet { count },
            ..
        } => serde_json::to_value(Cookies {
            cookies: None,
            set: Some(*count),
            deleted: None,
        }),
        JobOutput::Acted {
            effect: Effect::CookiesDeleted { count },
            ..
        } => serde_json::to_value(Cookies {
            cookies: None,
            set: None,
            deleted: Some(*count),
        }),
        JobOutput::Downloads { downloads, enabled } => serde_json::to_value(Downloads {
            downloads: downloads.clone(),
            enabled: *enabled,
        }),
        // One file read back: its record (the bytes are the result's resource).
        JobOutput::File { info, .. } => serde_json::to_value(Downloads {
            downloads: vec![info.clone()],
            enabled: true,
        }),
        _ => return None,
    };
    value.ok()
}

/// The structured form of the farm's status.
pub(crate) fn of_farm(status: &FarmStatus) -> Option<Value> {
    let mut value = serde_json::to_value(status).ok()?;
    without_nulls(&mut value);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Results whose substance is page text carry no `structuredContent`: a
    /// client that prefers it (Pydantic AI) would show its model a stub.
    #[test]
    fn page_text_is_never_structured() {
        let page = browserfarm_protocol::PageInfo {
            url: "http://127.0.0.1/".into(),
            status: Some(200),
            title: "A page".into(),
            notes: Vec::new(),
            changes: None,
        };
        let texts = [
            JobOutput::Navigated { page: page.clone() },
            JobOutput::Scraped(browserfarm_protocol::Scraped {
                page: page.clone(),
                format: Default::default(),
                content: "# A page".into(),
                truncated_chars: 0,
            }),
            JobOutput::Clicked { page: page.clone() },
            JobOutput::Typed { page: page.clone() },
            JobOutput::Evaluated {
                value: serde_json::json!({"a": 1}),
            },
            JobOutput::Snapshot {
                page,
                text: "- heading \"A page\"".into(),
                part: 1,
                parts: 1,
            },
        ];
        for output in &texts {
            assert_eq!(of(output), None, "{output:?}");
        }
    }

    #[test]
    fn schemas_are_plain_and_undescribed() {
        for tool in STRUCTURED_TOOLS {
            let schema = output_schema(tool).expect("a schema");
            let text = serde_json::to_string(&schema).unwrap();
            for word in [
                "$ref",
                "$defs",
                "$schema",
                "\"description\"",
                "\"title\":\"",
            ] {
                assert!(!text.contains(word), "{tool}: {word} in {text}");
            }
            assert_eq!(schema["type"], "object", "{tool}");
        }
        // A property named like a keyword survives.
        let tabs = output_schema("tabs").unwrap();
        assert!(tabs["properties"]["session"].is_object(), "{tabs:?}");
        // Page text is no record: it stays in the text.
        for tool in ["navigate", "scrape", "snapshot", "click", "batch_scrape"] {
            assert!(output_schema(tool).is_none(), "{tool}");
        }
    }
}
