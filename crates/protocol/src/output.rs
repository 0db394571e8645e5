//! What a successful job returns. Kept small: agents pay for every byte.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ScrapeFormat;

/// Where the tab is after an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageInfo {
    /// Final URL, after redirects.
    pub url: String,
    /// HTTP status of the main document, when the operation loaded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Document title.
    pub title: String,
}

/// An encoded image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Image {
    pub mime_type: String,
    /// The image bytes, base64 encoded (as Chromium and MCP both carry them).
    pub data_base64: String,
    pub width: u32,
    pub height: u32,
}

/// Page content in the requested format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Scraped {
    pub page: PageInfo,
    pub format: ScrapeFormat,
    /// The content, already cut to `max_chars` with an explicit truncation marker.
    pub content: String,
    /// Characters left out by the cut (0 when nothing was cut).
    pub truncated_chars: usize,
}

/// The result of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobOutput {
    Navigated { page: PageInfo },
    Screenshot { page: PageInfo, image: Image },
    Scraped(Scraped),
    Clicked { page: PageInfo },
    Typed { page: PageInfo },
    Evaluated { value: serde_json::Value },
}
