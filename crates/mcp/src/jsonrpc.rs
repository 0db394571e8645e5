//! The shape of a JSON-RPC 2.0 message, checked before rmcp sees a line or a
//! body: rmcp drops what it cannot read without a word (stdio) or answers with a
//! bare status (HTTP), and a client then waits or guesses.

/// Why `message` is not a JSON-RPC 2.0 request, notification or response, if it
/// is not one.
pub(crate) fn not_a_message(message: &serde_json::Value) -> Option<&'static str> {
    let Some(object) = message.as_object() else {
        return Some(if message.is_array() {
            "batches are not supported; send one message per line"
        } else {
            "a message must be a JSON object"
        });
    };
    if object.get("jsonrpc").and_then(|v| v.as_str()) != Some("2.0") {
        return Some("\"jsonrpc\" must be \"2.0\"");
    }
    let is_call = object.get("method").is_some_and(|m| m.is_string());
    let is_reply = object.contains_key("id")
        && (object.contains_key("result") || object.contains_key("error"));
    if !is_call && !is_reply {
        return Some("a message needs a \"method\" (or, for a reply, an id and a result or error)");
    }
    None
}

/// A JSON-RPC error reply for a message that never reached the server proper.
pub(crate) fn error_reply(
    code: i64,
    message: &str,
    id: Option<&serde_json::Value>,
) -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(serde_json::Value::Null),
        "error": { "code": code, "message": message },
    })
}

/// Checks one message's bytes; the error reply to send when they are not a
/// JSON-RPC 2.0 message.
pub(crate) fn check(body: &[u8]) -> Result<(), serde_json::Value> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(message) => match not_a_message(&message) {
            None => Ok(()),
            Some(why) => {
                let id = message
                    .get("id")
                    .filter(|id| id.is_string() || id.is_number());
                Err(error_reply(-32600, &format!("Invalid Request: {why}"), id))
            }
        },
        Err(e) => Err(error_reply(-32700, &format!("Parse error: {e}"), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_rpc_messages_reach_rmcp() {
        use serde_json::json;
        assert!(not_a_message(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})).is_none());
        assert!(not_a_message(&json!({"jsonrpc": "2.0", "method": "notifications/x"})).is_none());
        assert!(not_a_message(&json!({"jsonrpc": "2.0", "id": 1, "result": {}})).is_none());
        assert!(not_a_message(&json!(42)).is_some());
        assert!(not_a_message(&json!([{"jsonrpc": "2.0", "method": "ping"}])).is_some());
        assert!(not_a_message(&json!({"jsonrpc": "1.0", "id": 1, "method": "ping"})).is_some());
        assert!(not_a_message(&json!({"jsonrpc": "2.0", "id": 7})).is_some());
    }
}
