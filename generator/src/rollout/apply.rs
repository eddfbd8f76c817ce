//! Applying a plan: one call per [`Change`], each mutating call with an `OperationId` chosen before
//! its first attempt and reused by every retry, then a wait for the operation to end.

use std::time::Duration;

use super::api::{Api, ApiError, ErrorKind, InstanceResult};
use super::diff::Change;
use super::request::Desired;

/// How rollout waits and retries.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Between two DescribeStackSetOperation calls.
    pub poll: Duration,
    /// First backoff after `OperationInProgressException`; doubles, capped at 64×.
    pub backoff: Duration,
    /// Attempts of one call before giving up.
    pub attempts: u32,
    /// Longest wait for one operation.
    pub timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(5),
            backoff: Duration::from_secs(5),
            attempts: 12,
            timeout: Duration::from_secs(3 * 3600),
        }
    }
}

/// Why a rollout did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    /// A call failed.
    #[error("{stack_set}: {call} failed: {error}")]
    Call {
        /// StackSet.
        stack_set: String,
        /// The API call.
        call: &'static str,
        /// The error.
        #[source]
        error: ApiError,
    },
    /// An operation ended FAILED or STOPPED.
    #[error("{stack_set}: operation {operation} ended {status}{}", if reason.is_empty() { String::new() } else { format!(": {reason}") })]
    Failed {
        /// StackSet.
        stack_set: String,
        /// Operation id.
        operation: String,
        /// Final status.
        status: String,
        /// Reason.
        reason: String,
        /// Per-instance results that did not succeed.
        instances: Vec<InstanceResult>,
    },
    /// An operation did not finish in time.
    #[error("{stack_set}: operation {operation} still {status} after {waited:?}")]
    Timeout {
        /// StackSet.
        stack_set: String,
        /// Operation id.
        operation: String,
        /// Last status.
        status: String,
        /// How long it waited.
        waited: Duration,
    },
}

/// A fresh operation id: unique enough across runs and retries of different calls, reused by the
/// retries of one call.
pub fn new_operation_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "patchplane-{nanos:x}-{:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Jitter in [0.5, 1.5) of `d`, from the clock (no RNG dependency for one multiplication).
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|x| x.subsec_nanos())
        .unwrap_or(0);
    d.mul_f64(0.5 + f64::from(nanos % 1000) / 1000.0)
}

/// Progress reporting, so the CLI can draw bars and tests can stay quiet.
pub trait Progress {
    /// A call or operation started.
    fn start(&self, stack_set: &str, what: &str);
    /// The current operation's status.
    fn status(&self, stack_set: &str, status: &str);
    /// Done with the current step.
    fn finish(&self, stack_set: &str, outcome: &str);
}

/// No progress output.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: &str) {}
    fn status(&self, _: &str, _: &str) {}
    fn finish(&self, _: &str, _: &str) {}
}

/// Submits a mutating call with retries that reuse `op`, then waits for its operation.
async fn run_operation<A, F, Fut>(
    api: &A,
    d: &Desired,
    call: &'static str,
    timing: &Timing,
    progress: &dyn Progress,
    submit: F,
) -> Result<(), RolloutError>
where
    A: Api,
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<String, ApiError>>,
{
    let op = new_operation_id();
    progress.start(&d.name, call);
    let mut delay = timing.backoff;
    let mut attempt = 0;
    // CloudFormation may answer with an id of its own (moto does); follow whichever it returns.
    let id = loop {
        attempt += 1;
        match submit(op.clone()).await {
            Ok(id) => break id,
            Err(e) if e.kind == ErrorKind::InProgress && attempt < timing.attempts => {
                progress.status(
                    &d.name,
                    &format!("another operation is in progress, retrying {op} in {delay:?}"),
                );
                tokio::time::sleep(jitter(delay)).await;
                delay = (delay * 2).min(timing.backoff * 64);
            }
            Err(error) => {
                return Err(RolloutError::Call {
                    stack_set: d.name.clone(),
                    call,
                    error,
                });
            }
        }
    };
    let started = std::time::Instant::now();
    loop {
        let o = api.operation(d, &id).await.map_err(|error| RolloutError::Call {
            stack_set: d.name.clone(),
            call: "DescribeStackSetOperation",
            error,
        })?;
        progress.status(&d.name, &o.status);
        if o.finished() {
            if o.status == "SUCCEEDED" {
                progress.finish(&d.name, "SUCCEEDED");
                return Ok(());
            }
            let instances = api
                .results(d, &id)
                .await
                .map_err(|error| RolloutError::Call {
                    stack_set: d.name.clone(),
                    call: "ListStackSetOperationResults",
                    error,
                })?
                .into_iter()
                .filter(|r| r.status != "SUCCEEDED")
                .collect();
            progress.finish(&d.name, &o.status);
            return Err(RolloutError::Failed {
                stack_set: d.name.clone(),
                operation: id,
                status: o.status,
                reason: o.reason,
                instances,
            });
        }
        if started.elapsed() > timing.timeout {
            return Err(RolloutError::Timeout {
                stack_set: d.name.clone(),
                operation: id,
                status: o.status,
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(timing.poll).await;
    }
}

/// Applies `changes` in order: create, update, add, remove.
pub async fn apply<A: Api>(
    api: &A,
    d: &Desired,
    changes: &[Change],
    timing: &Timing,
    progress: &dyn Progress,
) -> Result<(), RolloutError> {
    for c in changes {
        match c {
            Change::CreateStackSet => {
                progress.start(&d.name, "CreateStackSet");
                api.create_stack_set(d).await.map_err(|error| RolloutError::Call {
                    stack_set: d.name.clone(),
                    call: "CreateStackSet",
                    error,
                })?;
                progress.finish(&d.name, "created");
            }
            Change::Update { targets, .. } => {
                run_operation(api, d, "UpdateStackSet", timing, progress, |op| async move {
                    api.update_stack_set(d, targets, &op).await
                })
                .await?
            }
            Change::AddInstances(t) => {
                run_operation(api, d, "CreateStackInstances", timing, progress, |op| async move {
                    api.create_instances(d, t, &op).await
                })
                .await?
            }
            Change::RemoveInstances(t) => {
                run_operation(api, d, "DeleteStackInstances", timing, progress, |op| async move {
                    api.delete_instances(d, t, &op).await
                })
                .await?
            }
        }
    }
    Ok(())
}
