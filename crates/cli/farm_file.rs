//! `--config farm.toml`: the farm's nodes with per-node token, weight and tags.
//!
//! ```toml
//! local_pool = false          # optional; --local-pool overrides it
//! token = "shared-secret"     # optional; default token for every node
//!
//! [[node]]
//! url = "http://10.0.0.11:9301"
//! weight = 2.0                # optional, default 1
//! tags = { region = "eu" }    # optional; added to what the node reports
//!
//! [[node]]
//! url = "http://10.0.0.12:9301"
//! token = "other-secret"      # optional; overrides the default token
//! tags = { region = "us" }
//!
//! [[node]]
//! url = "https://10.0.0.13:9301"
//! tls_name = "pi-3.lab"       # optional; the name its TLS certificate carries
//!
//! [[rule]]                    # optional; first match wins
//! hosts = ["*.de", "*.at", "example.eu"]
//! prefer = { region = "eu" }  # one-off reads of these hosts prefer eu nodes
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use browserfarm_gateway::{HostRule, NodeSpec};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FarmFile {
    pub local_pool: Option<bool>,
    token: Option<String>,
    #[serde(default, rename = "node")]
    nodes: Vec<NodeEntry>,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    hosts: Vec<String>,
    prefer: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeEntry {
    url: String,
    token: Option<String>,
    weight: Option<f64>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    /// For an `https://IP:PORT` node whose certificate names a host instead.
    tls_name: Option<String>,
}

impl FarmFile {
    pub fn load(path: &Path) -> anyhow::Result<FarmFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the farm config {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid farm config {}", path.display()))
    }

    fn parse(text: &str) -> anyhow::Result<FarmFile> {
        let file: FarmFile = toml::from_str(text)?;
        for rule in &file.rules {
            if rule.hosts.is_empty() || rule.prefer.is_empty() {
                anyhow::bail!(
                    "a [[rule]] needs hosts and prefer, e.g. hosts = [\"*.de\"], prefer = {{ region = \"eu\" }}"
                );
            }
            if let Some(bad) = rule.hosts.iter().find(|h| {
                h.is_empty() || h[h.starts_with("*.") as usize * 2..].contains(['*', '/', ':'])
            }) {
                anyhow::bail!(
                    "rule host {bad:?}: write a host name (example.org) or *.suffix (*.de), \
                     without scheme, port or path"
                );
            }
        }
        for node in &file.nodes {
            if let Some(w) = node.weight
                && !(w.is_finite() && w > 0.0)
            {
                anyhow::bail!(
                    "node {}: weight must be a positive number, not {w}",
                    node.url
                );
            }
        }
        Ok(file)
    }

    /// The `[[rule]]`s, in order.
    pub fn rules(&self) -> Vec<HostRule> {
        self.rules
            .iter()
            .map(|r| HostRule {
                hosts: r.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
                prefer: r.prefer.clone(),
            })
            .collect()
    }

    /// The nodes, each with its own token or else the file's, or else `fallback`
    /// (the `--token` flag).
    pub fn node_specs(&self, fallback: Option<&str>) -> Vec<NodeSpec> {
        self.nodes
            .iter()
            .map(|n| NodeSpec {
                url: n.url.clone(),
                token: n
                    .token
                    .clone()
                    .or_else(|| self.token.clone())
                    .or_else(|| fallback.map(str::to_owned)),
                weight: n.weight.unwrap_or(1.0),
                tags: n.tags.clone(),
                server_name: n.tls_name.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_with_tokens_weights_and_tags() {
        let file = FarmFile::parse(
            r#"
            local_pool = false
            token = "shared"
            [[node]]
            url = "http://10.0.0.11:9301"
            weight = 2.5
            tags = { region = "eu" }
            [[node]]
            url = "http://10.0.0.12:9301"
            token = "own"
            "#,
        )
        .unwrap();
        assert_eq!(file.local_pool, Some(false));
        let specs = file.node_specs(Some("flag"));
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].token.as_deref(), Some("shared"));
        assert_eq!(specs[0].weight, 2.5);
        assert_eq!(specs[0].tags.get("region").map(String::as_str), Some("eu"));
        assert_eq!(specs[1].token.as_deref(), Some("own"));
        assert_eq!(specs[1].weight, 1.0);
    }

    #[test]
    fn the_flag_token_is_the_last_resort() {
        let file = FarmFile::parse("[[node]]\nurl = \"http://a:1\"\n").unwrap();
        assert_eq!(
            file.node_specs(Some("flag"))[0].token.as_deref(),
            Some("flag")
        );
        assert_eq!(file.node_specs(None)[0].token, None);
    }

    #[test]
    fn rules_map_hosts_to_preferred_tags() {
        let file = FarmFile::parse(
            "[[rule]]\nhosts = [\"*.DE\", \"example.eu\"]\nprefer = { region = \"eu\" }\n",
        )
        .unwrap();
        let rules = file.rules();
        assert_eq!(rules[0].hosts, ["*.de", "example.eu"]);
        assert_eq!(
            rules[0].prefer.get("region").map(String::as_str),
            Some("eu")
        );
        let url =
            FarmFile::parse("[[rule]]\nhosts = [\"https://a.de\"]\nprefer = { r = \"eu\" }\n");
        assert!(format!("{:#}", url.unwrap_err()).contains("without scheme"));
        let empty = FarmFile::parse("[[rule]]\nhosts = [\"a.de\"]\nprefer = {}\n");
        assert!(format!("{:#}", empty.unwrap_err()).contains("needs hosts and prefer"));
    }

    #[test]
    fn mistakes_are_reported() {
        let typo = FarmFile::parse("[[node]]\nurl = \"http://a:1\"\nwieght = 2\n");
        assert!(format!("{:#}", typo.unwrap_err()).contains("wieght"));
        let weight = FarmFile::parse("[[node]]\nurl = \"http://a:1\"\nweight = 0\n");
        assert!(format!("{:#}", weight.unwrap_err()).contains("positive"));
    }
}
