//! Ad and tracker blocking from filter lists in Adblock Plus syntax (EasyList,
//! EasyPrivacy, uBlock Origin's lists), matched by Brave's `adblock` engine.
//! Off unless the server is given lists (`--block-list FILE`): none ships with
//! browserfarm, and which list suits a farm (and its licence) is the user's
//! choice. A blocked request fails inside Chromium as `BlockedByClient`, at the
//! same `Fetch` pause the host policy answers (see [`super::gate`]).

use std::path::{Path, PathBuf};

/// A list file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the block list {}: {source}", path.display())]
pub struct BlockListError {
    path: PathBuf,
    source: std::io::Error,
}

/// Compiled filter lists.
pub struct BlockList {
    engine: adblock::Engine,
    rules: usize,
}

impl std::fmt::Debug for BlockList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockList")
            .field("rules", &self.rules)
            .finish()
    }
}

impl BlockList {
    /// Reads and compiles the lists at `paths`.
    pub fn from_files(paths: &[impl AsRef<Path>]) -> Result<BlockList, BlockListError> {
        let mut texts = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path).map_err(|source| BlockListError {
                path: path.to_owned(),
                source,
            })?;
            texts.push(text);
        }
        Ok(BlockList::from_texts(texts))
    }

    /// Compiles lists given as text.
    pub fn from_texts(texts: impl IntoIterator<Item = String>) -> BlockList {
        let mut set = adblock::lists::FilterSet::new(false);
        let mut rules = 0;
        for text in texts {
            rules += text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('!') && !l.starts_with('['))
                .count();
            set.add_filter_list(text, adblock::lists::ParseOptions::default());
        }
        BlockList {
            engine: adblock::Engine::new_with_filter_set(set),
            rules,
        }
    }

    /// Rule lines read (comments and headers not counted).
    pub fn rules(&self) -> usize {
        self.rules
    }

    /// Whether a request for `url` of `kind` (an `adblock` request type such as
    /// "script", "image", "xhr", "sub_frame") made by the page at `page_url`
    /// is blocked. Unparsable URLs (data:, blob:) are never blocked.
    pub(crate) fn blocks(&self, url: &str, page_url: &str, kind: &str) -> bool {
        adblock::request::Request::new(url, page_url, kind, "GET")
            .is_ok_and(|request| self.engine.check_network_request(&request).should_block())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_what_the_rules_name_and_spares_the_rest() {
        let list = BlockList::from_texts([
            "! a comment\n[Adblock Plus 2.0]\n||ads.example^\n/tracker.js$script\n\
             @@||ads.example/allowed^\n"
                .to_owned(),
        ]);
        assert_eq!(list.rules(), 3);
        let page = "https://news.example/story";
        assert!(list.blocks("https://ads.example/banner.png", page, "image"));
        assert!(list.blocks("https://cdn.example/tracker.js", page, "script"));
        assert!(!list.blocks("https://cdn.example/tracker.js", page, "image"));
        assert!(!list.blocks("https://ads.example/allowed/x.js", page, "script"));
        assert!(!list.blocks("https://news.example/app.js", page, "script"));
        assert!(!list.blocks("data:text/plain,hi", page, "other"));
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = BlockList::from_files(&["/nonexistent/list.txt"]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/list.txt"), "{e}");
    }
}
