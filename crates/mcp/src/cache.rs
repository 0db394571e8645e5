//! The result cache (`--result-cache`): results of one-shot reads, keyed by the
//! whole operation (URL and every argument), shared by all MCP connections of
//! the process.
//!
//! Only jobs that run without a session are cached (batch_scrape pages, and
//! `scrape`/`screenshot` calls that pass `url` with `cache: true`, which then run
//! in a fresh context rather than in the session's tab): their result cannot
//! depend on a session's cookies, storage or emulation, so a cached one is what
//! the same call would return, only older. Screenshots and content have their
//! own time to live; the whole cache is bounded by bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use browserfarm_metrics as metrics;
use browserfarm_protocol::{JobOutput, NodeTags, Operation};

/// Cache settings (`--result-cache`, `--cache-*`).
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// How long a screenshot is served from the cache.
    pub screenshot_ttl: Duration,
    /// How long page content (scrape, batch_scrape pages) is served.
    pub content_ttl: Duration,
    /// Largest total size of cached results, in bytes (roughly: text and
    /// base64 image lengths).
    pub max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            screenshot_ttl: Duration::from_secs(3600),
            content_ttl: Duration::from_secs(300),
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Per-entry lifetime: screenshots and content age differently.
struct Lifetimes(CacheConfig);

impl moka::Expiry<String, Arc<JobOutput>> for Lifetimes {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<JobOutput>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(match **value {
            JobOutput::Screenshot { .. } => self.0.screenshot_ttl,
            _ => self.0.content_ttl,
        })
    }
}

/// Approximate bytes an entry holds; what `max_bytes` bounds.
fn weight(key: &str, value: &JobOutput) -> u32 {
    let body = match value {
        JobOutput::Screenshot { page, image } => {
            image.data_base64.len() + page.url.len() + page.title.len()
        }
        JobOutput::Scraped(s) => s.content.len() + s.page.url.len() + s.page.title.len(),
        _ => 0,
    };
    u32::try_from(key.len() + body + 64).unwrap_or(u32::MAX)
}

pub struct ResultCache {
    entries: moka::sync::Cache<String, Arc<JobOutput>>,
}

impl std::fmt::Debug for ResultCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl ResultCache {
    pub fn new(config: CacheConfig) -> ResultCache {
        ResultCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(config.max_bytes)
                .weigher(|k: &String, v: &Arc<JobOutput>| weight(k, v))
                .expire_after(Lifetimes(config))
                .build(),
        }
    }

    /// The key of a cacheable operation (screenshots and scrapes of a URL; None
    /// for anything else): every argument, and the `node_tags` that chose where
    /// it ran, since a page may differ by region.
    pub(crate) fn key(operation: &Operation, node_tags: &NodeTags) -> Option<String> {
        let cacheable = match operation {
            Operation::Scrape(args) => args.url.is_some(),
            Operation::Screenshot(args) => args.url.is_some(),
            _ => false,
        };
        if !cacheable {
            return None;
        }
        serde_json::to_string(&(operation, node_tags)).ok()
    }

    /// A cached result, counting the hit or miss.
    pub(crate) fn get(&self, key: &str) -> Option<JobOutput> {
        let found = self.entries.get(key);
        match found {
            Some(_) => metrics::cache_hit(),
            None => metrics::cache_miss(),
        }
        found.map(|output| (*output).clone())
    }

    /// Keeps a successful result of a cacheable kind.
    pub(crate) fn put(&self, key: String, output: &JobOutput) {
        if matches!(output, JobOutput::Scraped(_) | JobOutput::Screenshot { .. }) {
            self.entries.insert(key, Arc::new(output.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use browserfarm_protocol::{PageInfo, ScrapeArgs, ScrapeFormat, Scraped};

    fn scrape(url: &str, max_chars: Option<usize>) -> Operation {
        Operation::Scrape(ScrapeArgs {
            url: Some(url.into()),
            max_chars,
            ..Default::default()
        })
    }

    fn scraped(content: &str) -> JobOutput {
        JobOutput::Scraped(Scraped {
            page: PageInfo {
                url: "http://127.0.0.1/a".into(),
                status: Some(200),
                title: "A".into(),
                notes: Vec::new(),
                changes: None,
            },
            format: ScrapeFormat::Markdown,
            content: content.into(),
            truncated_chars: 0,
        })
    }

    #[test]
    fn keys_cover_url_arguments_and_node_tags_and_only_reads_of_a_url() {
        let none = NodeTags::new();
        let a = ResultCache::key(&scrape("http://127.0.0.1/a", None), &none).unwrap();
        let b = ResultCache::key(&scrape("http://127.0.0.1/b", None), &none).unwrap();
        let short = ResultCache::key(&scrape("http://127.0.0.1/a", Some(10)), &none).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, short);
        assert!(ResultCache::key(&Operation::Scrape(ScrapeArgs::default()), &none).is_none());
        let eu: NodeTags = [("region".to_owned(), "eu".to_owned())]
            .into_iter()
            .collect();
        let in_eu = ResultCache::key(&scrape("http://127.0.0.1/a", None), &eu).unwrap();
        assert_ne!(a, in_eu);
    }

    #[test]
    fn results_come_back_until_they_expire() {
        let cache = ResultCache::new(CacheConfig {
            content_ttl: Duration::from_millis(200),
            ..CacheConfig::default()
        });
        let key = ResultCache::key(&scrape("http://127.0.0.1/a", None), &NodeTags::new()).unwrap();
        assert!(cache.get(&key).is_none());
        cache.put(key.clone(), &scraped("hello"));
        assert_eq!(cache.get(&key), Some(scraped("hello")));
        std::thread::sleep(Duration::from_millis(300));
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn the_byte_bound_evicts() {
        let cache = ResultCache::new(CacheConfig {
            max_bytes: 10_000,
            ..CacheConfig::default()
        });
        let big = "x".repeat(4_000);
        for i in 0..10 {
            let url = format!("http://127.0.0.1/{i}");
            let key = ResultCache::key(&scrape(&url, None), &NodeTags::new()).unwrap();
            cache.put(key, &scraped(&big));
        }
        cache.entries.run_pending_tasks();
        assert!(cache.entries.weighted_size() <= 10_000);
        assert!(cache.entries.entry_count() < 10);
    }
}
