//! The task suite's site, served with the corpus under `/tasks/`: a small shop
//! built like a real one, every page in the same chrome (a header of category
//! links, a sidebar, a footer: 60 links an agent reads on every page), with a
//! sign-in form and an account balance, a search with results and product
//! pages, and a catalogue paged ten items at a time.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Html;
use axum::routing::get;

/// The password the sign-in task types.
pub const PASSWORD: &str = "hunter2";
/// What the account page shows once signed in.
pub const BALANCE: &str = "Balance: €1,234.56";

pub fn routes() -> Router {
    Router::new()
        .route("/tasks/login", get(|| async { Html(login()) }))
        .route("/tasks/account", get(account))
        .route("/tasks/shop", get(|| async { Html(shop()) }))
        .route("/tasks/search", get(search))
        .route("/tasks/product/{n}", get(product))
        .route("/tasks/catalogue", get(catalogue))
        .route("/tasks/item/{n}", get(item))
}

fn chrome_top() -> String {
    let mut nav = String::from("<header><a href=/tasks/shop>Example Shop</a><nav>");
    for (i, c) in [
        "Women", "Men", "Kids", "Shoes", "Bags", "Jackets", "Dresses", "Shirts", "Jeans", "Sport",
        "Outdoor", "Home", "Kitchen", "Garden", "Toys", "Books", "Music", "Films", "Games",
        "Phones", "Laptops", "Cameras", "Audio", "Watches", "Beauty", "Health", "Food", "Pets",
        "Gifts", "Sale",
    ]
    .iter()
    .enumerate()
    {
        let _ = write!(nav, "<a href=/tasks/c/{i}>{c}</a> ");
    }
    nav.push_str("</nav></header><aside><h3>Popular</h3><ul>");
    for i in 0..10 {
        let _ = write!(nav, "<li><a href=/tasks/p/{i}>Popular pick {i}</a></li>");
    }
    nav.push_str("</ul></aside>");
    nav
}

fn chrome_bottom() -> String {
    let mut footer = String::from("<footer><h3>Help</h3>");
    for l in [
        "Contact",
        "Delivery",
        "Returns",
        "Payment",
        "Gift cards",
        "Stores",
        "Careers",
        "Press",
        "Investors",
        "Sustainability",
        "Affiliates",
        "Accessibility",
        "Privacy",
        "Terms",
        "Cookies",
        "Imprint",
        "Sitemap",
        "Newsletter",
        "App",
        "Blog",
    ] {
        let _ = write!(footer, "<a href=/tasks/help/{l}>{l}</a> ");
    }
    footer.push_str("<p>© 2026 Example Shop</p></footer>");
    footer
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>\
         <body>{}<main>{body}</main>{}</body></html>",
        chrome_top(),
        chrome_bottom()
    )
}

fn login() -> String {
    page(
        "Sign in",
        "<h1>Sign in</h1><form action=/tasks/account>\
         <label>Email <input name=user type=email></label>\
         <label>Password <input name=pass type=password></label>\
         <button>Sign in</button></form><p><a href=/tasks/help/Reset>Forgot your password?</a></p>",
    )
}

async fn account(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let body = if q.get("pass").map(String::as_str) == Some(PASSWORD) {
        format!(
            "<h1>Your account</h1><p>Signed in as {}</p><p>{BALANCE}</p>\
             <p><a href=/tasks/orders>Your orders</a></p>",
            q.get("user")
                .map_or("", |u| u.as_str())
                .replace('<', "&lt;")
        )
    } else {
        "<h1>Sign in failed</h1><p>Wrong email or password.</p>".to_owned()
    };
    Html(page("Your account", &body))
}

fn shop() -> String {
    page(
        "Example Shop",
        "<h1>Welcome to Example Shop</h1><form action=/tasks/search role=search>\
         <label>Search <input name=q type=search></label><button>Search</button></form>\
         <p>Free delivery on orders over €50.</p>",
    )
}

async fn search(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let query = q.get("q").cloned().unwrap_or_default().replace('<', "&lt;");
    let mut body = format!("<h1>Results for {query}</h1><ul>");
    for i in 0..10 {
        let _ = write!(
            body,
            "<li><a href=/tasks/product/{i}>Red shoes model {i}</a> €{}.99</li>",
            40 + i
        );
    }
    body.push_str("</ul>");
    Html(page(&format!("Search: {query}"), &body))
}

async fn product(Path(n): Path<u32>) -> Html<String> {
    Html(page(
        &format!("Red shoes model {n}"),
        &format!(
            "<h1>Red shoes model {n}</h1><p>Price: €{}.99</p><p>Leather, sizes 36 to 46.</p>\
             <button>Add to basket</button>",
            40 + n
        ),
    ))
}

/// Catalogue items per page, and pages.
const PER_PAGE: u32 = 10;
const PAGES: u32 = 10;

async fn catalogue(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let n: u32 = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .clamp(1, PAGES);
    let mut body = format!("<h1>Catalogue, page {n} of {PAGES}</h1><ul>");
    for k in (n - 1) * PER_PAGE..n * PER_PAGE {
        let _ = write!(
            body,
            "<li><a href=/tasks/item/{k}>Catalogue item {k}</a></li>"
        );
    }
    body.push_str("</ul>");
    if n < PAGES {
        let _ = write!(
            body,
            "<a href=/tasks/catalogue?page={}>Next page</a>",
            n + 1
        );
    }
    Html(page(&format!("Catalogue page {n}"), &body))
}

async fn item(Path(n): Path<u32>) -> Html<String> {
    Html(page(
        &format!("Catalogue item {n}"),
        &format!("<h1>Catalogue item {n}</h1><p>Item {n}: in stock, ships in 2 days.</p>"),
    ))
}
