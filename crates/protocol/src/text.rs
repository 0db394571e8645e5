//! Character-safe text cutting, shared by everything that bounds its output.

/// Cuts `text` after `max_chars` characters (never inside a UTF-8 sequence);
/// returns the kept part and how many characters were dropped.
pub fn cut_chars(mut text: String, max_chars: usize) -> (String, usize) {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => {
            let dropped = text[at..].chars().count();
            text.truncate(at);
            (text, dropped)
        }
        None => (text, 0),
    }
}

/// How a unit enum variant is spelled on the wire (its serde name), for messages.
pub fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(cut_chars("héllo wörld".into(), 5), ("héllo".into(), 6));
        assert_eq!(cut_chars("short".into(), 5), ("short".into(), 0));
    }
}
