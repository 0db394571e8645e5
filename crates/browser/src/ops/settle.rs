//! When a page's content is ready (`wait_until: "ready"`, the default for reads):
//! its HTML is parsed, the requests that can still change it are answered, and
//! its DOM stopped changing. A reader does not need the `load` event, which also
//! waits for every image, font, frame and third-party script.
//!
//! What can still change the page: the main frame's XHR and fetch requests (any
//! site: APIs often live elsewhere) and its scripts from the page's own site.
//! Scripts from other sites (ads, analytics, widgets) are not waited for: what
//! they add is rarely content, and they are what makes real pages slow. Once
//! those requests are done, a probe in the page waits for [`QUIET`] without DOM
//! mutations, since a response is rendered a moment after it arrives. A page
//! that reached `load` with no such request never needs the probe: small pages
//! cost what a `load` wait costs.
//!
//! All of it is bounded by [`SETTLE_MAX_MS`] after `DOMContentLoaded`: a page
//! that polls or animates forever is read as it is then, with a note.

use std::collections::HashMap;
use std::time::Duration;

use browserfarm_protocol::SETTLE_MAX_MS;
use chromiumoxide::cdp::browser_protocol::network::{EventRequestWillBeSent, ResourceType};
use tokio::time::Instant;

/// How long the DOM must stay unchanged after the last data request.
pub(crate) const QUIET: Duration = Duration::from_millis(100);

/// Longest wait after `DOMContentLoaded`.
pub(crate) const SETTLE_MAX: Duration = Duration::from_millis(SETTLE_MAX_MS);

/// The main frame's requests that can still change its document.
#[derive(Default)]
pub(crate) struct Requests {
    /// In flight: request id → loader id (the document that made it).
    inflight: HashMap<String, String>,
    /// Per loader: when its last such request ended.
    last_end: HashMap<String, Instant>,
    /// Per loader: how many such requests it made.
    made: HashMap<String, usize>,
    /// Per loader: its document's site, for telling first-party scripts apart.
    site: HashMap<String, String>,
    /// The main frame's document requests.
    documents: std::collections::HashSet<String>,
}

impl Requests {
    pub(crate) fn sent(&mut self, ev: &EventRequestWillBeSent, main: &str) {
        if ev.frame_id.as_ref().is_none_or(|f| f.inner() != main) {
            return;
        }
        let loader = ev.loader_id.inner();
        let counts = match ev.r#type {
            Some(ResourceType::Document) => {
                self.documents.insert(ev.request_id.inner().clone());
                if let Some(site) = site_of(&ev.request.url) {
                    self.site.insert(loader.clone(), site);
                }
                false
            }
            Some(ResourceType::Xhr | ResourceType::Fetch) => true,
            Some(ResourceType::Script) => match (self.site.get(loader), site_of(&ev.request.url)) {
                (Some(page), Some(script)) => *page == script,
                _ => true,
            },
            _ => false,
        };
        // A redirect reuses the request id: still the same request in flight.
        if counts
            && self
                .inflight
                .insert(ev.request_id.inner().clone(), loader.clone())
                .is_none()
        {
            *self.made.entry(loader.clone()).or_default() += 1;
        }
    }

    /// A request finished or failed.
    pub(crate) fn ended(&mut self, request_id: &str) {
        if let Some(loader) = self.inflight.remove(request_id) {
            self.last_end.insert(loader, Instant::now());
        }
    }

    pub(crate) fn is_document(&self, request_id: &str) -> bool {
        self.documents.contains(request_id)
    }

    pub(crate) fn pending(&self, loader: &str) -> usize {
        self.inflight.values().filter(|l| *l == loader).count()
    }

    pub(crate) fn made_any(&self, loader: &str) -> bool {
        self.made.get(loader).is_some_and(|n| *n > 0)
    }

    /// Whether none of `loader`'s requests ended after `since`.
    pub(crate) fn none_ended_after(&self, loader: &str, since: Instant) -> bool {
        self.last_end.get(loader).is_none_or(|t| *t < since)
    }
}

/// A URL's site, roughly: the last two labels of its host name (the whole host
/// for IP addresses). Treating `a.co.uk` and `b.co.uk` as one site only means
/// waiting for a few more scripts.
fn site_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    match url.host()? {
        url::Host::Domain(d) => {
            let labels: Vec<&str> = d.trim_end_matches('.').rsplit('.').take(2).collect();
            Some(labels.into_iter().rev().collect::<Vec<_>>().join("."))
        }
        ip => Some(ip.to_string()),
    }
}

/// JavaScript that resolves `true` once the document went [`QUIET`] without a
/// mutation, or `false` after `max_ms` of changes.
pub(crate) fn quiet_probe_js(max_ms: u128) -> String {
    let quiet = QUIET.as_millis();
    format!(
        "new Promise(done => {{\
           let last = performance.now();\
           const seen = new MutationObserver(() => {{ last = performance.now(); }});\
           seen.observe(document, {{subtree: true, childList: true, characterData: true}});\
           const end = last + {max_ms};\
           const check = () => {{\
             const now = performance.now();\
             if (now - last >= {quiet} || now >= end) {{ seen.disconnect(); done(now - last >= {quiet}); }}\
             else setTimeout(check, Math.max(1, Math.min({quiet} - (now - last), end - now)));\
           }};\
           setTimeout(check, {quiet});\
         }})"
    )
}

/// The note for a page read at the bound.
pub(crate) fn still_changing_note(pending: usize) -> String {
    let what = match pending {
        0 => "its content was still changing".to_owned(),
        1 => "1 data request was still open".to_owned(),
        n => format!("{n} data requests were still open"),
    };
    format!(
        "this is the page {} s after its HTML loaded: {what}. To wait longer, use \
         wait_for with a text you expect, or wait_until \"load\" or \"networkidle\"",
        SETTLE_MAX.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_the_last_two_labels_or_the_address() {
        assert_eq!(
            site_of("https://www.example.com/a").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            site_of("https://api.example.com/").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            site_of("http://127.0.0.2:8080/x").as_deref(),
            Some("127.0.0.2")
        );
        assert_eq!(site_of("http://localhost/").as_deref(), Some("localhost"));
        assert_ne!(
            site_of("https://ads.example.net/"),
            site_of("https://example.com/")
        );
    }
}
