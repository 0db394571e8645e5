//! Turning a page into what `scrape` returns: main-content extraction
//! (dom_smoothie, a Readability port), HTML → Markdown (htmd), links, and explicit
//! truncation. Pure CPU work on strings, run off the async threads by the caller.

use browserfarm_protocol::ScrapeFormat;

/// Most characters of HTML or text taken from a page; bigger pages are cut in the
/// browser so a 50 MB page never crosses the CDP socket whole.
pub(crate) const MAX_SOURCE_CHARS: usize = 8_000_000;

/// Tags that never carry readable content.
const NEVER_CONTENT: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "iframe", "canvas", "head",
];
/// Page chrome dropped when Readability finds no article but main content was asked.
const PAGE_CHROME: &[&str] = &["nav", "header", "footer", "aside", "form", "dialog"];

/// JavaScript for the one evaluate a scrape needs, by format.
pub(crate) fn source_js(format: ScrapeFormat, main_content: bool) -> String {
    let body = match (format, main_content) {
        (ScrapeFormat::Links, _) => {
            "[...document.links].map(a => ({text: (a.innerText || a.title || '') \
             .replace(/\\s+/g, ' ').trim(), href: a.href}))"
        }
        (ScrapeFormat::Text, false) => "(document.body ? document.body.innerText : '')",
        _ => "document.documentElement ? document.documentElement.outerHTML : ''",
    };
    format!(
        "(() => {{ let s = {body}; \
         if (typeof s === 'string' && s.length > {MAX_SOURCE_CHARS}) s = s.slice(0, {MAX_SOURCE_CHARS}); \
         if (Array.isArray(s) && s.length > 20000) s = s.slice(0, 20000); \
         return {{url: location.href, title: document.title, source: s}}; }})()"
    )
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct Link {
    text: String,
    href: String,
}

/// What [`source_js`] returns.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Source {
    pub url: String,
    pub title: String,
    pub source: SourceBody,
}

#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum SourceBody {
    Markup(String),
    Links(Vec<Link>),
}

/// Renders the page source in `format`.
pub(crate) fn render(source: &Source, format: ScrapeFormat, main_content: bool) -> String {
    match &source.source {
        SourceBody::Links(links) => render_links(links),
        SourceBody::Markup(text) if format == ScrapeFormat::Text && !main_content => {
            tidy_text(text)
        }
        SourceBody::Markup(html) => {
            let article = if main_content {
                readable(html, &source.url).filter(|a| holds_most_of_the_page(a, html))
            } else {
                None
            };
            let Some(article) = article else {
                return match format {
                    ScrapeFormat::Html => html.clone(),
                    ScrapeFormat::Text => tidy_text(&markdown(html, true)),
                    _ => markdown(html, main_content),
                };
            };
            // Readability lifts the headline out of the body into `title`; put it
            // back, or the reader loses the page's main heading.
            let headline = article.title.trim();
            let lifted = !headline.is_empty() && !article.text_content.contains(headline);
            match format {
                ScrapeFormat::Html if lifted => format!("<h1>{headline}</h1>{}", article.content),
                ScrapeFormat::Html => article.content.to_string(),
                ScrapeFormat::Text if lifted => {
                    format!("{headline}\n\n{}", tidy_text(&article.text_content))
                }
                ScrapeFormat::Text => tidy_text(&article.text_content),
                _ if lifted => format!("# {headline}\n\n{}", markdown(&article.content, false)),
                _ => markdown(&article.content, false),
            }
        }
    }
}

/// Articles at least this long are taken as they are.
const LONG_ARTICLE_CHARS: usize = 2_000;

/// Readability is built for articles: on a product listing or a table it may keep
/// one short block and drop the rest. A short extraction that holds under a
/// quarter of the page's text (without its chrome) is not the page's content.
fn holds_most_of_the_page(article: &dom_smoothie::Article, html: &str) -> bool {
    let kept = article.text_content.trim().len();
    kept >= LONG_ARTICLE_CHARS || markdown(html, true).trim().len() <= kept * 4
}

fn readable(html: &str, url: &str) -> Option<dom_smoothie::Article> {
    let config = dom_smoothie::Config {
        text_mode: dom_smoothie::TextMode::Formatted,
        ..Default::default()
    };
    let mut reader = dom_smoothie::Readability::new(html, Some(url), Some(config)).ok()?;
    let article = reader.parse().ok()?;
    (!article.text_content.trim().is_empty()).then_some(article)
}

fn markdown(html: &str, drop_page_chrome: bool) -> String {
    let mut skip: Vec<&str> = NEVER_CONTENT.to_vec();
    if drop_page_chrome {
        skip.extend_from_slice(PAGE_CHROME);
    }
    let converter = htmd::HtmlToMarkdown::builder().skip_tags(skip).build();
    converter.convert(html).unwrap_or_default()
}

fn render_links(links: &[Link]) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for link in links {
        if link.href.is_empty() || !seen.insert(link.href.as_str()) {
            continue;
        }
        if link.text.is_empty() {
            out.push_str(&format!("- <{}>\n", link.href));
        } else {
            out.push_str(&format!(
                "- [{}]({})\n",
                link.text.replace(['[', ']'], ""),
                link.href
            ));
        }
    }
    out
}

/// Collapses runs of blank lines and trailing spaces: tokens are money.
fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_owned()
}

/// Cuts `content` to at most `max_chars` characters, appending a marker that says
/// how much was left out. Returns the text and the number of characters dropped.
pub(crate) fn truncate(content: String, max_chars: usize) -> (String, usize) {
    let (mut out, dropped) = browserfarm_protocol::cut_chars(content, max_chars);
    if dropped == 0 {
        return (out, 0);
    }
    out.push_str(&format!(
        "\n…[truncated, {dropped} more chars; call again with a larger max_chars to read on]"
    ));
    (out, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(html: &str) -> Source {
        Source {
            url: "http://127.0.0.1/a".into(),
            title: "t".into(),
            source: SourceBody::Markup(html.into()),
        }
    }

    const ARTICLE: &str = r#"<html><head><title>Short</title><script>var junk = 1;</script></head><body>
        <nav><a href="/home">Home nav link</a></nav>
        <article><h1>The Heading of This Article</h1>
        <p>First paragraph of the article, with enough words to look like real prose for the
        readability scorer, which wants a few hundred characters of text in one place, so
        here is more text about nothing in particular, continuing for a while longer.</p>
        <p>Second paragraph with a <a href="/more">useful link</a>, and even more sentences to
        make the content substantial, because extraction ignores tiny blocks of text entirely.</p>
        </article><footer>Footer junk</footer><script>console.log('junk')</script></body></html>"#;

    #[test]
    fn markdown_main_content_keeps_article_drops_chrome() {
        let md = render(&page(ARTICLE), ScrapeFormat::Markdown, true);
        assert!(md.contains("# The Heading of This Article"), "{md}");
        assert!(md.contains("useful link"), "{md}");
        assert!(!md.contains("Home nav link"), "{md}");
        assert!(!md.contains("Footer junk"), "{md}");
        assert!(!md.contains("junk = 1"), "{md}");
    }

    #[test]
    fn a_listing_is_not_cut_down_to_one_block() {
        let items: String = (0..200)
            .map(|i| {
                format!(
                    "<li class=product><a href=/item/{i}><img alt='Product {i}' src=/i/{i}.png>\
                     <span class=name>Product number {i}</span></a><span class=price>€{i}.99\
                     </span><button>Add to cart</button></li>"
                )
            })
            .collect();
        let html = format!(
            "<!doctype html><html><head><meta charset=utf-8><title>All products</title>\
             <style>body{{font-family:sans-serif}}</style></head><body><header><nav>\
             <a href=/>Home</a> <a href=/news>News</a> <a href=/shop>Shop</a></nav></header>\
             <aside><h3>Trending</h3><ul><li><a href=/t/1>Ten tricks</a></li><li>\
             <a href=/t/2>You will not believe</a></li></ul></aside><main><h1>All products\
             </h1><ul class=products>{items}</ul></main><footer><p>© 2026 Footer junk. \
             <a href=/privacy>Privacy</a> <a href=/terms>Terms</a></p></footer><script>\
             window.analytics=[];</script></body></html>"
        );
        let md = render(&page(&html), ScrapeFormat::Markdown, true);
        assert!(md.contains("Product number 0"), "{md}");
        assert!(md.contains("Product number 199"), "{md}");
        assert!(!md.contains("Footer junk"), "{md}");
    }

    #[test]
    fn full_page_markdown_keeps_nav_but_never_scripts() {
        let md = render(&page(ARTICLE), ScrapeFormat::Markdown, false);
        assert!(md.contains("Home nav link"), "{md}");
        assert!(!md.contains("console.log"), "{md}");
    }

    #[test]
    fn links_are_deduplicated_and_listed() {
        let src = Source {
            url: "http://x/".into(),
            title: String::new(),
            source: SourceBody::Links(vec![
                Link {
                    text: "A".into(),
                    href: "http://x/a".into(),
                },
                Link {
                    text: "A again".into(),
                    href: "http://x/a".into(),
                },
                Link {
                    text: String::new(),
                    href: "http://x/b".into(),
                },
            ]),
        };
        assert_eq!(
            render(&src, ScrapeFormat::Links, true),
            "- [A](http://x/a)\n- <http://x/b>\n"
        );
    }

    #[test]
    fn truncation_is_explicit_and_char_safe() {
        let (out, dropped) = truncate("héllo wörld".into(), 5);
        assert!(out.starts_with("héllo\n…[truncated, 6 more chars"), "{out}");
        assert_eq!(dropped, 6);
        let (out, dropped) = truncate("short".into(), 5);
        assert_eq!((out.as_str(), dropped), ("short", 0));
    }
}
