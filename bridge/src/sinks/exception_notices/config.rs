//! `exception-notices` from `notify:` (the digest board `notify` built), `exceptions:`, the owner
//! chain and a claims bucket: `notify.windows.claims_bucket`, else `servicenow.claims_bucket`.

use std::sync::Arc;
use std::time::Duration;

use super::{ExceptionNotices, Parts};
use crate::claims::{Claims, MemoryClaims, MemoryTask, S3Claims};
use crate::config::Action;
use crate::sinks::Builder;
use crate::start::{StartError, s3_client};

/// How long a task holds an exception notice before another may take it over: far longer than
/// sending a handful of digests.
const NOTICE_LEASE: Duration = Duration::from_secs(600);

/// Where the claims go in the bucket: under the prefix the central stack lets the task write and
/// list (`window-notices/`, its only grant besides the tickets'); a prefix of its own would need a
/// grant of its own in the central template.
pub const CLAIMS_PREFIX: &str = "window-notices/exceptions/";

/// Registers `exception-notices`, when the file has `notify:`.
pub fn register(b: &mut Builder<'_>) -> Result<(), StartError> {
    let cfg = b.cfg;
    let Some((board, _)) = b.board.as_ref().filter(|_| b.wants(Action::ExceptionNotices)) else {
        return Ok(());
    };
    let bucket = if cfg.notify.as_ref().is_some_and(|n| n.windows.is_some()) {
        Some(b.resolved.get("notify.windows.claims_bucket")?)
    } else if cfg.servicenow.claims_bucket.is_some() {
        Some(b.resolved.get("servicenow.claims_bucket")?)
    } else {
        None
    };
    let claims: Arc<dyn Claims> = match bucket {
        Some(bucket) => Arc::new(S3Claims::new(
            s3_client(b.sdk),
            bucket.to_owned(),
            CLAIMS_PREFIX,
            NOTICE_LEASE,
        )),
        None => {
            // Without a bucket every task keeps its own claims: one task sends each notice once,
            // several tasks once each.
            if !cfg.exceptions.is_empty() {
                tracing::warn!(
                    "No claims bucket (notify.windows.claims_bucket or servicenow.claims_bucket): each bridge task sends its own exception notices"
                );
            }
            Arc::new(MemoryTask {
                store: Arc::new(MemoryClaims::default()),
                id: 0,
            })
        }
    };
    let sink = ExceptionNotices::new(
        cfg.exceptions.clone(),
        cfg.enrich.owner_tags.clone(),
        b.default_owner(),
        Parts {
            owners: Arc::new(crate::enrich::owners::chain(cfg, b.resolved, Some(b.sdk))?),
            claims,
            board: board.clone(),
        },
        b.clock.clone(),
    );
    b.sinks = std::mem::take(&mut b.sinks).with(Action::ExceptionNotices, Arc::new(sink));
    Ok(())
}
