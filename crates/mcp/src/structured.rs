//! Results as data as well as text: `structuredContent` for the tools whose
//! results a program wants as records (navigate, tabs, console_messages,
//! network_requests, cookies, downloads, farm_status), and the `outputSchema` it
//! follows for the first four. The text stays what a model reads. Schemas come
//! from the same types the data is serialised from, so the two cannot drift,
//! and are listed made plain and without descriptions (the text result says
//! what the fields mean): each byte of `tools/list` costs every turn, which is
//! why the larger records (cookies, downloads, the farm's nodes) carry data
//! without a listed schema.

use browserfarm_protocol::{ConsoleEntry, FarmStatus, JobOutput, RequestEntry, TabInfo};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// Where a navigation ended.
#[derive(Serialize, JsonSchema)]
struct Page {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    title: String,
}

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

/// The tools that list an output schema.
#[cfg(test)]
const STRUCTURED_TOOLS: &[&str] = &["navigate", "tabs", "console_messages", "network_requests"];

/// The output schema listed for `tool`, if it has one.
pub(crate) fn output_schema(tool: &str) -> Option<JsonObject> {
    let schema = match tool {
        "navigate" => schemars::schema_for!(Page),
        "tabs" => schemars::schema_for!(Tabs),
        "console_messages" => schemars::schema_for!(Console),
        "network_requests" => schemars::schema_for!(Network),
        _ => return None,
    };
    let Ok(Value::Object(mut object)) = serde_json::to_value(schema) else {
        return None;
    };
    crate::schema::compact(&mut object);
    let mut schema = Value::Object(object);
    undescribed(&mut schema);
    match schema {
        Value::Object(object) => Some(object),
        _ => None,
    }
}

/// Drops descriptions, titles, formats and numeric bounds (the data is ours,
/// and the text result says what it means), keeping properties that happen
/// to be called so.
fn undescribed(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let properties = object.remove("properties");
            for key in ["description", "title", "format", "minimum", "maximum"] {
                object.remove(key);
            }
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

/// The structured form of a job's result, for the tools above.
pub(crate) fn of(output: &JobOutput) -> Option<Value> {
    let value = match output {
        JobOutput::Navigated { page } => serde_json::to_value(Page {
            url: page.url.clone(),
            status: page.status,
            title: page.title.clone(),
        }),
        JobOutput::Tabs { tabs, .. } => serde_json::to_value(Tabs { tabs: tabs.clone() }),
        JobOutput::Console { entries, omitted } => serde_json::to_value(Console {
            entries: entries.clone(),
            omitted: *omitted,
        }),
        JobOutput::Requests { entries, omitted } => serde_json::to_value(Network {
            entries: entries.clone(),
            omitted: *omitted,
        }),
        JobOutput::Cookies { cookies } => Ok(serde_json::json!({ "cookies": cookies })),
        JobOutput::Downloads { downloads, enabled } => Ok(serde_json::json!({
            "downloads": downloads,
            "enabled": enabled,
        })),
        _ => return None,
    };
    value.ok()
}

/// The structured form of the farm's status.
pub(crate) fn of_farm(status: &FarmStatus) -> Option<Value> {
    serde_json::to_value(status).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let page = output_schema("navigate").unwrap();
        assert!(page["properties"]["title"].is_object(), "{page:?}");
    }
}
