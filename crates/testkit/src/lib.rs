//! Pages that browserfarm tests serve themselves on 127.0.0.1: an article with
//! page junk around it, a form that echoes input, cookie setting and reading, a
//! page that never finishes loading, a 404, pages built like the real web for reads
//! (`/reads/…`: late XHR content, pictures, a page that never settles), and the pages
//! of [`toolset`].

mod certs;
mod toolset;

pub use certs::TlsFiles;
pub use toolset::REPORT_CSV;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};

pub const ARTICLE: &str = r#"<!doctype html><html><head><title>Farm Article</title>
<script>window.trackingJunk = "ScriptJunkMarker";</script>
<style>.x { color: red }</style></head><body>
<nav><a href="/">NavJunkHome</a> | <a href="/about">NavJunkAbout</a></nav>
<aside>SidebarJunkMarker subscribe now</aside>
<article>
<h1>Growing Browsers on Small Farms</h1>
<p>Running many headless browsers on small machines is a question of memory, scheduling and
patience. Each Chromium process wants a few hundred megabytes, and a careful operator keeps a
pool of them warm so that agents never wait for a cold start when they ask for a page.</p>
<p>The second lesson is isolation: every agent session gets its own browser context, so cookies
and storage never leak between sessions. Read more in the <a href="/guide">farm operations guide</a>
before you scale past one machine.</p>
<h2>Recycling</h2>
<p>Browsers leak memory over long runs, so the pool retires each process after a fixed number
of leases and starts a fresh one. Crashed processes are replaced at once and the caller is told
plainly that the page state was lost, so an agent can navigate again and carry on.</p>
</article>
<footer>FooterJunkMarker copyright</footer>
<script>console.log("ScriptJunkMarker")</script>
</body></html>"#;

const FORM: &str = r#"<!doctype html><html><head><title>Echo Form</title></head><body>
<form action="/echo" method="get"><input id="q" name="q" value=""><textarea id="notes"></textarea>
<button id="go" type="submit">Send</button></form>
<p>Count: <span id="count">0</span></p>
<button id="inc" onclick="document.getElementById('count').textContent = String(Number(document.getElementById('count').textContent) + 1)">Add one</button>
<a id="to-article" href="/article">Read the article</a>
<div id="hidden" style="display:none">hidden</div>
</body></html>"#;

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn echo(Query(q): Query<std::collections::HashMap<String, String>>) -> Html<String> {
    let said = escape(q.get("q").map(String::as_str).unwrap_or(""));
    Html(format!(
        "<!doctype html><title>Echo</title><body><p id=\"said\">You said: {said}</p></body>"
    ))
}

async fn cookie_set(
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    let v = q.get("v").cloned().unwrap_or_else(|| "set".into());
    (
        [(header::SET_COOKIE, format!("farm={v}; Path=/"))],
        Html(format!(
            "<!doctype html><title>Cookie set</title><p>cookie set to {}</p>",
            escape(&v)
        )),
    )
}

async fn cookie_show(headers: HeaderMap) -> Html<String> {
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    Html(format!(
        "<!doctype html><title>Cookies</title><p id=\"c\">cookies: {}</p>",
        escape(cookie)
    ))
}

/// `/p/{n}`: small distinct pages (title, heading, a few paragraphs, links), for
/// measuring reads without the browser cache answering.
async fn numbered(axum::extract::Path(n): axum::extract::Path<u32>) -> Html<String> {
    let paragraphs = (0..5)
        .map(|i| {
            format!("<p>Paragraph {i} of page {n}: plain prose about browsers on small farms.</p>")
        })
        .collect::<String>();
    Html(format!(
        "<!doctype html><html><head><title>Page {n}</title></head><body><h1>Page {n}</h1>\
         {paragraphs}<a href=\"/p/{next}\">next</a></body></html>",
        next = n + 1
    ))
}

/// `/storage`: says whether this origin's localStorage already held a mark, then
/// sets it; a page that remembers earlier visits.
const STORAGE: &str = "<!doctype html><title>Storage</title><p id=\"s\"></p><script>\
document.getElementById('s').textContent = 'storage: ' + (localStorage.getItem('mark') || 'empty');\
localStorage.setItem('mark', 'marked');</script>";

/// `/huge`: a 50 MB page (one paragraph per line), for bounded reads.
async fn huge() -> Html<String> {
    let line = "<p>Fifty megabytes of farm prose, one line after another, to make a very large page.</p>\n";
    let mut page = String::with_capacity(50_100_000);
    page.push_str(
        "<!doctype html><html><head><title>Huge</title></head><body><h1>Huge page</h1>\n",
    );
    while page.len() < 50_000_000 {
        page.push_str(line);
    }
    page.push_str("</body></html>");
    Html(page)
}

async fn slow() -> Html<&'static str> {
    tokio::time::sleep(Duration::from_secs(120)).await;
    Html("<title>finally</title>")
}

/// A page built like the real web, for reads: the story in the HTML, pictures,
/// a web font, an ad frame, and a part rendered from an XHR answered after
/// 250 ms. With `never` its pictures, font and frame never finish loading;
/// otherwise they take 300 ms.
fn story(never: bool) -> String {
    let slow = if never {
        "/slow?"
    } else {
        "/reads/pixel.svg?delay=300&"
    };
    let mut page = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Harvest Story</title>\
         <style>@font-face{{font-family:Farm;src:url({slow}font)}}body{{font-family:Farm,serif}}</style>\
         </head><body><article><h1>The Harvest Came Early</h1>\
         <p>StoryLeadMarker: the farm's browsers read every page before the sun was up.</p>"
    );
    for i in 0..6 {
        page.push_str(&format!(
            "<figure><img src=\"{slow}img={i}\" alt=\"Field {i}\" width=200 height=100>\
             <figcaption>Caption {i}</figcaption></figure>"
        ));
    }
    page.push_str(&format!(
        "<p>StoryEndMarker: and that was the whole story.</p></article>\
         <iframe src=\"{slow}frame\" width=300 height=250></iframe>\
         <section id=comments>Loading comments…</section>\
         <script>fetch('/wait/250').then(r => r.text()).then(() => {{\
           document.getElementById('comments').textContent = 'XhrRenderedMarker: 3 comments';\
         }});</script></body></html>"
    ));
    page
}

/// A picture page: a red SVG and a line of text.
const PICTURES: &str = "<!doctype html><title>Pictures</title><p>Pictures</p>\
<img src=\"/reads/pixel.svg\" width=400 height=300 style=\"display:block\">";

/// A page that fetches data, then changes its DOM forever: on a timer, and after
/// each of an endless chain of requests, so it stays restless even when a
/// starved renderer runs its timers late.
const RESTLESS: &str = "<!doctype html><title>Restless</title><p>RestlessMarker</p>\
<p id=clock>0</p><p id=feed>0</p><script>fetch('/wait/50').then(() => {\
 setInterval(() => { document.getElementById('clock').textContent = performance.now(); }, 20);\
 const feed = () => fetch('/wait/20').then(() => {\
  document.getElementById('feed').textContent = performance.now(); feed(); });\
 feed();\
});</script>";

/// A running fixture server; stops when dropped.
pub struct Fixtures {
    pub addr: SocketAddr,
    /// How many times `/reads/pixel.svg` was fetched.
    pub pixels: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// `/slow/{n}` requests being answered now, and the most seen at once.
    pub slow: std::sync::Arc<Concurrency>,
    /// Every request the server answered, by path, and the most at once.
    pub requests: std::sync::Arc<Requests>,
    task: tokio::task::JoinHandle<()>,
}

/// Every request a fixture server answered: by path, and how many at once
/// (what a site sees of a reader, favicons and prefetches included).
#[derive(Debug, Default)]
pub struct Requests {
    pub at_once: Concurrency,
    by_path: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

impl Requests {
    /// How many requests for `path` (without the query) arrived.
    pub fn to(&self, path: &str) -> usize {
        *self
            .by_path
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .unwrap_or(&0)
    }

    /// Every path requested, with its count, sorted.
    pub fn paths(&self) -> Vec<(String, usize)> {
        let mut all: Vec<(String, usize)> = self
            .by_path
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(p, n)| (p.clone(), *n))
            .collect();
        all.sort();
        all
    }
}

async fn count_request(
    axum::extract::State(requests): axum::extract::State<std::sync::Arc<Requests>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    *requests
        .by_path
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(request.uri().path().to_owned())
        .or_default() += 1;
    let _in = requests.at_once.enter();
    next.run(request).await
}

/// Requests in flight at a route and the most at once, for limits a test
/// checks from the server's side.
#[derive(Debug, Default)]
pub struct Concurrency {
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
    total: std::sync::atomic::AtomicUsize,
}

impl Concurrency {
    fn enter(&self) -> impl Drop + '_ {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.now.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        self.total.fetch_add(1, SeqCst);
        struct Leave<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        Leave(&self.now)
    }

    /// The most requests answered at once so far.
    pub fn most(&self) -> usize {
        self.most.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests answered so far.
    pub fn total(&self) -> usize {
        self.total.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Fixtures {
    pub async fn start() -> Fixtures {
        let pixels = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = pixels.clone();
        let slow_pages = std::sync::Arc::new(Concurrency::default());
        let slow_seen = slow_pages.clone();
        let app = Router::new()
            .route(
                "/slow/{n}",
                get(move |Path(n): Path<u32>| {
                    let seen = slow_seen.clone();
                    async move {
                        let _in = seen.enter();
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        Html(format!(
                            "<!doctype html><title>Slow {n}</title><p>Slow page {n}.</p>"
                        ))
                    }
                }),
            )
            .route(
                "/reads/story",
                get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    Html(story(q.contains_key("never")))
                }),
            )
            .route("/reads/pictures", get(|| async { Html(PICTURES) }))
            .route("/reads/restless", get(|| async { Html(RESTLESS) }))
            .route(
                "/changes",
                get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    Html(changes_page(q.get("page").map_or("1", String::as_str)))
                }),
            )
            .route(
                "/reads/ads",
                get(|| async {
                    Html(
                        "<!doctype html><title>With ads</title><p>AdsStoryMarker</p>\
                         <script src=\"/ads/banner.js\"></script>",
                    )
                }),
            )
            .route(
                "/ads/banner.js",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/javascript")],
                        "document.body.insertAdjacentHTML('beforeend', '<p>AdLoadedMarker</p>')",
                    )
                }),
            )
            .route(
                "/reads/pixel.svg",
                get(
                    move |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let delay = q.get("delay").and_then(|d| d.parse().ok()).unwrap_or(0);
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        (
                            [(header::CONTENT_TYPE, "image/svg+xml")],
                            "<svg xmlns='http://www.w3.org/2000/svg' width='400' height='300'>\
                             <rect width='400' height='300' fill='#ff0000'/></svg>",
                        )
                    },
                ),
            )
            .route("/article", get(|| async { Html(ARTICLE) }))
            .route("/form", get(|| async { Html(FORM) }))
            .route("/echo", get(echo))
            .route("/cookie/set", get(cookie_set))
            .route("/cookie/show", get(cookie_show))
            .route("/slow", get(slow))
            .route("/storage", get(|| async { Html(STORAGE) }))
            .route("/p/{n}", get(numbered))
            .route("/login", get(|| async { Html(toolset::LOGIN) }))
            .route("/login", post(toolset::login))
            .route("/account", get(toolset::account))
            .route("/controls", get(|| async { Html(toolset::CONTROLS) }))
            .route("/big", get(toolset::big))
            .route("/download/{name}", get(toolset::download))
            .route(
                "/framed-download",
                get(|| async {
                    // A same-origin frame runs in its page's process: no target
                    // of its own, so its downloads carry a frame id no target has.
                    Html(
                        "<!doctype html><title>Framed</title><p>A frame with links</p>\
                         <iframe id=\"f\" src=\"/controls\"></iframe>",
                    )
                }),
            )
            .route(
                "/loop",
                get(|| async { axum::response::Redirect::temporary("/loop") }),
            )
            .route("/huge", get(huge))
            .route(
                "/popup-storm",
                get(|| async {
                    Html(
                        "<!doctype html><title>Storm</title><p>Popup storm</p><script>\
                         for (let i = 0; i < 20; i++) window.open('/p/' + i);</script>",
                    )
                }),
            )
            .route(
                "/wait/{ms}",
                get(|axum::extract::Path(ms): axum::extract::Path<u64>| async move {
                    tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await;
                    Html(format!("<title>Waited</title><p>Waited {ms} ms</p>"))
                }),
            )
            .route(
                "/redirect",
                get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    axum::response::Redirect::temporary(q.get("to").map_or("/", String::as_str))
                }),
            )
            .route(
                "/embeds",
                get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    let src = escape(q.get("src").map_or("", String::as_str)).replace('"', "&quot;");
                    Html(format!(
                        "<!doctype html><title>Embeds</title><p>Embeds page</p><img src=\"{src}\">"
                    ))
                }),
            )
            .route(
                "/alert-loop",
                get(|| async {
                    Html("<title>Alerts</title><script>while (true) alert('again');</script>")
                }),
            )
            .route(
                "/missing",
                get(|| async {
                    (
                        StatusCode::NOT_FOUND,
                        Html("<title>Not here</title><h1>404</h1>"),
                    )
                }),
            );
        let requests = std::sync::Arc::new(Requests::default());
        let app = app.layer(axum::middleware::from_fn_with_state(
            requests.clone(),
            count_request,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Fixtures {
            addr,
            pixels,
            slow: slow_pages,
            requests,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// URLs of the first `n` distinct small pages `/p/0`, `/p/1`, …
    pub fn numbered(&self, n: usize) -> Vec<String> {
        (0..n).map(|i| self.url(&format!("/p/{i}"))).collect()
    }
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `/changes?page=N`: a shop page whose buttons reveal a panel, change
/// nothing, or add many lines, and whose nav and footer every page shares.
fn changes_page(page: &str) -> String {
    let page: String = page.chars().filter(char::is_ascii_digit).take(3).collect();
    format!(
        "<!doctype html><html><head><title>Shop page {page}</title></head><body>\
         <nav><a href=\"/changes?page=1\">Home</a> <a href=\"/changes?page=2\">Next page</a> \
         <a href=\"/changes?page=3\">Contact</a></nav>\
         <main><h1>Shop page {page}</h1><p>Own content of page {page}</p>\
         <button id=\"reveal\" onclick=\"document.getElementById('panel').hidden = false\">Show details</button>\
         <button id=\"noop\" onclick=\"void 0\">Do nothing</button>\
         <button id=\"many\" onclick=\"for (let i = 0; i < 300; i++) {{ const p = document.createElement('p'); \
         p.textContent = 'Added line ' + i; document.querySelector('main').appendChild(p); }}\">Add many</button>\
         <div id=\"panel\" hidden><p>Details revealed</p>\
         <button id=\"buy\" onclick=\"this.textContent = 'Bought'\">Buy now</button></div>\
         </main><footer><a href=\"/changes?page=4\">Imprint</a> <a href=\"/changes?page=5\">Privacy</a></footer>\
         </body></html>"
    )
}
