//! Arguments of the tools that look at the page as an agent acts on it (`snapshot`)
//! and act on its elements, addressed by a snapshot ref (`e12`) or a CSS selector.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::JobError;

/// Snapshot budget per page of output when the caller gives none (about 2k tokens).
pub const DEFAULT_SNAPSHOT_CHARS: usize = 8_000;
/// Largest snapshot page a caller may ask for.
pub const MAX_SNAPSHOT_CHARS: usize = 200_000;
/// How long `wait_for` waits when the caller gives no timeout.
pub const DEFAULT_WAIT_MS: u64 = 10_000;
/// Most fields one `fill_form` call may set.
pub const MAX_FORM_FIELDS: usize = 100;

/// One element of the page: a ref from the latest `snapshot`, or a CSS selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementTarget {
    /// A snapshot ref such as `e12`.
    Ref(String),
    /// A CSS selector; the first match is used.
    Selector(String),
}

impl ElementTarget {
    /// Picks the target out of a tool's `ref` and `selector` arguments: exactly one
    /// must be given.
    pub fn from_args(r: Option<&str>, selector: Option<&str>) -> Result<Self, JobError> {
        match (r, selector) {
            (Some(_), Some(_)) => Err(JobError::invalid_argument(
                "pass either ref or selector, not both",
            )),
            (None, None) => Err(JobError::invalid_argument(
                "pass ref (from snapshot, e.g. \"e12\") or selector (CSS) to say which element",
            )),
            (Some(r), None) => {
                let r = r.trim();
                if is_ref(r) {
                    Ok(ElementTarget::Ref(r.to_owned()))
                } else {
                    Err(JobError::invalid_argument(format!(
                        "'{r}' is not a snapshot ref (refs look like e12); call snapshot to get \
                         refs, or pass a CSS selector as selector"
                    )))
                }
            }
            (None, Some(s)) if s.trim().is_empty() => {
                Err(JobError::invalid_argument("selector is empty"))
            }
            (None, Some(s)) => Ok(ElementTarget::Selector(s.to_owned())),
        }
    }

    /// How messages name the element.
    pub fn describe(&self) -> String {
        match self {
            ElementTarget::Ref(r) => format!("ref {r}"),
            ElementTarget::Selector(s) => format!("'{s}'"),
        }
    }
}

fn is_ref(r: &str) -> bool {
    r.len() > 1 && r.starts_with('e') && r[1..].bytes().all(|b| b.is_ascii_digit()) && r.len() <= 12
}

/// A compact accessibility view of the page with refs for acting on elements.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotArgs {
    /// Only this element (CSS selector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub selector: Option<String>,
    /// Characters per part (default 8000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub max_chars: Option<usize>,
    /// Which part, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub page: Option<usize>,
    /// Also show parts shared with the page before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub full: Option<bool>,
}

impl SnapshotArgs {
    pub fn validate(&self) -> Result<(), JobError> {
        check_optional_selector(self.selector.as_deref())?;
        match self.max_chars {
            Some(n) if !(200..=MAX_SNAPSHOT_CHARS).contains(&n) => {
                return Err(JobError::invalid_argument(format!(
                    "max_chars must be between 200 and {MAX_SNAPSHOT_CHARS}, got {n}"
                )));
            }
            _ => {}
        }
        if self.page == Some(0) {
            return Err(JobError::invalid_argument("page starts at 1"));
        }
        Ok(())
    }
}

/// Move the mouse over an element (opens hover menus, shows tooltips).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoverArgs {
    /// Element ref from snapshot.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub element: Option<String>,
    /// Or a CSS selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub selector: Option<String>,
    /// false: a one-line answer, without what changed on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub changes: Option<bool>,
}

/// Choose options in a `<select>` element.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectOptionArgs {
    /// The select's ref from snapshot.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub element: Option<String>,
    /// Or a CSS selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub selector: Option<String>,
    /// Option values or labels.
    pub values: Vec<String>,
    /// false: a one-line answer, without what changed on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub changes: Option<bool>,
}

/// Press a key, or a combination such as "Control+A", on the focused element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PressKeyArgs {
    /// KeyboardEvent.key names: "Enter", "ArrowDown", "Shift+Tab".
    pub key: String,
    /// false: a one-line answer, without what changed on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub changes: Option<bool>,
}

/// Where `scroll` moves the page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScrollDirection {
    #[default]
    Down,
    Up,
    Left,
    Right,
}

/// Scroll the page, or bring an element into view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrollArgs {
    /// Default down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ScrollDirection")]
    pub direction: Option<ScrollDirection>,
    /// Pixels (default 80 % of the viewport).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u32")]
    pub amount: Option<u32>,
    /// Ref to scroll into view instead.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub element: Option<String>,
    /// Or a CSS selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub selector: Option<String>,
    /// false: a one-line answer, without what changed on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub changes: Option<bool>,
}

/// One field of `fill_form`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// Field ref from snapshot.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub element: Option<String>,
    /// Or a CSS selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub selector: Option<String>,
    /// Text (replaces), option value or label, or "true"/"false" for a checkbox.
    pub value: String,
}

/// Set several form fields in one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FillFormArgs {
    /// Fields to set, in order.
    pub fields: Vec<FormField>,
    /// false: a one-line answer, without what changed on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub changes: Option<bool>,
}

/// Wait until something appears on, or disappears from, the page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitForArgs {
    /// Until this CSS selector is visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub selector: Option<String>,
    /// Until this text is visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub text: Option<String>,
    /// Until this text is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub text_gone: Option<String>,
    /// Default 10000, max 300000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64")]
    pub timeout_ms: Option<u64>,
}

/// What `wait_for` waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitCondition {
    Selector(String),
    Text(String),
    TextGone(String),
}

impl WaitForArgs {
    pub fn condition(&self) -> Result<WaitCondition, JobError> {
        let given = [&self.selector, &self.text, &self.text_gone]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if given != 1 {
            return Err(JobError::invalid_argument(
                "pass exactly one of selector, text or text_gone",
            ));
        }
        let nonempty = |s: &String, what: &str| {
            if s.trim().is_empty() {
                Err(JobError::invalid_argument(format!("{what} is empty")))
            } else {
                Ok(s.clone())
            }
        };
        if let Some(s) = &self.selector {
            return nonempty(s, "selector").map(WaitCondition::Selector);
        }
        if let Some(t) = &self.text {
            return nonempty(t, "text").map(WaitCondition::Text);
        }
        nonempty(self.text_gone.as_ref().expect("counted"), "text_gone")
            .map(WaitCondition::TextGone)
    }
}

/// Put a file from the node's upload directory into a file input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadFileArgs {
    /// The file input's ref from snapshot.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub element: Option<String>,
    /// Or a CSS selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub selector: Option<String>,
    /// File names in --upload-dir.
    pub paths: Vec<String>,
}

pub(crate) fn check_optional_selector(selector: Option<&str>) -> Result<(), JobError> {
    match selector {
        Some(s) if s.trim().is_empty() => Err(JobError::invalid_argument("selector is empty")),
        _ => Ok(()),
    }
}

/// Checks a `key` argument's shape: modifiers then one key, joined with "+".
pub fn parse_key_combo(combo: &str) -> Result<(Vec<Modifier>, String), JobError> {
    let combo = combo.trim();
    if combo.is_empty() {
        return Err(JobError::invalid_argument("key is empty"));
    }
    // "+" alone, or a combination ending in "+" such as "Shift++", names the plus key.
    let (mods, key) = match combo.strip_suffix("++") {
        Some(rest) => (rest, "+"),
        None if combo == "+" => ("", "+"),
        None => match combo.rsplit_once('+') {
            Some((m, k)) => (m, k),
            None => ("", combo),
        },
    };
    let mut modifiers = Vec::new();
    for m in mods.split('+').filter(|m| !m.is_empty()) {
        modifiers.push(match m.to_ascii_lowercase().as_str() {
            "shift" => Modifier::Shift,
            "control" | "ctrl" => Modifier::Control,
            "alt" | "option" => Modifier::Alt,
            "meta" | "cmd" | "command" => Modifier::Meta,
            other => {
                return Err(JobError::invalid_argument(format!(
                    "unknown modifier '{other}' in '{combo}': use Shift, Control, Alt or Meta"
                )));
            }
        });
    }
    if key.is_empty() {
        return Err(JobError::invalid_argument(format!(
            "'{combo}' names no key after its modifiers"
        )));
    }
    Ok((modifiers, key.to_owned()))
}

/// A modifier key held during `press_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    Alt,
    Control,
    Meta,
    Shift,
}

impl Modifier {
    /// The bit CDP's `Input.dispatchKeyEvent` uses for this modifier.
    pub fn cdp_bit(self) -> i64 {
        match self {
            Modifier::Alt => 1,
            Modifier::Control => 2,
            Modifier::Meta => 4,
            Modifier::Shift => 8,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Modifier::Alt => "Alt",
            Modifier::Control => "Control",
            Modifier::Meta => "Meta",
            Modifier::Shift => "Shift",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_target_needs_exactly_one_well_formed_address() {
        assert_eq!(
            ElementTarget::from_args(Some("e12"), None).unwrap(),
            ElementTarget::Ref("e12".into())
        );
        assert!(ElementTarget::from_args(Some("12"), None).is_err());
        assert!(ElementTarget::from_args(Some("#id"), None).is_err());
        assert!(ElementTarget::from_args(None, None).is_err());
        assert!(ElementTarget::from_args(Some("e1"), Some("#a")).is_err());
        assert!(ElementTarget::from_args(None, Some("  ")).is_err());
    }

    #[test]
    fn key_combos_parse_modifiers_and_the_plus_key() {
        let (m, k) = parse_key_combo("Control+Shift+a").unwrap();
        assert_eq!(
            (m, k.as_str()),
            (vec![Modifier::Control, Modifier::Shift], "a")
        );
        assert_eq!(parse_key_combo("Enter").unwrap().1, "Enter");
        assert_eq!(parse_key_combo("+").unwrap().1, "+");
        assert_eq!(parse_key_combo("Shift++").unwrap().1, "+");
        assert!(parse_key_combo("Hyper+a").is_err());
        assert!(parse_key_combo("").is_err());
    }

    #[test]
    fn wait_for_takes_exactly_one_condition() {
        let w = WaitForArgs {
            text: Some("Done".into()),
            ..Default::default()
        };
        assert_eq!(w.condition().unwrap(), WaitCondition::Text("Done".into()));
        assert!(WaitForArgs::default().condition().is_err());
        let both = WaitForArgs {
            text: Some("a".into()),
            selector: Some("b".into()),
            ..Default::default()
        };
        assert!(both.condition().is_err());
    }
}
