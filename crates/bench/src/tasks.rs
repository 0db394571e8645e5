//! The agent-task suite: small multi-step tasks on the shop of `shop.rs`, each
//! solved by one fixed policy per server, the way a careful agent works: open
//! the page and look at it, act by ref, and look at the page again after every
//! action that changes it. On browserfarm the action's own result shows what
//! changed (so the policy reads that); Playwright MCP's action replies do not
//! carry the page, so its policy calls `browser_snapshot` after each click or
//! submit. Counted per task: done or not, tool calls, and bytes of tool results
//! (what the agent reads into its context).

use serde_json::{Value, json};

use crate::corpus::Corpus;
use crate::mcp::McpClient;
use crate::shop::{BALANCE, PASSWORD};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Browserfarm,
    Playwright,
}

/// One run of one task.
#[derive(Default, Clone)]
pub struct Outcome {
    pub done: bool,
    pub calls: usize,
    pub bytes: usize,
}

struct Agent<'a> {
    client: &'a mut McpClient,
    server: Server,
    /// Every result's text, oldest first: refs are looked up newest first.
    seen: Vec<String>,
    outcome: Outcome,
    /// Print every call and result on stderr.
    transcript: bool,
}

impl Agent<'_> {
    async fn call(&mut self, tool: &str, args: Value) -> anyhow::Result<String> {
        let reply = self.client.call(tool, args.clone()).await?;
        anyhow::ensure!(!reply.is_error, "{tool}: {}", reply.first_text);
        self.outcome.calls += 1;
        self.outcome.bytes += reply.text_bytes;
        if self.transcript {
            eprintln!(
                ">>> {tool} {args}\n{}\n<<< {} bytes\n",
                reply.first_text, reply.text_bytes
            );
        }
        self.seen.push(reply.first_text.clone());
        Ok(reply.first_text)
    }

    /// Opens `url` and looks at it.
    async fn open(&mut self, url: &str) -> anyhow::Result<()> {
        match self.server {
            Server::Browserfarm => {
                self.call("navigate", json!({"url": url})).await?;
                self.call("snapshot", json!({})).await?;
            }
            Server::Playwright => {
                self.call("browser_navigate", json!({"url": url})).await?;
                self.call("browser_snapshot", json!({})).await?;
            }
        }
        Ok(())
    }

    /// The ref of the `role` element named `name`, from the newest result
    /// showing it.
    fn find(&self, role: &str, name: &str) -> anyhow::Result<String> {
        let quoted = format!("{role} \"{name}\"");
        for text in self.seen.iter().rev() {
            for line in text.lines() {
                if line.contains(&quoted)
                    && let Some(at) = line.find("[ref=")
                {
                    let rest = &line[at + 5..];
                    if let Some(end) = rest.find(']') {
                        return Ok(rest[..end].to_owned());
                    }
                }
            }
        }
        anyhow::bail!("no {role} named {name} seen")
    }

    /// Whether the newest result shows `text`.
    fn sees(&self, text: &str) -> bool {
        self.seen.last().is_some_and(|t| t.contains(text))
    }

    async fn click(&mut self, role: &str, name: &str) -> anyhow::Result<()> {
        let r = self.find(role, name)?;
        match self.server {
            Server::Browserfarm => {
                self.call("click", json!({"ref": r})).await?;
            }
            Server::Playwright => {
                self.call("browser_click", json!({"element": name, "target": r}))
                    .await?;
                self.call("browser_snapshot", json!({})).await?;
            }
        }
        Ok(())
    }

    async fn type_into(
        &mut self,
        role: &str,
        name: &str,
        text: &str,
        submit: bool,
    ) -> anyhow::Result<()> {
        let r = self.find(role, name)?;
        match self.server {
            Server::Browserfarm => {
                self.call("type", json!({"ref": r, "text": text, "submit": submit}))
                    .await?;
            }
            Server::Playwright => {
                self.call(
                    "browser_type",
                    json!({"element": name, "target": r, "text": text, "submit": submit}),
                )
                .await?;
                if submit {
                    self.call("browser_snapshot", json!({})).await?;
                }
            }
        }
        Ok(())
    }
}

pub const TASKS: [&str; 3] = [
    "sign in, read the balance",
    "search, open a product, read its price",
    "page through a catalogue to item 37",
];

async fn task(agent: &mut Agent<'_>, corpus: &Corpus, which: usize) -> anyhow::Result<bool> {
    match which {
        0 => {
            agent.open(&corpus.url("/tasks/login")).await?;
            agent
                .type_into("textbox", "Email", "ada@example.com", false)
                .await?;
            agent
                .type_into("textbox", "Password", PASSWORD, false)
                .await?;
            agent.click("button", "Sign in").await?;
            Ok(agent.sees(BALANCE))
        }
        1 => {
            agent.open(&corpus.url("/tasks/shop")).await?;
            agent
                .type_into("searchbox", "Search", "red shoes", true)
                .await?;
            agent.click("link", "Red shoes model 3").await?;
            Ok(agent.sees("Price: €43.99"))
        }
        _ => {
            agent.open(&corpus.url("/tasks/catalogue?page=1")).await?;
            for _ in 0..10 {
                if agent.sees("\"Catalogue item 37\"") {
                    agent.click("link", "Catalogue item 37").await?;
                    return Ok(agent.sees("Item 37: in stock"));
                }
                agent.click("link", "Next page").await?;
            }
            Ok(false)
        }
    }
}

/// Runs every task on a fresh server process started as `program args`.
pub async fn run(
    server: Server,
    program: &str,
    args: &[String],
    corpus: &Corpus,
    transcript: bool,
) -> anyhow::Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    for (which, name) in TASKS.iter().enumerate() {
        let mut client = McpClient::start(program, args).await?;
        let mut agent = Agent {
            client: &mut client,
            server,
            seen: Vec::new(),
            outcome: Outcome::default(),
            transcript,
        };
        let done = task(&mut agent, corpus, which).await;
        let mut outcome = agent.outcome.clone();
        outcome.done = match done {
            Ok(done) => done,
            Err(e) => {
                eprintln!("task {name:?} failed: {e:#}");
                false
            }
        };
        outcomes.push(outcome);
        client.stop().await;
    }
    Ok(outcomes)
}

pub fn print(ours: &[Outcome], playwright: Option<&[Outcome]>, pw_name: &str) {
    println!(
        "| task | browserfarm: done, calls, bytes | {pw_name}: done, calls, bytes | bytes ratio |"
    );
    println!("|---|---:|---:|---:|");
    let cell = |o: &Outcome| {
        format!(
            "{}, {}, {}",
            if o.done { "yes" } else { "NO" },
            o.calls,
            o.bytes
        )
    };
    let mut total = (0, 0);
    for (i, o) in ours.iter().enumerate() {
        let theirs = playwright.and_then(|p| p.get(i));
        total.0 += o.bytes;
        total.1 += theirs.map_or(0, |t| t.bytes);
        println!(
            "| {} | {} | {} | {} |",
            TASKS[i],
            cell(o),
            theirs.map_or("–".to_owned(), cell),
            theirs.map_or(String::new(), |t| format!(
                "{:.2}×",
                o.bytes as f64 / t.bytes as f64
            ))
        );
    }
    if total.1 > 0 {
        println!(
            "| all | {} bytes | {} bytes | {:.2}× |",
            total.0,
            total.1,
            total.0 as f64 / total.1 as f64
        );
    }
    println!(
        "\nBytes: the text of every tool result the policy read (tool lists not included). \
         One run.\n"
    );
}
