//! `LocalExecutor`: jobs run in this process, on the embedded browser pool.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use browserfarm_browser::{Pool, Session};
use browserfarm_protocol::{ErrorKind, Job, JobError, JobOutput, SessionId};
use tokio::sync::Mutex;

use crate::Executor;

/// How long shutdown waits for a session's running job before abandoning it.
const SESSION_CLOSE_GRACE: Duration = Duration::from_secs(5);

pub struct LocalExecutor {
    pool: Pool,
    sessions: std::sync::Mutex<HashMap<SessionId, Arc<Mutex<Session>>>>,
    next_id: AtomicU64,
}

impl LocalExecutor {
    pub fn new(pool: Pool) -> Self {
        LocalExecutor {
            pool,
            sessions: Default::default(),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    fn session(&self, id: &SessionId) -> Result<Arc<Mutex<Session>>, JobError> {
        self.sessions
            .lock()
            .expect("session map poisoned")
            .get(id)
            .cloned()
            .ok_or_else(|| {
                JobError::new(
                    ErrorKind::SessionNotFound,
                    format!("session '{id}' does not exist or was closed"),
                )
            })
    }

    /// Process id of the Chromium serving a session (diagnostics and tests).
    pub async fn browser_pid(&self, id: &SessionId) -> Option<u32> {
        self.session(id).ok()?.lock().await.browser_pid()
    }
}

#[async_trait]
impl Executor for LocalExecutor {
    async fn open_session(&self) -> Result<SessionId, JobError> {
        let session = Session::open(&self.pool).await?;
        let id = SessionId(format!(
            "local-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        ));
        self.sessions
            .lock()
            .expect("session map poisoned")
            .insert(id.clone(), Arc::new(Mutex::new(session)));
        Ok(id)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), JobError> {
        let session = self.session(id)?;
        self.sessions
            .lock()
            .expect("session map poisoned")
            .remove(id);
        // Waits for a running job of this session to finish first.
        session.lock().await.close().await;
        Ok(())
    }

    async fn run(&self, job: Job) -> Result<JobOutput, JobError> {
        job.operation.validate()?;
        match &job.session {
            Some(id) => self.session(id)?.lock().await.run(&job.operation).await,
            None => {
                let mut session = Session::open(&self.pool).await?;
                let result = session.run(&job.operation).await;
                session.close().await;
                result
            }
        }
    }

    async fn shutdown(&self) {
        let sessions: Vec<_> = self
            .sessions
            .lock()
            .expect("session map poisoned")
            .drain()
            .map(|(_, s)| s)
            .collect();
        for session in sessions {
            match tokio::time::timeout(SESSION_CLOSE_GRACE, session.lock_owned()).await {
                Ok(mut guard) => guard.close().await,
                Err(_) => tracing::warn!("a job was still running at shutdown; abandoning it"),
            }
        }
        self.pool.shutdown().await;
    }
}
