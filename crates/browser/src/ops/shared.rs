//! Parts a page shares with the page the agent saw before it. Most of what an
//! agent reads on a site's second page is the header, navigation, sidebar and
//! footer it read on the first; a new page's outline names each such part in
//! one line instead of repeating it, and the part's refs carry over, so a ref
//! the agent holds from the page before still clicks the same link.
//!
//! A part is a top-level block of the outline (a line at the outer level and
//! the lines under it). It is shared when the page before had a block with the
//! same lines, refs aside; it is named only when it has [`MIN_LINES`] lines or
//! more, since a shorter one costs less to show than to name.

use std::collections::{HashMap, VecDeque};

use crate::tab::{Outline, RefMap};

/// Fewest lines a shared part must have to be named instead of shown.
const MIN_LINES: usize = 3;

/// The number in a line's `[ref=e12]`, with where the ref starts and ends.
pub(crate) fn ref_in(line: &str) -> Option<(usize, usize, u64)> {
    let start = line.find(" [ref=e")?;
    let digits = start + " [ref=e".len();
    let end = digits + line[digits..].find(']')?;
    let n = line[digits..end].parse().ok()?;
    Some((start, end + 1, n))
}

fn without_ref(line: &str) -> String {
    match ref_in(line) {
        Some((start, end, _)) => format!("{}{}", &line[..start], &line[end..]),
        None => line.to_owned(),
    }
}

fn with_ref(line: &str, n: u64) -> String {
    match ref_in(line) {
        Some((start, end, _)) => format!("{} [ref=e{n}]{}", &line[..start], &line[end..]),
        None => line.to_owned(),
    }
}

/// The top-level blocks of an outline, as ranges of its lines.
fn blocks(lines: &[String]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with(' ') || out.is_empty() {
            out.push(i..i + 1);
        } else if let Some(last) = out.last_mut() {
            last.end = i + 1;
        }
    }
    out
}

/// The lines to show of `new`, an outline of a page other than `before`'s:
/// each part it shares with `before` is carried over (its refs become the ones
/// it had there, in `refs` and in `new`) and, when long enough, named in one
/// line. With `full`, shared parts are carried over but shown whole.
pub(crate) fn fold(
    before: &Outline,
    new: &mut Outline,
    refs: &mut RefMap,
    full: bool,
) -> Vec<String> {
    let mut earlier: HashMap<Vec<String>, VecDeque<std::ops::Range<usize>>> = HashMap::new();
    for block in blocks(&before.lines) {
        let key = before.lines[block.clone()]
            .iter()
            .map(|l| without_ref(l))
            .collect();
        earlier.entry(key).or_default().push_back(block);
    }
    let mut shown = Vec::new();
    for block in blocks(&new.lines) {
        let key: Vec<String> = new.lines[block.clone()]
            .iter()
            .map(|l| without_ref(l))
            .collect();
        let Some(old) = earlier.get_mut(&key).and_then(VecDeque::pop_front) else {
            shown.extend_from_slice(&new.lines[block]);
            continue;
        };
        for (i, o) in block.clone().zip(old) {
            if let (Some((_, _, now)), Some((_, _, was))) =
                (ref_in(&new.lines[i]), ref_in(&before.lines[o]))
                && (now == was || refs.carry_over(now, was))
            {
                new.lines[i] = with_ref(&new.lines[i], was);
            }
        }
        if full || block.len() < MIN_LINES {
            shown.extend_from_slice(&new.lines[block]);
        } else {
            // Says what was folded and how to see it, in few bytes: every
            // new page an action reaches carries a few such lines.
            shown.push(format!(
                "{} [as on the last page, {} lines: snapshot full:true]",
                new.lines[block.start],
                block.len()
            ));
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outline(document: i64, text: &str) -> Outline {
        Outline {
            document,
            lines: text.lines().map(str::to_owned).collect(),
        }
    }

    #[test]
    fn shared_parts_are_named_and_keep_their_refs() {
        let mut refs = RefMap::default();
        refs.begin(1);
        for node in 10..14 {
            refs.ref_for(node);
        }
        let before = outline(
            1,
            "- navigation\n  - link \"Home\" [ref=e1]\n  - link \"Shop\" [ref=e2]\n\
             - heading \"Page 1\"\n- contentinfo\n  - link \"Imprint\" [ref=e3]",
        );
        // The new page: its nodes got fresh refs e5.. when it was rendered.
        refs.begin(2);
        for node in 20..24 {
            refs.ref_for(node);
        }
        let mut new = outline(
            2,
            "- navigation\n  - link \"Home\" [ref=e5]\n  - link \"Shop\" [ref=e6]\n\
             - heading \"Page 2\"\n- link \"Buy\" [ref=e7]\n- contentinfo\n  - link \"Imprint\" [ref=e8]",
        );
        let shown = fold(&before, &mut new, &mut refs, false);
        assert_eq!(
            shown,
            vec![
                "- navigation [as on the last page, 3 lines: snapshot full:true]",
                "- heading \"Page 2\"",
                "- link \"Buy\" [ref=e7]",
                "- contentinfo",
                "  - link \"Imprint\" [ref=e3]",
            ]
        );
        // The old refs name the new page's elements; the replaced ones are gone.
        assert_eq!(refs.node("e1"), Some(20));
        assert_eq!(refs.node("e2"), Some(21));
        assert_eq!(refs.node("e3"), Some(23));
        assert_eq!(refs.node("e5"), None);
        assert_eq!(refs.node("e7"), Some(22));
        assert!(new.lines[1].ends_with("[ref=e1]"), "{:?}", new.lines);

        let mut again = new.clone();
        again.document = 3;
        let whole = fold(&new, &mut again, &mut refs, true);
        assert_eq!(whole, again.lines, "full shows every line");
    }
}
