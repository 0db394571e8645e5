//! Which tools the server lists (`--tools`): named groups, so the default list
//! stays small (every listed byte is context a model pays for on every turn)
//! and rarely used tools are one flag away, as Playwright MCP's `--caps` and
//! agent-browser's profiles do. A call to a tool outside the listed groups is
//! refused with the flag that lists it.

/// A named group of tools.
#[derive(Debug)]
pub struct ToolGroup {
    pub name: &'static str,
    pub tools: &'static [&'static str],
}

/// Every group, in the order `--help` and the docs give them. Each tool is in
/// exactly one group but `core`, a subset of `browsing` for models with
/// little context to spare.
pub const TOOL_GROUPS: &[ToolGroup] = &[
    ToolGroup {
        name: "browsing",
        tools: &[
            "navigate",
            "snapshot",
            "click",
            "type",
            "press_key",
            "select_option",
            "fill_form",
            "hover",
            "scroll",
            "wait_for",
            "scrape",
            "screenshot",
            "evaluate",
            "tabs",
            "handle_dialog",
            "upload_file",
            "console_messages",
            "network_requests",
            "batch_scrape",
            "close_session",
        ],
    },
    ToolGroup {
        name: "state",
        tools: &["cookies", "storage_state", "emulate"],
    },
    ToolGroup {
        name: "files",
        tools: &["pdf", "downloads"],
    },
    ToolGroup {
        name: "farm",
        tools: &["farm_status"],
    },
    ToolGroup {
        name: "core",
        tools: CORE_TOOLS,
    },
];

/// The groups listed without `--tools`.
pub const DEFAULT_TOOLS: &str = "browsing";

/// The tools of the `core` group: open, look, act, read.
pub const CORE_TOOLS: &[&str] = &[
    "navigate",
    "snapshot",
    "click",
    "type",
    "press_key",
    "select_option",
    "fill_form",
    "scrape",
    "screenshot",
];

/// The groups a server lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolset {
    groups: Vec<&'static str>,
}

impl Default for Toolset {
    /// Every tool: what an embedder gets without asking (the binary's
    /// default is [`DEFAULT_TOOLS`]).
    fn default() -> Toolset {
        Toolset::all()
    }
}

impl Toolset {
    /// Every group.
    pub fn all() -> Toolset {
        Toolset {
            groups: TOOL_GROUPS.iter().map(|g| g.name).collect(),
        }
    }

    /// A comma list of group names, or `all`.
    pub fn parse(spec: &str) -> Result<Toolset, String> {
        let mut groups = Vec::new();
        for name in spec.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                return Ok(Toolset::all());
            }
            let Some(group) = TOOL_GROUPS.iter().find(|g| g.name == name) else {
                return Err(format!(
                    "unknown tool group '{name}': expected a comma list of {} (or all)",
                    group_names()
                ));
            };
            if !groups.contains(&group.name) {
                groups.push(group.name);
            }
        }
        if groups.is_empty() {
            return Err(format!(
                "no tool group given: expected a comma list of {} (or all)",
                group_names()
            ));
        }
        Ok(Toolset { groups })
    }

    /// Whether `tool` is listed.
    pub fn lists(&self, tool: &str) -> bool {
        TOOL_GROUPS
            .iter()
            .filter(|g| self.groups.contains(&g.name))
            .any(|g| g.tools.contains(&tool))
    }

    /// What to tell a caller of `tool` when it is not listed: the group that
    /// has it and the flag that would list it, if any group has it.
    pub fn refusal(&self, tool: &str) -> Option<String> {
        let group = TOOL_GROUPS
            .iter()
            .find(|g| g.name != "core" && g.tools.contains(&tool))?;
        let mut groups: Vec<&str> = self
            .groups
            .iter()
            .copied()
            .filter(|g| *g != "core")
            .collect();
        groups.push(group.name);
        Some(format!(
            "tool '{tool}' is in the '{}' tool group, which this server does not list; \
             its operator can list it with --tools {} (or --tools all)",
            group.name,
            groups.join(",")
        ))
    }
}

fn group_names() -> String {
    TOOL_GROUPS
        .iter()
        .map(|g| g.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_and_list_their_tools() {
        let default = Toolset::parse(DEFAULT_TOOLS).unwrap();
        assert!(default.lists("navigate"));
        assert!(!default.lists("cookies"));
        let more = Toolset::parse("browsing, state").unwrap();
        assert!(more.lists("cookies") && more.lists("click") && !more.lists("pdf"));
        let all = Toolset::parse("all").unwrap();
        assert!(all.lists("farm_status") && all.lists("pdf"));
        let core = Toolset::parse("core").unwrap();
        assert!(core.lists("click") && !core.lists("tabs"));
        let wrong = Toolset::parse("browsing,nope").unwrap_err();
        assert!(wrong.contains("unknown tool group 'nope'"), "{wrong}");
        assert!(Toolset::parse(" ,").is_err());
        let told = default.refusal("cookies").unwrap();
        assert!(told.contains("'state' tool group"), "{told}");
        assert!(told.contains("--tools browsing,state"), "{told}");
        let from_core = core.refusal("evaluate").unwrap();
        assert!(from_core.contains("--tools browsing "), "{from_core}");
        assert!(default.refusal("teleport").is_none());
    }

    #[test]
    fn every_tool_is_in_one_group_besides_core() {
        let mut seen = std::collections::HashSet::new();
        for group in TOOL_GROUPS.iter().filter(|g| g.name != "core") {
            for tool in group.tools {
                assert!(seen.insert(*tool), "{tool} is in two groups");
            }
        }
        for tool in CORE_TOOLS {
            assert!(seen.contains(tool), "core's {tool} is in no other group");
        }
    }
}
