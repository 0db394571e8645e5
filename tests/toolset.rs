//! The full toolset (snapshot refs, forms, dialogs, tabs, waits, logs, cookies,
//! storage state, emulation, PDF, uploads), each checked by its effect on a real
//! page. Every scenario runs twice: on the embedded pool, and through a gateway
//! over a 2-node loopback farm, so remote parity is tested, not assumed.

use base64::Engine;
use serde_json::{Value, json};

use browserfarm_testkit::Fixtures;

use crate::util::{Agent, McpProcess, TOOLS, ToolResult, gateway};

/// Where the browsers run.
#[derive(Clone, Copy, Debug)]
enum Where {
    Local,
    Farm,
}

/// A server (and its agents, for a farm) plus the upload directory all of them use.
struct Rig {
    agents: Vec<Agent>,
    uploads: std::path::PathBuf,
}

impl Rig {
    async fn start(place: Where) -> (Rig, McpProcess) {
        let uploads = std::env::temp_dir().join(format!(
            "bf-uploads-{}-{place:?}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&uploads).unwrap();
        std::fs::write(uploads.join("seeds.txt"), "twelve bytes").unwrap();
        let upload_arg = uploads.to_str().unwrap().to_owned();
        let browser_args = browser_args(&upload_arg);
        let agents = match place {
            Where::Local => Vec::new(),
            Where::Farm => vec![
                Agent::start(&browser_args).await,
                Agent::start(&browser_args).await,
            ],
        };
        let rig = Rig { agents, uploads };
        let client = rig.client().await;
        (rig, client)
    }

    /// Another MCP connection (so another browser session) to the same browsers.
    async fn client(&self) -> McpProcess {
        let upload_arg = self.uploads.to_str().unwrap();
        if self.agents.is_empty() {
            McpProcess::start_with(&browser_args(upload_arg)).await
        } else {
            let agents: Vec<&Agent> = self.agents.iter().collect();
            gateway(&agents, &[]).await
        }
    }
}

/// Browser flags for the server or the agents: popups on, uploads from `uploads`,
/// downloads on and capped at 200 kB.
fn browser_args(uploads: &str) -> Vec<&str> {
    vec![
        "--popups",
        "--upload-dir",
        uploads,
        "--downloads",
        "--max-download-bytes",
        "200000",
    ]
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.uploads);
    }
}

/// The ref on the snapshot line that contains all of `needles`.
#[track_caller]
fn ref_of(snapshot: &str, needles: &[&str]) -> String {
    let line = snapshot
        .lines()
        .find(|l| needles.iter().all(|n| l.contains(n)) && l.contains("[ref="))
        .unwrap_or_else(|| panic!("no line with {needles:?} and a ref in:\n{snapshot}"));
    let start = line.find("[ref=").unwrap() + 5;
    let end = start + line[start..].find(']').unwrap();
    line[start..end].to_owned()
}

async fn eval(mcp: &mut McpProcess, js: &str) -> Value {
    let text = mcp.ok("evaluate", json!({"expression": js})).await.text();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn login_with_refs_and_carry_the_state_to_a_new_session(place: Where) {
    let pages = Fixtures::start().await;
    let (rig, mut mcp) = Rig::start(place).await;
    mcp.ok("navigate", json!({"url": pages.url("/login")}))
        .await;
    let snap = mcp.ok("snapshot", json!({})).await.text();
    assert!(snap.contains("heading \"Members area\""), "{snap}");
    let user = ref_of(&snap, &["textbox", "User name"]);
    let password = ref_of(&snap, &["textbox", "Password"]);
    let remember = ref_of(&snap, &["checkbox", "Remember me"]);
    let team = ref_of(&snap, &["combobox", "Team"]);
    let submit = ref_of(&snap, &["button", "Log in"]);

    let filled = mcp
        .ok(
            "fill_form",
            json!({"fields": [
                {"ref": user, "value": "alice"},
                {"ref": password, "value": "hunter2"},
                {"ref": remember, "value": "true"},
                {"ref": team, "value": "Blue team"},
            ]}),
        )
        .await
        .text();
    assert!(filled.contains("Filled 4 field(s)"), "{filled}");
    let clicked = mcp.ok("click", json!({"ref": submit})).await.text();
    assert!(clicked.contains("/account"), "{clicked}");
    let page = mcp.ok("scrape", json!({"format": "text"})).await.text();
    assert!(page.contains("Welcome, alice"), "{page}");
    assert!(page.contains("Team: blue. Remembered: yes."), "{page}");
    assert!(page.contains("Theme: dark"), "{page}");

    // The ref of a page that is gone is refused, not reused.
    mcp.call("click", json!({"ref": submit}))
        .await
        .assert_error("call snapshot again");

    let exported = mcp.ok("storage_state", json!({})).await.text();
    let json_start = exported.find('{').expect("state JSON");
    let state: Value = serde_json::from_str(&exported[json_start..]).unwrap();
    assert!(
        state["cookies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "member" && c["http_only"] == true),
        "{state}"
    );

    let mut other = rig.client().await;
    other
        .ok("navigate", json!({"url": pages.url("/account")}))
        .await;
    let fresh = other.ok("scrape", json!({"format": "text"})).await.text();
    assert!(fresh.contains("Please log in"), "sessions leak: {fresh}");
    other
        .ok("storage_state", json!({"action": "import", "state": state}))
        .await;
    other.ok("navigate", json!({"action": "reload"})).await;
    let resumed = other.ok("scrape", json!({"format": "text"})).await.text();
    assert!(resumed.contains("Welcome, alice"), "{resumed}");
    assert!(resumed.contains("Theme: dark"), "{resumed}");
}

async fn controls_dialogs_waits_and_logs(place: Where) {
    let pages = Fixtures::start().await;
    let (_rig, mut mcp) = Rig::start(place).await;
    mcp.ok("navigate", json!({"url": pages.url("/controls")}))
        .await;

    // Hover opens the menu.
    mcp.ok("hover", json!({"selector": "#trigger"})).await;
    assert_eq!(
        eval(
            &mut mcp,
            "getComputedStyle(document.getElementById('menu')).display"
        )
        .await,
        "block"
    );

    // select_option by label, several in a multiple select; unknown values list options.
    let picked = mcp
        .ok(
            "select_option",
            json!({"selector": "#colour", "values": ["Green"]}),
        )
        .await
        .text();
    assert!(picked.contains("\"Green\""), "{picked}");
    assert_eq!(
        eval(&mut mcp, "document.getElementById('colour').value").await,
        "g"
    );
    mcp.ok(
        "select_option",
        json!({"selector": "#toppings", "values": ["Cheese", "Basil"]}),
    )
    .await;
    assert_eq!(
        eval(
            &mut mcp,
            "[...document.getElementById('toppings').selectedOptions].map(o => o.text).join()"
        )
        .await,
        "Cheese,Basil"
    );
    mcp.call(
        "select_option",
        json!({"selector": "#colour", "values": ["Purple"]}),
    )
    .await
    .assert_error("\"Red\",\"Green\",\"Blue\"");

    // press_key: select all and delete the field's text.
    mcp.ok("type", json!({"selector": "#note", "text": "!"}))
        .await;
    assert_eq!(
        eval(&mut mcp, "document.getElementById('note').value").await,
        "draft!"
    );
    mcp.ok("press_key", json!({"key": "Control+a"})).await;
    mcp.ok("press_key", json!({"key": "Backspace"})).await;
    assert_eq!(
        eval(&mut mcp, "document.getElementById('note').value").await,
        ""
    );
    mcp.call("press_key", json!({"key": "Hyper+x"}))
        .await
        .assert_error("unknown modifier");

    // Dialogs never block: dismissed automatically with a note, or as asked.
    let clicked = mcp
        .ok("click", json!({"selector": "#confirm"}))
        .await
        .text();
    assert!(clicked.contains("dismissed automatically"), "{clicked}");
    assert_eq!(
        eval(&mut mcp, "document.getElementById('result').textContent").await,
        "confirm: false"
    );
    mcp.ok(
        "handle_dialog",
        json!({"accept": true, "prompt_text": "Ada"}),
    )
    .await;
    let prompted = mcp.ok("click", json!({"selector": "#prompt"})).await.text();
    assert!(prompted.contains("accepted as asked"), "{prompted}");
    assert_eq!(
        eval(&mut mcp, "document.getElementById('result').textContent").await,
        "prompt: Ada"
    );
    let storm = mcp.ok("click", json!({"selector": "#storm"})).await.text();
    assert!(storm.contains("more like these"), "{storm}");
    assert_eq!(
        eval(&mut mcp, "document.getElementById('result').textContent").await,
        "storm: over"
    );

    // wait_for an element that arrives late and a text that goes away.
    mcp.ok("click", json!({"selector": "#reveal"})).await;
    let waited = mcp
        .ok("wait_for", json!({"selector": "#late", "timeout_ms": 5000}))
        .await
        .text();
    assert!(waited.contains("held after"), "{waited}");
    mcp.ok("wait_for", json!({"text_gone": "Going soon"})).await;
    mcp.call("wait_for", json!({"text": "Never here", "timeout_ms": 300}))
        .await
        .assert_error("waited 300 ms");

    // Scroll down the tall page, then to an element.
    let scrolled = mcp
        .ok("scroll", json!({"direction": "down", "amount": 600}))
        .await
        .text();
    assert!(scrolled.contains("y=600"), "{scrolled}");
    mcp.ok("scroll", json!({"selector": "#bottom"})).await;
    let y = eval(&mut mcp, "scrollY").await.as_f64().unwrap();
    assert!(y > 2000.0, "scrollY {y}");

    // Console and network logs.
    let errors = mcp
        .ok("console_messages", json!({"level": "error"}))
        .await
        .text();
    assert!(errors.contains("boom: something broke"), "{errors}");
    assert!(!errors.contains("controls ready"), "{errors}");
    let all = mcp.ok("console_messages", json!({})).await.text();
    assert!(all.contains("controls ready 42"), "{all}");
    assert!(all.contains("[warning] careful now"), "{all}");
    let failed = mcp
        .ok("network_requests", json!({"failed_only": true}))
        .await
        .text();
    assert!(
        failed.contains("404") && failed.contains("/missing-resource"),
        "{failed}"
    );
    assert!(!failed.contains("/controls"), "{failed}");

    // Uploads come only from the upload directory.
    let attached = mcp
        .ok(
            "upload_file",
            json!({"selector": "#file", "paths": ["seeds.txt"]}),
        )
        .await
        .text();
    assert!(attached.contains("Attached 1 file"), "{attached}");
    assert_eq!(
        eval(&mut mcp, "document.getElementById('files').textContent").await,
        "Files: seeds.txt 12"
    );
    mcp.call(
        "upload_file",
        json!({"selector": "#file", "paths": ["../etc/passwd"]}),
    )
    .await
    .assert_error("plain file name");
}

async fn tabs_history_cookies_emulation_and_pdf(place: Where) {
    let pages = Fixtures::start().await;
    let (_rig, mut mcp) = Rig::start(place).await;
    mcp.ok("navigate", json!({"url": pages.url("/controls")}))
        .await;

    // A popup becomes a tab the agent can select.
    let clicked = mcp.ok("click", json!({"selector": "#popup"})).await.text();
    assert!(clicked.contains("opened a new tab (index 1)"), "{clicked}");
    let listed = mcp.ok("tabs", json!({})).await.text();
    assert!(
        listed.contains("[0] (current)") && listed.contains("/p/7"),
        "{listed}"
    );
    mcp.ok("tabs", json!({"action": "select", "index": 1}))
        .await;
    let popup = mcp.ok("scrape", json!({"format": "text"})).await.text();
    assert!(popup.contains("Page 7"), "{popup}");
    let opened = mcp
        .ok("tabs", json!({"action": "new", "url": pages.url("/p/9")}))
        .await
        .text();
    assert!(opened.contains("[2] (current)"), "{opened}");
    mcp.ok("tabs", json!({"action": "close", "index": 1})).await;
    let listed = mcp.ok("tabs", json!({})).await.text();
    assert!(
        listed.contains("2 tab(s)") && listed.contains("[1] (current)"),
        "{listed}"
    );
    assert!(!listed.contains("/p/7"), "{listed}");
    mcp.call("tabs", json!({"action": "select", "index": 5}))
        .await
        .assert_error("no tab 5");

    // History: back to page 9's predecessor and forward again.
    mcp.ok("navigate", json!({"url": pages.url("/p/10")})).await;
    let back = mcp.ok("navigate", json!({"action": "back"})).await.text();
    assert!(back.contains("/p/9"), "{back}");
    let forward = mcp
        .ok("navigate", json!({"action": "forward"}))
        .await
        .text();
    assert!(forward.contains("/p/10"), "{forward}");
    mcp.call("navigate", json!({"action": "forward"}))
        .await
        .assert_error("no next page");

    // Cookies: set one, see the page receive it, clear it.
    mcp.ok(
        "cookies",
        json!({"action": "set", "cookies": [{"name": "flavour", "value": "mint", "url": pages.url("/")}]}),
    )
    .await;
    let got = mcp
        .ok("cookies", json!({"domain": "127.0.0.1"}))
        .await
        .text();
    assert!(
        got.contains("\"flavour\"") && got.contains("\"mint\""),
        "{got}"
    );
    let shown = mcp
        .ok(
            "scrape",
            json!({"url": pages.url("/cookie/show"), "format": "text"}),
        )
        .await
        .text();
    assert!(shown.contains("flavour=mint"), "{shown}");
    mcp.ok("cookies", json!({"action": "clear"})).await;
    let none = mcp.ok("cookies", json!({})).await.text();
    assert!(none.contains("No cookies"), "{none}");

    // Emulation reaches the page and survives into new tabs.
    mcp.ok(
        "emulate",
        json!({"device": "pixel-7", "color_scheme": "dark"}),
    )
    .await;
    mcp.ok("tabs", json!({"action": "new", "url": pages.url("/p/1")}))
        .await;
    assert_eq!(eval(&mut mcp, "screen.width").await, 412);
    assert_eq!(
        eval(
            &mut mcp,
            "matchMedia('(prefers-color-scheme: dark)').matches"
        )
        .await,
        true
    );
    assert_eq!(
        eval(&mut mcp, "navigator.userAgent.includes('Pixel 7')").await,
        true
    );
    mcp.ok("emulate", json!({"reset": true})).await;
    assert_eq!(eval(&mut mcp, "innerWidth").await, 1280);

    // PDF as an embedded resource.
    let pdf = mcp.ok("pdf", json!({"url": pages.url("/article")})).await;
    let resource = pdf
        .content("resource")
        .next()
        .unwrap_or_else(|| panic!("no resource in {}", pdf.0));
    assert_eq!(resource["resource"]["mimeType"], "application/pdf");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(resource["resource"]["blob"].as_str().unwrap())
        .unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
}

async fn snapshots_paginate_and_scope(place: Where) {
    let pages = Fixtures::start().await;
    let (_rig, mut mcp) = Rig::start(place).await;
    mcp.ok("navigate", json!({"url": pages.url("/big")})).await;
    let first = mcp.ok("snapshot", json!({"max_chars": 4000})).await;
    let text = first.text();
    assert!(text.contains("[snapshot page 1/"), "{}", &text[..300]);
    assert!(
        text.contains("call snapshot {\"page\": 2}"),
        "{}",
        &text[text.len() - 300..]
    );
    assert!(
        text.chars().count() < 4000 + 600,
        "{}",
        text.chars().count()
    );
    let parts: usize = text
        .split("[snapshot page 1/")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(parts > 10, "3000 links in {parts} parts");
    let last = mcp
        .ok("snapshot", json!({"max_chars": 4000, "page": parts}))
        .await
        .text();
    assert!(last.contains("Item number 2999"), "{last}");
    assert!(!last.contains("for the next part"), "{last}");
    mcp.call("snapshot", json!({"max_chars": 4000, "page": parts + 1}))
        .await
        .assert_error("does not exist");
    // Refs are stable across snapshots of one page; a link ref clicks through.
    let item = ref_of(&last, &["link", "Item number 2999"]);
    let again = mcp
        .ok("snapshot", json!({"max_chars": 4000, "page": parts}))
        .await
        .text();
    assert_eq!(ref_of(&again, &["link", "Item number 2999"]), item);
    let clicked = mcp.ok("click", json!({"ref": item})).await.text();
    assert!(clicked.contains("/p/2999"), "{clicked}");

    // Scoped to one element; the default budget keeps a normal page whole.
    mcp.ok("navigate", json!({"url": pages.url("/login")}))
        .await;
    let form = mcp.ok("snapshot", json!({"selector": "form"})).await.text();
    assert!(form.contains("textbox \"User name\""), "{form}");
    assert!(!form.contains("Members area"), "{form}");
    assert!(!form.contains("snapshot page"), "{form}");
    mcp.call("snapshot", json!({"selector": "#nope"}))
        .await
        .assert_error("no element matches");
    mcp.call("click", json!({"ref": "e99999"}))
        .await
        .assert_error("not on the current page");
    mcp.call("click", json!({"ref": "e1", "selector": "a"}))
        .await
        .assert_error("not both");
}

fn is_ok(result: &ToolResult) -> bool {
    !result.is_error()
}

macro_rules! both {
    ($($scenario:ident => $local:ident, $farm:ident;)*) => {$(
        #[tokio::test]
        async fn $local() {
            $scenario(Where::Local).await;
        }
        #[tokio::test]
        async fn $farm() {
            $scenario(Where::Farm).await;
        }
    )*};
}

both! {
    login_with_refs_and_carry_the_state_to_a_new_session => login_state_local, login_state_farm;
    controls_dialogs_waits_and_logs => controls_local, controls_farm;
    tabs_history_cookies_emulation_and_pdf => tabs_cookies_pdf_local, tabs_cookies_pdf_farm;
    snapshots_paginate_and_scope => snapshot_pages_local, snapshot_pages_farm;
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn downloads_are_refused_and_reported_unless_enabled() {
    let pages = Fixtures::start().await;
    let (mut mcp, _) = McpProcess::start().await;
    mcp.ok("navigate", json!({"url": pages.url("/controls")}))
        .await;
    let mut said = mcp.ok("click", json!({"selector": "#dl"})).await.text();
    for _ in 0..50 {
        if said.contains("downloads are off") {
            break;
        }
        said = mcp
            .ok("hover", json!({"selector": "#trigger"}))
            .await
            .text();
        if said.contains("downloads are off") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(said.contains("tried to download report.csv"), "{said}");
    // Nothing of the refused file stays on disk.
    let profiles = std::env::temp_dir()
        .join("browserfarm")
        .join(format!("pid-{}", mcp.pid()));
    let download_dirs = std::fs::read_dir(&profiles)
        .unwrap_or_else(|e| panic!("{}: {e}", profiles.display()))
        .flatten()
        .filter(|p| p.path().join("browserfarm-downloads").is_dir())
        .count();
    assert_eq!(download_dirs, 1, "the session's download directory");
    let mut kept = Vec::new();
    for _ in 0..20 {
        kept = files_under(&profiles)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("browserfarm-downloads"))
            .collect();
        if kept.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(kept.is_empty(), "refused download left {kept:?}");
    mcp.ok("downloads", json!({}))
        .await
        .text()
        .contains("Downloads are off")
        .then_some(())
        .expect("downloads says they are off");
}

#[tokio::test]
async fn every_listed_tool_answers_a_call() {
    // A listed tool must really work: call each one with minimal arguments.
    let pages = Fixtures::start().await;
    let (_rig, mut mcp) = Rig::start(Where::Local).await;
    let tools = mcp.request("tools/list", json!({})).await;
    let names: Vec<String> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    mcp.ok("navigate", json!({"url": pages.url("/controls")}))
        .await;
    // Ending the session comes last: every other tool acts on the page above.
    let mut order = names.clone();
    order.sort_by_key(|name| name == "close_session");
    for name in &order {
        let args = match name.as_str() {
            "navigate" => json!({"action": "reload"}),
            "click" | "hover" => json!({"selector": "#trigger"}),
            "type" => json!({"selector": "#note", "text": "x"}),
            "select_option" => json!({"selector": "#colour", "values": ["b"]}),
            "press_key" => json!({"key": "Tab"}),
            "fill_form" => json!({"fields": [{"selector": "#note", "value": "y"}]}),
            "upload_file" => json!({"selector": "#file", "paths": ["seeds.txt"]}),
            "wait_for" => json!({"selector": "h1"}),
            "evaluate" => json!({"expression": "1 + 1"}),
            "batch_scrape" => json!({"urls": [pages.url("/p/1")]}),
            "handle_dialog" => json!({"accept": false}),
            "emulate" => json!({"color_scheme": "light"}),
            _ => json!({}),
        };
        let result = mcp.call(name, args).await;
        assert!(is_ok(&result), "{name}: {}", result.text());
    }
    assert_eq!(names.len(), TOOLS.len(), "{names:?}");
}
