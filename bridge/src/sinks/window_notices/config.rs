//! `notify.windows:` → the `window-notices` sink: member accounts from Organizations (the task
//! role, or `organization.role_arn` assumed) and the listed ones, nodes from the tagging API (the
//! member role),
//! scans from the evidence bucket, tickets from the ServiceNow tables, claims in the claims
//! bucket, digests on the board `notify` built.

use std::sync::Arc;
use std::time::Duration;

use super::accounts::{AwsOrgTree, MemberAccounts, OrgTree};
use super::sources::{S3Scans, ServiceNowTickets};
use super::{Parts, Scans, WindowNotices};
use crate::claims::S3Claims;
use crate::config::Action;
use crate::enrich::tags::AwsTags;
use crate::sinks::Builder;
use crate::start::{self, StartError, s3_client};

/// How long a task holds a window notice before another may take it over: far longer than
/// looking up the nodes of one window and sending its digests.
const NOTICE_LEASE: Duration = Duration::from_secs(600);

/// Registers `window-notices`, when the file has `notify.windows:`.
pub fn register(b: &mut Builder<'_>) -> Result<(), StartError> {
    let cfg = b.cfg;
    let (Some(w), Some((board, _))) = (
        cfg.notify
            .as_ref()
            .and_then(|n| n.windows.as_ref())
            .filter(|_| b.wants(Action::WindowNotices)),
        &b.board,
    ) else {
        return Ok(());
    };
    let s3 = s3_client(b.sdk);
    let scans = match &w.evidence_bucket {
        Some(_) => Some(Arc::new(S3Scans::new(
            s3.clone(),
            b.resolved.get("notify.windows.evidence_bucket")?.to_owned(),
            w.evidence_prefix.clone(),
        )) as Arc<dyn Scans>),
        None => None,
    };
    let mut tables = vec![(start::servicenow(cfg, b.resolved)?, cfg.servicenow.table.clone())];
    if cfg.tickets.table != cfg.servicenow.table {
        tables.push((
            start::servicenow_for(cfg, b.resolved, &cfg.tickets.table)?,
            cfg.tickets.table.clone(),
        ));
    }
    let tree = w
        .organization
        .as_ref()
        .map(|o| Arc::new(AwsOrgTree::new(b.sdk.clone(), o.role_arn.clone())) as Arc<dyn OrgTree>);
    let parts = Parts {
        accounts: Arc::new(MemberAccounts::new(w, tree, b.clock.clone())),
        fleet: Arc::new(AwsTags::new(b.sdk.clone(), cfg.enrich.member_role_name.clone())),
        scans,
        tickets: Some(Arc::new(ServiceNowTickets::new(tables))),
        owners: Arc::new(crate::enrich::owners::chain(cfg, b.resolved, Some(b.sdk))?),
        claims: Arc::new(S3Claims::new(
            s3,
            b.resolved.get("notify.windows.claims_bucket")?.to_owned(),
            "window-notices/",
            NOTICE_LEASE,
        )),
        board: board.clone(),
    };
    let sink = WindowNotices::new(
        &cfg.schedule,
        w.clone(),
        &cfg.enrich.patch_group_tag,
        b.default_owner(),
        parts,
        b.clock.clone(),
    );
    b.sinks = std::mem::take(&mut b.sinks).with(Action::WindowNotices, Arc::new(sink));
    Ok(())
}
