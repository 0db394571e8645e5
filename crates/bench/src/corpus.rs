//! The fixture corpus, served on 127.0.0.1: realistic shapes (a long article in
//! site chrome, a 200-item listing, a 2,000-row table, a form, a page rendered by
//! JavaScript) and 200 distinct small pages for throughput runs.

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
