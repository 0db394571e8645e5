//! Pages for the full toolset: a login form whose session is a cookie plus a
//! localStorage setting, a page with one of every control (hover menu, dialogs,
//! popup, late element, console output, a failing request, file input), and a
//! very large DOM for snapshot pagination.

use axum::Form;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::escape;

pub(crate) const LOGIN: &str = r#"<!doctype html><html><head><title>Log in</title></head><body>
<h1>Members area</h1>
<form method="post" action="/login" onsubmit="localStorage.setItem('theme', 'dark')">
<label>User name <input name="user" id="user"></label>
<label>Password <input type="password" name="password" id="password"></label>
<label><input type="checkbox" name="remember" id="remember"> Remember me</label>
<label>Team <select name="team" id="team"><option value="red">Red team</option><option value="blue">Blue team</option></select></label>
<button type="submit">Log in</button>
</form></body></html>"#;

#[derive(serde::Deserialize)]
pub(crate) struct LoginForm {
    user: String,
    password: String,
    team: String,
    remember: Option<String>,
}

/// `POST /login`: the password is "hunter2"; success sets the session cookie.
pub(crate) async fn login(Form(f): Form<LoginForm>) -> Response {
    if f.password != "hunter2" {
        return (
            StatusCode::UNAUTHORIZED,
            Html("<!doctype html><title>Wrong password</title><p>Wrong password</p>"),
        )
            .into_response();
    }
    let remember = if f.remember.is_some() { "yes" } else { "no" };
    let value = format!("{}.{}.{remember}", f.user, f.team);
    (
        [(
            header::SET_COOKIE,
            format!("member={value}; Path=/; HttpOnly; Max-Age=3600"),
        )],
        Redirect::to("/account"),
    )
        .into_response()
}

/// `/account`: who is logged in (from the cookie) and the theme (from
/// localStorage, written by the login form).
pub(crate) async fn account(headers: HeaderMap) -> Html<String> {
    let member = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| {
            c.split(';')
                .find_map(|kv| kv.trim().strip_prefix("member=").map(str::to_owned))
        });
    let body = match member {
        Some(m) => {
            let mut parts = m.splitn(3, '.');
            let user = escape(parts.next().unwrap_or(""));
            let team = escape(parts.next().unwrap_or(""));
            let remember = escape(parts.next().unwrap_or(""));
            format!("<h1>Welcome, {user}</h1><p>Team: {team}. Remembered: {remember}.</p>")
        }
        None => "<h1>Please log in</h1>".to_owned(),
    };
    Html(format!(
        "<!doctype html><html><head><title>Account</title></head><body>{body}\
         <p id=\"theme\"></p><script>document.getElementById('theme').textContent = \
         'Theme: ' + (localStorage.getItem('theme') || 'none');</script></body></html>"
    ))
}

pub(crate) const CONTROLS: &str = r#"<!doctype html><html><head><title>Controls</title>
<style>#menu { display: none } #trigger:hover + #menu, #menu.open { display: block } .tall { height: 3000px }</style>
</head><body>
<h1>Controls</h1>
<button id="trigger" onmouseover="document.getElementById('menu').classList.add('open')">Products</button>
<ul id="menu"><li>Menu open: Seeds</li></ul>
<label>Colour <select id="colour"><option value="r">Red</option><option value="g">Green</option><option value="b">Blue</option></select></label>
<label>Toppings <select id="toppings" multiple><option>Cheese</option><option>Olives</option><option>Basil</option></select></label>
<label>Note <input id="note" value="draft"></label>
<label>Files <input type="file" id="file" multiple onchange="document.getElementById('files').textContent = 'Files: ' + [...this.files].map(f => f.name + ' ' + f.size).join(', ')"></label>
<p id="files">Files: none</p>
<button id="alert" onclick="alert('Hello from alert'); document.getElementById('result').textContent = 'alert: done'">Alert</button>
<button id="confirm" onclick="document.getElementById('result').textContent = 'confirm: ' + confirm('Delete everything?')">Confirm</button>
<button id="prompt" onclick="document.getElementById('result').textContent = 'prompt: ' + prompt('Your name?', 'nobody')">Prompt</button>
<button id="storm" onclick="for (let i = 0; i < 20; i++) alert('storm ' + i); document.getElementById('result').textContent = 'storm: over'">Storm</button>
<p id="result">result: none</p>
<button id="popup" onclick="window.open('/p/7', '_blank')">Open popup</button>
<button id="reveal" onclick="setTimeout(() => { const p = document.createElement('p'); p.id = 'late'; p.textContent = 'Arrived late'; document.body.appendChild(p); document.getElementById('going').remove(); }, 500)">Reveal</button>
<p id="going">Going soon</p>
<div class="tall">Tall content</div>
<p id="bottom">The bottom</p>
<a id="dl" href="/download/report.csv">Download the report</a>
<a id="dl-big" href="/download/big.bin">Download the archive</a>
<script>
console.log('controls ready', 42);
console.warn('careful now');
console.error('boom: something broke');
fetch('/missing-resource').catch(() => {});
</script>
</body></html>"#;

/// `/big`: a page whose snapshot spans many pages.
pub(crate) async fn big() -> Html<String> {
    let items: String = (0..3000)
        .map(|i| format!("<li><a href=\"/p/{i}\">Item number {i}</a></li>"))
        .collect();
    Html(format!(
        "<!doctype html><html><head><title>Big</title></head><body><h1>Big list</h1>\
         <ul>{items}</ul></body></html>"
    ))
}

/// The CSV `/download/report.csv` serves as an attachment.
pub const REPORT_CSV: &str = "seed,price\ncarrot,3\nkale,5\n";

/// `/download/{name}`: an attachment; `big.bin` is 1 MB.
pub(crate) async fn download(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let body = match name.as_str() {
        "report.csv" => REPORT_CSV.as_bytes().to_vec(),
        "big.bin" => vec![b'x'; 1_000_000],
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}
