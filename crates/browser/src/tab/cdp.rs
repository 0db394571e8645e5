//! CDP calls under deadlines, and the classification of what went wrong.
//!
//! chromiumoxide does not apply its request timeout to page commands, so every
//! command issued here goes through [`Tab::exec`], which wraps it in
//! `tokio::time::timeout`. Failures are split into the caller's problem
//! ([`OpError::Job`], reported as is) and Chromium's ([`OpError::Fault`]), which
//! the context layer diagnoses and recovers from.

use std::time::Duration;

use browserfarm_protocol::{ErrorKind, JobError};
use chromiumoxide::Page;
use chromiumoxide::cdp::js_protocol::runtime::{EvaluateParams, TimeDelta};
use chromiumoxide::error::CdpError;
use chromiumoxide::types::{Command, Method, MethodId};
use serde::de::DeserializeOwned;

use crate::process::Gate;

/// Something Chromium did wrong while serving a command.
#[derive(Debug)]
pub(crate) enum Fault {
    /// No answer within the deadline: the tab or the whole browser may be hung.
    Timeout,
    /// The CDP connection is gone: Chromium exited or crashed.
    Disconnected(String),
    /// Chromium answered with an error (target gone, context destroyed…).
    Protocol(String),
    /// The tab's renderer crashed (`Inspector.targetCrashed`).
    TabCrashed,
}

/// Why an operation failed.
#[derive(Debug)]
pub(crate) enum OpError {
    /// A failure to report to the caller as is.
    Job(JobError),
    /// A browser fault; the session decides what it means and recovers.
    Fault { during: &'static str, fault: Fault },
    /// The tab is stuck in a page load that will not finish: the session replaces
    /// it (same context, cookies kept) and reports the error.
    ResetTab(JobError),
}

impl From<JobError> for OpError {
    fn from(e: JobError) -> Self {
        OpError::Job(e)
    }
}

pub(crate) type OpResult<T> = Result<T, OpError>;

fn classify(e: CdpError) -> Fault {
    match e {
        CdpError::Ws(e) => Fault::Disconnected(e.to_string()),
        CdpError::Io(e) => Fault::Disconnected(e.to_string()),
        CdpError::ChannelSendError(e) => Fault::Disconnected(e.to_string()),
        CdpError::NoResponse => Fault::Disconnected("no response from Chromium".into()),
        CdpError::Timeout => Fault::Timeout,
        other => Fault::Protocol(other.to_string()),
    }
}

/// The session's tab plus the deadline for single commands.
#[derive(Clone, Copy)]
pub(crate) struct Tab<'a> {
    pub page: &'a Page,
    pub cdp_timeout: Duration,
    /// What the tab's event watcher collected (dialogs, console, network).
    pub watch: &'a super::watch::PageWatch,
    /// The refs `snapshot` handed out for this tab.
    pub refs: &'a std::sync::Mutex<super::refs::RefMap>,
    /// The host policy the tab's requests pass through, if any.
    pub gate: Option<&'a Gate>,
}

/// A CDP command sent as plain JSON with a JSON answer. For replies whose typed
/// form in chromiumoxide would break on fields newer Chromium adds (the
/// accessibility tree's property enums), and for calls it has no type for.
#[derive(Debug)]
pub(crate) struct Raw {
    pub method: &'static str,
    pub params: serde_json::Value,
}

impl serde::Serialize for Raw {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.params.serialize(s)
    }
}

impl Method for Raw {
    fn identifier(&self) -> MethodId {
        self.method.into()
    }
}

impl Command for Raw {
    type Response = serde_json::Value;
}

/// Builds a [`Raw`] command.
pub(crate) fn raw(method: &'static str, params: serde_json::Value) -> Raw {
    Raw { method, params }
}

impl<'a> Tab<'a> {
    /// Runs a [`Raw`] command under the command deadline.
    pub async fn raw(
        &self,
        during: &'static str,
        method: &'static str,
        params: serde_json::Value,
    ) -> OpResult<serde_json::Value> {
        self.exec(during, raw(method, params)).await
    }

    /// Runs one CDP command under the command deadline.
    pub async fn exec<C: Command>(&self, during: &'static str, cmd: C) -> OpResult<C::Response> {
        self.exec_within(during, self.cdp_timeout, cmd).await
    }

    /// Runs one CDP command under an explicit deadline.
    pub async fn exec_within<C: Command>(
        &self,
        during: &'static str,
        deadline: Duration,
        cmd: C,
    ) -> OpResult<C::Response> {
        // A command to a tab whose renderer died gets no answer: fail it when
        // the crash is reported rather than at the deadline.
        let answer = tokio::select! {
            biased;
            answer = tokio::time::timeout(deadline, self.page.execute(cmd)) => answer,
            () = self.watch.crash_signal() => {
                return Err(OpError::Fault { during, fault: Fault::TabCrashed });
            }
        };
        match answer {
            Ok(Ok(resp)) => Ok(resp.result),
            Ok(Err(e)) => Err(OpError::Fault {
                during,
                fault: classify(e),
            }),
            Err(_) => Err(OpError::Fault {
                during,
                fault: Fault::Timeout,
            }),
        }
    }

    /// Evaluates trusted helper JavaScript (ours, not the caller's) in the page's
    /// main world and deserialises its JSON result. One round trip.
    pub async fn eval<T: DeserializeOwned>(&self, during: &'static str, js: &str) -> OpResult<T> {
        let value = self.eval_value(during, js, None).await?;
        serde_json::from_value(value).map_err(|e| {
            OpError::Job(JobError::internal(format!(
                "unexpected reply while {during}: {e}"
            )))
        })
    }

    /// Evaluates an expression, awaiting promises, and returns its JSON value
    /// (`null` for `undefined`). `script_timeout` makes V8 terminate long-running
    /// synchronous code so an infinite loop does not take the tab down.
    pub async fn eval_value(
        &self,
        during: &'static str,
        js: &str,
        script_timeout: Option<Duration>,
    ) -> OpResult<serde_json::Value> {
        let mut params = EvaluateParams::new(js);
        params.return_by_value = Some(true);
        params.await_promise = Some(true);
        params.user_gesture = Some(true);
        let deadline = match script_timeout {
            Some(t) => {
                params.timeout = Some(TimeDelta::new(t.as_millis() as f64));
                t + self.cdp_timeout
            }
            None => self.cdp_timeout,
        };
        let reply = self.exec_within(during, deadline, params).await?;
        if let Some(ex) = reply.exception_details {
            let detail = ex
                .exception
                .as_ref()
                .and_then(|o| {
                    o.description
                        .clone()
                        .or_else(|| o.value.as_ref().map(|v| v.to_string()))
                })
                .unwrap_or(ex.text);
            return Err(OpError::Job(JobError::new(ErrorKind::Script, detail)));
        }
        Ok(reply.result.value.unwrap_or(serde_json::Value::Null))
    }
}

/// Quotes a string as a JavaScript literal (JSON strings are valid JS).
pub(crate) fn js_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings always serialise")
}
