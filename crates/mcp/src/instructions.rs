//! What the server tells a client at initialize about how to use its tools:
//! the model reads it before its first call, so it says which tool to reach
//! for first and how sessions carry over between calls.

pub const INSTRUCTIONS: &str = "browserfarm drives real headless Chromium browsers. \
Each browser session is isolated (cookies, storage, tabs) and persists between calls. \
Results of calls that ran in a session end with `session: <handle>`: pass that handle back \
as the `session` argument of later calls to keep using the same browser (a call without it \
uses this connection's own session when the connection has one, or else starts a new \
browser session; `\"new\"` opens another); `close_session` ends one. To read, `navigate` then \
`scrape` (markdown of the main content: the cheapest way to read a page; `scrape` accepts a \
`url` to load and read in one call). To act, call `snapshot` (a compact outline of the page \
in which every control has a ref such as e12), then `click`, `type`, `fill_form`, \
`select_option`, `hover` or `press_key` with that ref (or a CSS selector): each answers with \
what it changed on the page (outline lines that appeared `+`, went `-` or changed `~`, with \
their refs; \
parts a new page shares with the last are named, their refs still valid; `changes: false` \
answers in one line), so a new `snapshot` is rarely needed. `wait_for` waits for text or an element. `screenshot` only when the visual layout matters. Also: `tabs`, \
`cookies`, `storage_state` (export a login, import it in another session), `emulate`, \
`handle_dialog` (dialogs are otherwise dismissed automatically, with a note), \
`console_messages`, `network_requests`, `pdf`, `downloads`, `evaluate`. `batch_scrape` reads many URLs \
in parallel across the farm without touching this session's tabs; `farm_status` shows the \
nodes. Only http and https URLs can be opened. Every result is bounded and says how to get \
more; errors say what went wrong and what to try next.";
