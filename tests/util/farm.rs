//! A farm on one machine from the test's side: real `browserfarm agent`
//! processes on loopback ports, and a gateway (`browserfarm mcp --node …`) over
//! stdio in front of them.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Child;

use super::process::{browserfarm, free_port, signal, wait_for_port};
use super::stdio::McpProcess;

/// A running agent; stopped with SIGTERM (so it closes its browsers) when dropped.
pub struct Agent {
    child: Child,
    port: u16,
}

impl Agent {
    pub async fn start(extra: &[&str]) -> Agent {
        Agent::start_on(free_port(), extra).await
    }

    pub async fn start_on(port: u16, extra: &[&str]) -> Agent {
        let child = browserfarm(["agent", "--listen", &format!("127.0.0.1:{port}")])
            // Small nodes: several farms run at once on a 2-core machine. Later
            // arguments win, so `extra` can override these.
            .args(["--min-browsers", "1", "--max-browsers", "2"])
            .args(extra)
            .env("RUST_LOG", "warn,chromiumoxide=off")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn agent");
        let agent = Agent { child, port };
        wait_for_port(port, "agent").await;
        agent
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn name(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The agent's `GET /health` body (an agent started without `--token`).
    pub async fn health(&self) -> serde_json::Value {
        reqwest::get(format!("{}/health", self.url()))
            .await
            .expect("agent answers /health")
            .json()
            .await
            .expect("/health is JSON")
    }

    /// Sends `name` (`TERM`, `KILL`, `STOP`, `CONT`) to the agent, if it runs.
    pub fn signal(&self, name: &str) {
        if let Some(pid) = self.child.id() {
            signal(pid, name);
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("agent running")
    }

    /// SIGTERM, then waits for the agent to exit.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("agent exited after SIGTERM")
            .unwrap()
    }

    pub async fn kill9(mut self) {
        self.signal("KILL");
        let _ = self.child.wait().await;
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.signal("TERM");
        // A stopped agent (a test that failed mid-SIGSTOP) only sees TERM once woken.
        self.signal("CONT");
    }
}

/// A gateway over `agents` only (no local pool), unless `extra` says otherwise.
pub async fn gateway(agents: &[&Agent], extra: &[&str]) -> McpProcess {
    let mut args: Vec<String> = vec!["--local-pool=false".to_owned()];
    for agent in agents {
        args.extend(["--node".to_owned(), agent.url()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    McpProcess::start_with(&refs).await
}
