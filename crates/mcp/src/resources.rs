//! Large binary results as resource links (`--resource-links-over`): a
//! screenshot, PDF or downloaded file bigger than the threshold is answered
//! with a `resource_link` (URI, name, MIME type, size) instead of inline base64,
//! and its bytes wait here until the client reads them with `resources/read`.
//!
//! Why: an inline 1 MB screenshot is 1.3 MB of base64 in the agent's context
//! whether or not the model needs to see it; a client that saves or forwards
//! files can fetch the bytes out of band and keep the context small.
//!
//! The store is this process's memory only: bounded by bytes and age, oldest
//! first out. URIs carry 128 random bits, and a resource minted for a caller
//! with a principal (HTTP with a token) is read only by that principal. Behind
//! a load balancer of several gateways, `resources/read` must reach the gateway
//! that answered the call (or leave links off).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmcp::model::{CallToolResult, ContentBlock, Resource, ResourceContents};

/// Bytes of held resources kept at most; older ones go first.
pub const DEFAULT_STORE_BYTES: usize = 256 * 1024 * 1024;
/// How long a held resource can be read after its call.
pub const DEFAULT_STORE_TTL: Duration = Duration::from_secs(600);

const SCHEME: &str = "browserfarm://held/";

/// Where linked results wait to be read, shared by every connection.
#[derive(Debug)]
pub struct ResourceStore {
    /// Results whose raw bytes exceed this are linked rather than inlined.
    over: usize,
    max_bytes: usize,
    ttl: Duration,
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    entries: VecDeque<Entry>,
    bytes: usize,
}

#[derive(Debug)]
struct Entry {
    uri: String,
    mime_type: String,
    /// Base64, as the result carried it and `resources/read` answers it.
    data_base64: String,
    principal: Option<String>,
    created: Instant,
}

impl Entry {
    fn cost(&self) -> usize {
        self.data_base64.len() + self.uri.len()
    }
}

/// Why a `resources/read` found nothing.
#[derive(Debug, thiserror::Error)]
#[error(
    "no resource {0}: it expired, was pushed out by newer ones, or was never \
     minted by this server; repeat the call that produced it"
)]
pub struct NotHeld(pub String);

impl ResourceStore {
    /// Links results larger than `over` bytes.
    pub fn new(over: usize) -> ResourceStore {
        ResourceStore::with_limits(over, DEFAULT_STORE_BYTES, DEFAULT_STORE_TTL)
    }

    pub fn with_limits(over: usize, max_bytes: usize, ttl: Duration) -> ResourceStore {
        ResourceStore {
            over,
            max_bytes,
            ttl,
            held: Mutex::new(Held::default()),
        }
    }

    /// Replaces each image and embedded blob in `result` larger than the
    /// threshold by a link to it, and holds its bytes for `principal`.
    pub fn link_large(&self, result: &mut CallToolResult, principal: Option<&str>) {
        // An embedded resource's old URI, as the caption names it, and its link's.
        let mut renamed: Vec<(String, String)> = Vec::new();
        for block in result.content.iter_mut() {
            let (data, mime_type, name, old_uri) = match &*block {
                ContentBlock::Image(image) => (&image.data, image.mime_type.clone(), None, None),
                ContentBlock::Resource(embedded) => match &embedded.resource {
                    ResourceContents::BlobResourceContents {
                        blob,
                        mime_type,
                        uri,
                        ..
                    } => (
                        blob,
                        mime_type
                            .clone()
                            .unwrap_or_else(|| "application/octet-stream".into()),
                        uri.rsplit('/').next().map(str::to_owned),
                        Some(uri.clone()),
                    ),
                    _ => continue,
                },
                _ => continue,
            };
            let size = decoded_len(data);
            if size <= self.over {
                continue;
            }
            let name = name.unwrap_or_else(|| default_name(&mime_type));
            let uri = format!("{SCHEME}{}/{name}", random_id());
            let data_base64 = data.clone();
            let link = Resource::new(uri.clone(), name)
                .with_mime_type(mime_type.clone())
                .with_size(size as u64);
            *block = ContentBlock::resource_link(link);
            if let Some(old) = old_uri {
                renamed.push((old, uri.clone()));
            }
            self.hold(Entry {
                uri,
                mime_type,
                data_base64,
                principal: principal.map(str::to_owned),
                created: Instant::now(),
            });
        }
        // The caption points at the link, not at a resource no longer there.
        for block in result.content.iter_mut() {
            if let ContentBlock::Text(text) = block {
                for (old, new) in &renamed {
                    text.text = text.text.replace(old.as_str(), new);
                }
            }
        }
    }

    fn hold(&self, entry: Entry) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.bytes += entry.cost();
        held.entries.push_back(entry);
        let now = Instant::now();
        while let Some(oldest) = held.entries.front() {
            let expired = now.duration_since(oldest.created) > self.ttl;
            // The newest always stays, even alone over the bound: its call
            // just promised it.
            if !(expired || held.bytes > self.max_bytes) || held.entries.len() == 1 {
                break;
            }
            let gone = held.entries.pop_front().expect("front exists");
            held.bytes -= gone.cost();
        }
    }

    /// The bytes behind `uri`, for `principal`. Reading does not remove them:
    /// a client may read a link twice (a retry, a second consumer).
    pub fn read(&self, uri: &str, principal: Option<&str>) -> Result<ResourceContents, NotHeld> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.entries
            .iter()
            .find(|e| {
                e.uri == uri
                    && e.created.elapsed() <= self.ttl
                    && e.principal.as_deref() == principal
            })
            .map(|e| {
                ResourceContents::blob(e.data_base64.clone(), e.uri.clone())
                    .with_mime_type(e.mime_type.clone())
            })
            .ok_or_else(|| NotHeld(uri.to_owned()))
    }
}

/// Bytes a standard base64 string decodes to (padding aside).
fn decoded_len(base64: &str) -> usize {
    let padding = base64.bytes().rev().take_while(|&b| b == b'=').count();
    (base64.len() / 4 * 3).saturating_sub(padding)
}

fn default_name(mime_type: &str) -> String {
    match mime_type {
        "image/png" => "screenshot.png",
        "image/jpeg" => "screenshot.jpg",
        "image/webp" => "screenshot.webp",
        "application/pdf" => "page.pdf",
        _ => "result.bin",
    }
    .to_owned()
}

fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn shot(bytes: usize) -> CallToolResult {
        let data = base64::engine::general_purpose::STANDARD.encode(vec![7u8; bytes]);
        CallToolResult::success(vec![
            ContentBlock::image(data, "image/png"),
            ContentBlock::text("Screenshot of …"),
        ])
    }

    fn link_of(result: &CallToolResult) -> Option<&Resource> {
        result
            .content
            .iter()
            .find_map(ContentBlock::as_resource_link)
    }

    #[test]
    fn links_only_results_over_the_threshold_and_reads_them_back() {
        let store = ResourceStore::new(1000);
        let mut small = shot(1000);
        store.link_large(&mut small, None);
        assert!(link_of(&small).is_none(), "1000 bytes stay inline");

        let mut large = shot(1001);
        store.link_large(&mut large, None);
        let link = link_of(&large).expect("linked").clone();
        assert_eq!(link.size, Some(1001));
        assert_eq!(link.mime_type.as_deref(), Some("image/png"));
        assert!(link.uri.starts_with(SCHEME) && link.uri.ends_with("/screenshot.png"));
        assert_eq!(large.content.len(), 2, "the caption stays");

        let ResourceContents::BlobResourceContents { blob, .. } =
            store.read(&link.uri, None).unwrap()
        else {
            panic!("a blob")
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(blob)
            .unwrap();
        assert_eq!(bytes, vec![7u8; 1001]);
        assert!(store.read(&link.uri, None).is_ok(), "readable twice");
    }

    #[test]
    fn another_principal_and_unknown_uris_read_nothing() {
        let store = ResourceStore::new(10);
        let mut large = shot(100);
        store.link_large(&mut large, Some("alice"));
        let uri = link_of(&large).unwrap().uri.clone();
        assert!(store.read(&uri, Some("alice")).is_ok());
        assert!(store.read(&uri, Some("bob")).is_err());
        assert!(store.read(&uri, None).is_err());
        let err = store
            .read("browserfarm://held/nope/x.png", None)
            .unwrap_err();
        assert!(err.to_string().contains("repeat the call"), "{err}");
    }

    #[test]
    fn oldest_go_first_past_the_byte_bound_and_the_age() {
        let store = ResourceStore::with_limits(10, 3000, Duration::from_secs(600));
        let uris: Vec<String> = (0..3)
            .map(|_| {
                let mut r = shot(1000);
                store.link_large(&mut r, None);
                link_of(&r).unwrap().uri.clone()
            })
            .collect();
        assert!(store.read(&uris[0], None).is_err(), "pushed out");
        assert!(store.read(&uris[2], None).is_ok(), "newest kept");

        let store = ResourceStore::with_limits(10, usize::MAX, Duration::ZERO);
        let mut r = shot(100);
        store.link_large(&mut r, None);
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            store.read(&link_of(&r).unwrap().uri, None).is_err(),
            "expired"
        );
    }
}
