//! What a tool call says besides its tool's own arguments: where and how
//! urgently its jobs run (`node_tags`, `priority`), whether the result cache may
//! answer it (`cache`) and which browser session it runs in (`session`). The
//! MCP layer adds these to the tools' input schemas, takes them off a call's
//! arguments before the typed arguments (which refuse unknown fields) are
//! parsed, and checks the rest with the path of the offending field.

use std::sync::Arc;

use browserfarm_protocol::{
    ArgsError, BatchScrapeArgs, CloseSessionArgs, FarmStatusArgs, NodeTags, Operation, Priority,
};
use rmcp::RoleServer;
use rmcp::model::JsonObject;
use rmcp::service::RequestContext;

use crate::session::Requested;

/// Tools taking a `cache` argument (the result cache, `--result-cache`).
pub(crate) const CACHEABLE_TOOLS: &[&str] = &["scrape", "screenshot", "batch_scrape"];

/// Tools that run no job and take no placement arguments.
pub(crate) const NO_JOB_TOOLS: &[&str] = &["farm_status", "close_session"];

/// Tools whose listing shows `node_tags` and `priority` when the executor
/// offers a choice of where jobs run: those that load a page or start jobs of
/// their own. Every job tool accepts them, but said on every tool they would
/// cost the model context on every turn for what matters where a session or a
/// read starts (a session's later calls go where it lives).
pub(crate) const PLACED_TOOLS: &[&str] =
    &["navigate", "scrape", "screenshot", "pdf", "batch_scrape"];

/// Tools that run outside any session, so take no `session` argument.
pub(crate) const SESSIONLESS_TOOLS: &[&str] = &["farm_status", "batch_scrape"];

/// Where and how urgently a call's jobs run: the `node_tags` and `priority`
/// arguments every job tool accepts besides its own.
#[derive(Debug, Clone, Default)]
pub(crate) struct Placement {
    pub node_tags: NodeTags,
    /// Soft: nodes with these tags while any can take the work (regions).
    pub prefer_tags: NodeTags,
    pub priority: Priority,
    /// The client's name from its initialize request (for the audit log).
    pub client: Option<String>,
    /// The `cache` argument of the tools in [`CACHEABLE_TOOLS`].
    pub cache: Option<bool>,
    /// The `session` argument, and whether the request has a session to fall
    /// back on without it.
    pub session: Requested,
    /// The handle of the session the call ran in, for the result (written by
    /// the call, read once its result is capped).
    pub answer: Arc<std::sync::Mutex<Option<Answered>>>,
}

/// The session a finished call ran in, as its result shows it.
#[derive(Debug, Clone)]
pub(crate) struct Answered {
    pub handle: String,
    /// Also as the result's last line of text (see `session::Resolved`).
    pub in_text: bool,
}

/// Describes `node_tags`, `prefer_tags` and `priority` in a job tool's input
/// schema.
pub(crate) fn add_placement_schema(schema: &mut JsonObject) {
    let properties = schema
        .entry("properties")
        .or_insert_with(|| serde_json::json!({}));
    if let Some(properties) = properties.as_object_mut() {
        properties.insert(
            "node_tags".into(),
            serde_json::json!({
                "type": "object",
                "additionalProperties": { "type": "string" },
                "description": "Only nodes with these labels, e.g. {\"region\":\"eu\"} (\"arch\": \
                    the CPU)."
            }),
        );
        properties.insert(
            "prefer_tags".into(),
            serde_json::json!({
                "type": "object",
                "additionalProperties": { "type": "string" },
                "description": "Prefer these nodes while any is up, else run elsewhere."
            }),
        );
        properties.insert(
            "priority".into(),
            serde_json::json!({
                "type": "string",
                "enum": ["high", "normal", "low"],
                "description": "Queue order when browsers are busy (default normal)."
            }),
        );
    }
}

/// What the `session` argument takes, as every tool's schema says it.
pub(crate) const SESSION_DESCRIPTION: &str =
    "Handle from a result's `session:` line, to keep using that browser; \"new\" opens another.";

/// Describes `session` in the input schema of a tool that runs in a session.
pub(crate) fn add_session_schema(schema: &mut JsonObject) {
    if let Some(properties) = schema
        .entry("properties")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
    {
        properties.insert(
            "session".into(),
            // Said on every tool that takes it: many clients never show the
            // model the server's instructions.
            serde_json::json!({"type": "string", "description": SESSION_DESCRIPTION}),
        );
    }
}

/// Removes `session` from a tool's arguments (the typed arguments reject
/// unknown fields) and checks it is a string.
pub(crate) fn take_session(arguments: Option<&mut JsonObject>) -> Result<Option<String>, String> {
    match arguments.and_then(|a| a.remove("session")) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(handle)) => Ok(Some(handle)),
        Some(other) => Err(format!(
            "invalid session {other}: expected the handle string from a previous result"
        )),
    }
}

/// Whether the request stands alone: it came over HTTP without an MCP session
/// (protocol 2026-07-28, which has none), so no connection session is there to
/// fall back on. stdio, legacy SSE and 2025-11-25 HTTP sessions have one.
pub(crate) fn stands_alone(context: &RequestContext<RoleServer>) -> bool {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .is_some_and(|parts| !parts.headers.contains_key("mcp-session-id"))
}

/// Describes `cache` in the input schema of a tool in [`CACHEABLE_TOOLS`].
pub(crate) fn add_cache_schema(schema: &mut JsonObject, tool: &str) {
    let description = if tool == "batch_scrape" {
        "Serve pages read in the last minutes from the result cache (default true)."
    } else {
        "true: with `url`, a recent result from the result cache, else read in a fresh \
         context (no cookies, tab not moved) and cached. Default false."
    };
    if let Some(properties) = schema
        .entry("properties")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
    {
        properties.insert(
            "cache".into(),
            serde_json::json!({ "type": "boolean", "description": description }),
        );
    }
}

/// Removes the tag object `name` (`node_tags`, `prefer_tags`) from `arguments`.
fn take_tags(arguments: &mut JsonObject, name: &str) -> Result<NodeTags, String> {
    match arguments.remove(name) {
        None => Ok(NodeTags::new()),
        Some(tags) => serde_json::from_value(tags).map_err(|_| {
            format!(
                "invalid {name}: expected an object of string values, e.g. {{\"region\": \"eu\"}}"
            )
        }),
    }
}

/// Removes `node_tags` and `priority` from a job tool's arguments (the typed
/// tool arguments reject unknown fields) and checks them.
pub(crate) fn take_placement(
    tool: &str,
    arguments: Option<&mut JsonObject>,
) -> Result<Placement, String> {
    let Some(arguments) = arguments else {
        return Ok(Placement::default());
    };
    let mut placement = Placement {
        node_tags: take_tags(arguments, "node_tags")?,
        prefer_tags: take_tags(arguments, "prefer_tags")?,
        ..Placement::default()
    };
    if let Some(priority) = arguments.remove("priority") {
        placement.priority = serde_json::from_value(priority.clone()).map_err(|_| {
            format!("invalid priority {priority}: expected \"high\", \"normal\" or \"low\"")
        })?;
    }
    if CACHEABLE_TOOLS.contains(&tool)
        && let Some(cache) = arguments.remove("cache")
    {
        placement.cache = Some(
            cache
                .as_bool()
                .ok_or_else(|| format!("invalid cache {cache}: expected true or false"))?,
        );
    }
    Ok(placement)
}

/// Deserialises a tool's arguments with the path of the offending field, so a
/// type error reads "max_width: invalid type…" rather than rmcp's bare serde text.
/// A tool that runs an [`Operation`] is checked as that operation, so a new
/// operation needs no line here.
pub(crate) fn check_arguments(tool: &str, arguments: Option<&JsonObject>) -> Result<(), String> {
    let args = serde_json::Value::Object(arguments.cloned().unwrap_or_default());
    let checked = match tool {
        "batch_scrape" => parse::<BatchScrapeArgs>(args),
        "farm_status" => parse::<FarmStatusArgs>(args),
        "close_session" => parse::<CloseSessionArgs>(args),
        _ => Operation::from_tool(tool, args).map_or(Ok(()), |parsed| parsed.map(drop)),
    };
    checked.map_err(|e| format!("invalid arguments for {tool}: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(args: serde_json::Value) -> Result<(), ArgsError> {
    serde_path_to_error::deserialize::<_, T>(args)
        .map(drop)
        .map_err(ArgsError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tool: &str, args: serde_json::Value) -> Result<(), String> {
        check_arguments(tool, args.as_object())
    }

    #[test]
    fn argument_errors_name_the_tool_and_the_field() {
        assert_eq!(
            check("screenshot", serde_json::json!({"max_width": 800})),
            Ok(())
        );
        let wrong = check("screenshot", serde_json::json!({"max_width": "wide"})).unwrap_err();
        assert!(
            wrong.starts_with("invalid arguments for screenshot: max_width: invalid type"),
            "{wrong}"
        );
        let unknown = check("navigate", serde_json::json!({"teleport": true})).unwrap_err();
        assert!(
            unknown
                .starts_with("invalid arguments for navigate: teleport: unknown field `teleport`"),
            "{unknown}"
        );
        let nested = check("fill_form", serde_json::json!({"fields": [{"value": 3}]})).unwrap_err();
        assert!(
            nested.starts_with("invalid arguments for fill_form: fields[0].value:"),
            "{nested}"
        );
        let batch = check("batch_scrape", serde_json::json!({"urls": "x"})).unwrap_err();
        assert!(
            batch.starts_with("invalid arguments for batch_scrape: urls: invalid type"),
            "{batch}"
        );
        assert!(check("close_session", serde_json::json!({"x": 1})).is_err());
        assert_eq!(check("farm_status", serde_json::json!({})), Ok(()));
    }
}
