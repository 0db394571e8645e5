//! `evaluate`: the caller's JavaScript in the page, awaited, its result returned
//! as JSON. A script that runs too long is stopped by V8 (the page stays
//! usable); failures are worded for the caller (a JavaScript error, a result
//! that is not plain data, a promise that never settles).

use std::time::Duration;

use browserfarm_protocol::{ErrorKind, JobError, JobOutput};

use crate::tab::{Fault, OpError, OpResult, Tab};

/// What `evaluate` is doing, as named in fault messages; the context layer's
/// diagnosis tells an expression that never settles from a stuck tab by it.
pub(crate) const EVALUATING: &str = "evaluating the expression";

/// Runs the caller's expression under V8's termination timeout (`script_timeout`)
/// and explains what went wrong in the caller's terms.
pub(crate) async fn run(
    tab: Tab<'_>,
    expression: &str,
    script_timeout: Duration,
) -> OpResult<JobOutput> {
    let started = std::time::Instant::now();
    let result = tab
        .eval_value(EVALUATING, expression, Some(script_timeout))
        .await;
    // V8 reports a script stopped by the CDP timeout as a bare internal error.
    let overran = started.elapsed() >= script_timeout;
    match result {
        Err(OpError::Fault {
            fault: Fault::Protocol(_),
            ..
        }) if overran => Err(script_timed_out(script_timeout).into()),
        Ok(value) => Ok(JobOutput::Evaluated { value }),
        Err(OpError::Job(e)) if e.kind == ErrorKind::Script => {
            Err(script_error(e, script_timeout).into())
        }
        Err(OpError::Fault {
            fault: Fault::Protocol(msg),
            ..
        }) => Err(JobError::new(
            ErrorKind::Script,
            format!(
                "the result could not be returned ({msg}); return plain JSON data, \
                 e.g. wrap it in JSON.parse(JSON.stringify(...)) or pick fields"
            ),
        )
        .into()),
        Err(other) => Err(other),
    }
}

fn script_timed_out(script_timeout: Duration) -> JobError {
    JobError::new(
        ErrorKind::Timeout,
        format!(
            "the script ran longer than {} ms and was stopped; the page is still usable",
            script_timeout.as_millis()
        ),
    )
}

fn script_error(e: JobError, script_timeout: Duration) -> JobError {
    if e.message.contains("Execution was terminated") {
        script_timed_out(script_timeout)
    } else {
        JobError::new(
            ErrorKind::Script,
            format!("JavaScript error: {}", e.message),
        )
    }
}
