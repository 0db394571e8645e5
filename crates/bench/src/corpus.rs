//! The fixture corpus, served on 127.0.0.1: realistic shapes (a long article in
//! site chrome, a 200-item listing, a 2,000-row table, a form, a page rendered by
//! JavaScript), 200 distinct small pages for throughput runs, and a news page
//! built like the real web (`/news/{n}`): the story in the HTML, 24 pictures
//! that take 400 ms each, two web fonts (600 ms), an ad frame and two scripts
//! from another site (127.0.0.2, 0.8 to 1.5 s), and comments a script renders
//! from an XHR answered after 250 ms.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::Path;
use axum::response::Html;
use axum::routing::get;

pub struct Corpus {
    pub addr: SocketAddr,
}

impl Corpus {
    pub async fn start() -> anyhow::Result<Corpus> {
        let app = Router::new()
            .route("/article", get(|| async { Html(article()) }))
            .route("/listing", get(|| async { Html(listing()) }))
            .route("/table", get(|| async { Html(table()) }))
            .route("/form", get(|| async { Html(FORM) }))
            .route("/js", get(|| async { Html(JS_RENDERED) }))
            .route(
                "/p/{n}",
                get(|Path(n): Path<u32>| async move { Html(small(n)) }),
            )
            .route(
                "/api/comments",
                get(|| delayed(250, "application/json", COMMENTS)),
            )
            .route(
                "/img/{name}",
                get(|| delayed(400, "image/svg+xml", PICTURE)),
            )
            .route("/font/{name}", get(|| delayed(600, "font/woff2", "")));
        // The "third party": ads and analytics on another site (127.0.0.2).
        let third = Router::new()
            .route("/ad", get(|| delayed(800, "text/html", AD)))
            .route("/ad.js", get(|| delayed(1200, "text/javascript", "void 0")))
            .route(
                "/tag.js",
                get(|| delayed(1500, "text/javascript", "void 0")),
            );
        let third_listener = tokio::net::TcpListener::bind("127.0.0.2:0").await?;
        let third_addr = third_listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(third_listener, third).await;
        });
        let app = app.merge(crate::shop::routes()).route(
            "/news/{n}",
            get(move |Path(n): Path<u32>| async move { Html(news(n, third_addr)) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Corpus { addr })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

const CHROME_TOP: &str = "<header><nav><a href=/>Home</a> <a href=/news>News</a> \
<a href=/shop>Shop</a> <a href=/about>About</a> <a href=/login>Log in</a></nav></header>\
<aside><h3>Trending</h3><ul><li><a href=/t/1>Ten tricks</a></li><li><a href=/t/2>You \
will not believe</a></li><li><a href=/t/3>Deals of the day</a></li></ul></aside>";
const CHROME_BOTTOM: &str = "<footer><p>© 2026 Example Media. <a href=/privacy>Privacy\
</a> <a href=/terms>Terms</a> <a href=/cookies>Cookies</a></p></footer>\
<script>window.analytics=[];for(let i=0;i<50;i++)analytics.push({e:'view',i});</script>";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:auto}}</style></head>\
         <body>{CHROME_TOP}<main>{body}</main>{CHROME_BOTTOM}</body></html>"
    )
}

pub fn article() -> String {
    let mut body = String::from(
        "<article><h1>How small browser farms scale</h1><p class=byline>By A. Writer</p>",
    );
    for i in 0..40 {
        let _ = write!(
            body,
            "<h2>Section {i}</h2><p>Running headless browsers on many small machines \
             trades one big failure domain for many small ones. Section {i} looks at \
             scheduling, circuit breakers and what an agent actually needs to read.</p>\
             <p>Each node keeps a warm pool; a gateway routes work by load and health, \
             and a failed node's work moves elsewhere without the caller noticing.</p>"
        );
    }
    body.push_str("</article>");
    page("How small browser farms scale", &body)
}

pub fn listing() -> String {
    let mut body = String::from("<h1>All products</h1><ul class=products>");
    for i in 0..200 {
        let _ = write!(
            body,
            "<li class=product><a href=/item/{i}><img alt='Product {i}' src=/img/{i}.png>\
             <span class=name>Product number {i}</span></a><span class=price>€{}.{:02}\
             </span><button>Add to cart</button></li>",
            10 + i % 90,
            i % 100
        );
    }
    body.push_str("</ul>");
    page("All products", &body)
}

pub fn table() -> String {
    let mut body = String::from(
        "<h1>Measurements</h1><table><thead><tr><th>#</th><th>Node</th><th>Latency ms\
         </th><th>Status</th></tr></thead><tbody>",
    );
    for i in 0..2000 {
        let _ = write!(
            body,
            "<tr><td>{i}</td><td>node-{}</td><td>{}</td><td>{}</td></tr>",
            i % 7,
            20 + (i * 37) % 180,
            if i % 13 == 0 { "timeout" } else { "ok" }
        );
    }
    body.push_str("</tbody></table>");
    page("Measurements", &body)
}

const FORM: &str = "<!doctype html><title>Sign up</title><h1>Sign up</h1>\
<form action=/form><label>Name <input name=name id=name></label>\
<label>Email <input name=email type=email id=email></label>\
<label>Plan <select name=plan><option>free</option><option>pro</option></select></label>\
<label><input type=checkbox name=terms> I accept</label><button>Create account</button></form>";

const JS_RENDERED: &str = "<!doctype html><title>Dashboard</title><div id=app>Loading…</div>\
<script>const rows=[];for(let i=0;i<300;i++){rows.push(`<li>Widget ${i}: ${(i*7)%100}%</li>`)}\
document.getElementById('app').innerHTML='<h1>Dashboard</h1><ul>'+rows.join('')+'</ul>';</script>";

fn small(n: u32) -> String {
    format!(
        "<!doctype html><html><head><title>Page {n}</title></head><body><h1>Page {n}</h1>\
         <p>Paragraph one of page {n}: plain prose about browsers on small farms.</p>\
         <p>Paragraph two of page {n}.</p><a href=/p/{}>next</a></body></html>",
        n + 1
    )
}

async fn delayed(
    ms: u64,
    mime: &'static str,
    body: &'static str,
) -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    ([(axum::http::header::CONTENT_TYPE, mime)], body)
}

const PICTURE: &str = "<svg xmlns='http://www.w3.org/2000/svg' width='320' height='180'>\
<rect width='320' height='180' fill='#6a8'/></svg>";
const AD: &str = "<!doctype html><title>Ad</title><p>Buy now</p>";
const COMMENTS: &str = r#"[{"who":"Ada","said":"A farm of browsers, at last."},
{"who":"Linus","said":"Two cores were enough."},{"who":"Grace","said":"Ship it."}]"#;

/// The heavy news page; `n` keeps URLs distinct so nothing is cached.
pub fn news(n: u32, third: SocketAddr) -> String {
    let mut body = format!(
        "<article><h1>Browsers harvest the web early (story {n})</h1>\
         <p class=byline>By A. Reporter</p>"
    );
    for i in 0..24 {
        let _ = write!(
            body,
            "<p>Paragraph {i} of the story: small machines read pages for agents, and \
             what a reader needs is the text, not the pictures around it.</p>\
             <figure><img src=/img/{n}-{i}.svg alt='Picture {i}' width=320 height=180>\
             <figcaption>Picture {i}</figcaption></figure>"
        );
    }
    let _ = write!(
        body,
        "</article><iframe src=http://{third}/ad width=300 height=250></iframe>\
         <section id=comments>Loading comments…</section>\
         <script async src=http://{third}/tag.js></script>\
         <script>const s=document.createElement('script');s.src='http://{third}/ad.js';\
         document.head.appendChild(s);\
         fetch('/api/comments').then(r=>r.json()).then(cs=>{{document.getElementById\
         ('comments').innerHTML='<h2>Comments</h2>'+cs.map(c=>`<p><b>${{c.who}}</b>: \
         ${{c.said}}</p>`).join('')}});</script>"
    );
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Story {n}</title>\
         <style>@font-face{{font-family:Serif1;src:url(/font/a.woff2)}}\
         @font-face{{font-family:Sans1;src:url(/font/b.woff2)}}\
         h1{{font-family:Sans1,sans-serif}}body{{font-family:Serif1,serif;max-width:60em;margin:auto}}\
         </style></head><body>{CHROME_TOP}<main>{body}</main>{CHROME_BOTTOM}</body></html>"
    )
}
