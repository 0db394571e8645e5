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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(cut_chars("héllo wörld".into(), 5), ("héllo".into(), 6));
        assert_eq!(cut_chars("short".into(), 5), ("short".into(), 0));
    }
}
