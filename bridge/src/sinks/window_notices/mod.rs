//! `window-notices`: before each install window, one notice per owner with nodes in it (when,
//! in local time; which nodes; what each node's last scan found missing); after it, one summary
//! per owner (each node patched, failed or not patched, and the tickets opened or resolved since
//! the window opened).
//!
//! It runs on the escalation sweep's tick (one message per `tickets.sweep_minutes`), from the
//! windows of `schedule:` (the generator writes them from the policy's schedule model, per
//! region). At a tick at `now`:
//! - a window opening at `o` is due for its notice when `o - lead_hours <= now < o`;
//! - its summary is due when `o + duration + summary_after_minutes <= now`, for a day after.
//!
//! Each due notice is claimed ([`crate::claims`], ADR 014) before anything is sent, so with
//! several bridge tasks (and redelivered or overlapping ticks) each owner hears once per window.
//! The idempotency key of an owner's notice is fixed by owner, window, region and opening, so a
//! re-send after a crash carries the same key. The member accounts come from
//! [`accounts::MemberAccounts`] (the member StackSet's target OUs read from Organizations, cached,
//! and those listed by hand), nodes from [`Fleet`] (the tagging API by patch group tag in each
//! member account, cached), owners from the owner chain, scans from [`Scans`] (the evidence
//! bucket's inventory sync), tickets from [`TicketLog`].

pub mod accounts;
pub mod config;
pub mod sources;

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use patchplane_bridge_config::sync::{MissingPatch, PatchSummary};
use patchplane_bridge_config::window::WindowSchedule;
use patchplane_bridge_config::{ScheduleConfig, WindowNoticesConfig};
use patchplane_integrations::retry::Failure;

use self::accounts::MemberAccounts;
use crate::claims::{Claims, Once, once};
use crate::decode::Decoded;
use crate::enrich::owners::OwnerChain;
use crate::enrich::{Context, EnrichError, Tags};
use crate::sinks::common::{enrich_failure, on_sweep};
use crate::sinks::notify::{Digest, DigestBoard, Heading, Item};
use crate::sinks::{ActionSink, Clock, Delivery};

/// A boxed future.
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A managed node of a patch group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `i-…` or `mi-…`.
    pub id: String,
    /// Its tags.
    pub tags: Tags,
}

/// Where the nodes of patch groups come from.
pub trait Fleet: Send + Sync {
    /// The nodes in `account` and `region` whose `tag_key` is one of `groups`.
    fn nodes<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        tag_key: &'a str,
        groups: &'a [String],
    ) -> Fut<'a, Result<Vec<Node>, EnrichError>>;
}

/// What the last scan reported on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Missing (and failed) patches.
    pub missing: Vec<MissingPatch>,
    /// When the inventory captured it.
    pub captured: Option<Timestamp>,
}

/// Where scans come from.
pub trait Scans: Send + Sync {
    /// The node's missing patches at its last scan; `None` when nothing is on record.
    fn missing<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        node: &'a str,
    ) -> Fut<'a, Result<Option<Scan>, Failure>>;
    /// The node's patch summary (last operation, counts); `None` when nothing is on record.
    fn summary<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        node: &'a str,
    ) -> Fut<'a, Result<Option<PatchSummary>, Failure>>;
}

/// A ticket that changed on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketChange {
    /// The node.
    pub node: String,
    /// `INC…`.
    pub number: String,
    /// `opened` or `resolved`.
    pub change: &'static str,
}

/// Where ticket changes come from.
pub trait TicketLog: Send + Sync {
    /// Tickets of nodes in `account` and `region` opened or resolved since `since`.
    fn since<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        since: Timestamp,
    ) -> Fut<'a, Result<Vec<TicketChange>, Failure>>;
}

/// Before or after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// The notice before the window.
    Before,
    /// The summary after it.
    After,
}

/// A notice that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Before or after.
    pub phase: Phase,
    /// The maintenance window's name.
    pub window: String,
    /// Its patch groups.
    pub patch_groups: Vec<String>,
    /// The region.
    pub region: String,
    /// When it opens.
    pub opening: Timestamp,
    /// The same, local (`Tue 2026-12-08 02:00 America/New_York`).
    pub local: String,
}

impl Due {
    /// The claim key, fixed by phase, window, region and opening.
    pub fn key(&self) -> String {
        let phase = match self.phase {
            Phase::Before => "before",
            Phase::After => "after",
        };
        format!("{phase}/{}/{}/{}", self.window, self.region, self.opening.as_second())
    }
}

struct Window {
    name: String,
    groups: Vec<String>,
    schedule: WindowSchedule,
    duration: SignedDuration,
}

/// Where the parts come from.
pub struct Parts {
    /// The member accounts whose nodes are looked up.
    pub accounts: Arc<MemberAccounts>,
    /// Nodes.
    pub fleet: Arc<dyn Fleet>,
    /// Last scans, if an evidence bucket is configured.
    pub scans: Option<Arc<dyn Scans>>,
    /// Ticket changes, for summaries.
    pub tickets: Option<Arc<dyn TicketLog>>,
    /// The owner chain.
    pub owners: Arc<OwnerChain>,
    /// Claims every task sees.
    pub claims: Arc<dyn Claims>,
    /// Where digests go.
    pub board: Arc<DigestBoard>,
}

/// (account, region, patch groups joined): a cached node list.
type NodesKey = (String, String, String);

/// The sink.
pub struct WindowNotices {
    windows: Vec<Window>,
    zones: BTreeMap<String, jiff::tz::TimeZone>,
    cfg: WindowNoticesConfig,
    patch_group_tag: String,
    default_owner: String,
    parts: Parts,
    clock: Clock,
    /// Keys this process knows are done (saves a LIST per tick).
    done: Mutex<BTreeSet<String>>,
    /// Digests sent per notifier (a retry after a partial failure sends only the rest).
    sent: Mutex<BTreeMap<String, BTreeSet<usize>>>,
    nodes: Mutex<BTreeMap<NodesKey, (Instant, Vec<Node>)>>,
    /// One tick at a time in this process: a claim this task holds is re-entrant (a retry by
    /// its holder), so two of its own ticks must not run it at once.
    ticking: tokio::sync::Mutex<()>,
}

/// The most nodes or patches listed per line before "and N more".
const LIST_AT_MOST: usize = 10;

impl WindowNotices {
    /// Notices for the windows of `schedule`, as `cfg` says.
    pub fn new(
        schedule: &ScheduleConfig,
        cfg: WindowNoticesConfig,
        patch_group_tag: &str,
        default_owner: String,
        parts: Parts,
        clock: Clock,
    ) -> Self {
        Self {
            windows: schedule
                .windows
                .iter()
                .filter_map(|w| {
                    Some(Window {
                        name: w.name.clone(),
                        groups: w.patch_groups.clone(),
                        schedule: WindowSchedule {
                            cron: patchplane_bridge_config::cron::Cron::parse(&w.cron).ok()?,
                            offset_days: w.offset_days,
                        },
                        duration: SignedDuration::from_hours(i64::from(w.duration_hours)),
                    })
                })
                .collect(),
            zones: schedule
                .zones
                .iter()
                .filter_map(|(r, z)| jiff::tz::TimeZone::get(z).ok().map(|tz| (r.clone(), tz)))
                .collect(),
            cfg,
            patch_group_tag: patch_group_tag.to_owned(),
            default_owner,
            parts,
            clock,
            done: Mutex::default(),
            sent: Mutex::default(),
            nodes: Mutex::default(),
            ticking: tokio::sync::Mutex::new(()),
        }
    }

    /// The notices due at `now`.
    pub fn due(&self, now: Timestamp) -> Vec<Due> {
        let lead = SignedDuration::from_hours(i64::from(self.cfg.lead_hours));
        let after = SignedDuration::from_mins(i64::from(self.cfg.summary_after_minutes));
        let grace = SignedDuration::from_hours(24);
        let mut out = Vec::new();
        for (region, tz) in &self.zones {
            for w in &self.windows {
                let due = |phase, z: &jiff::Zoned| Due {
                    phase,
                    window: w.name.clone(),
                    patch_groups: w.groups.clone(),
                    region: region.clone(),
                    opening: z.timestamp(),
                    local: format!(
                        "{} {}",
                        z.strftime("%a %Y-%m-%d %H:%M"),
                        tz.iana_name().unwrap_or("local")
                    ),
                };
                if !lead.is_zero()
                    && let Some(z) = patchplane_bridge_config::window::openings(&w.schedule, tz, now, 1)
                        .into_iter()
                        .next()
                    && z.timestamp().checked_sub(lead).is_ok_and(|t| t <= now)
                {
                    out.push(due(Phase::Before, &z));
                }
                if self.cfg.summary && !w.duration.is_zero() {
                    let reach = w.duration + after + grace;
                    let from = now.checked_sub(reach).unwrap_or(now);
                    for z in patchplane_bridge_config::window::openings(&w.schedule, tz, from, 4) {
                        let ready = z.timestamp().checked_add(w.duration + after).unwrap_or(now);
                        if ready <= now {
                            out.push(due(Phase::After, &z));
                        }
                    }
                }
            }
        }
        out
    }

    /// Sends what is due at the clock's time; returns how many notices it sent.
    pub async fn tick(&self) -> Result<usize, Failure> {
        let _one = self.ticking.lock().await;
        let now = (self.clock)();
        let mut sent = 0;
        let mut retry = None;
        for due in self.due(now) {
            let key = due.key();
            match once(self.parts.claims.as_ref(), &self.done, key.clone(), self.send(&due)).await? {
                Once::Sent(n) => sent += n,
                Once::Skipped => {}
                Once::Failed(f) => {
                    tracing::warn!(notice = %key, error = %f, "Window notice not sent");
                    retry = Some(f);
                }
            }
        }
        retry.map_or(Ok(sent), Err)
    }

    async fn nodes(&self, account: &str, region: &str, groups: &[String]) -> Result<Vec<Node>, Failure> {
        let key = (account.to_owned(), region.to_owned(), groups.join(","));
        let ttl = Duration::from_secs(60 * self.cfg.nodes_cache_minutes);
        if let Ok(c) = self.nodes.lock()
            && let Some((at, n)) = c.get(&key)
            && at.elapsed() < ttl
        {
            return Ok(n.clone());
        }
        let nodes = self
            .parts
            .fleet
            .nodes(account, region, &self.patch_group_tag, groups)
            .await
            .map_err(enrich_failure)?;
        if let Ok(mut c) = self.nodes.lock() {
            c.insert(key, (Instant::now(), nodes.clone()));
        }
        Ok(nodes)
    }

    /// Builds and sends the owners' digests of `due`; returns how many were sent.
    async fn send(&self, due: &Due) -> Result<usize, Failure> {
        // owner → items, in account and node order.
        let mut by_owner: BTreeMap<String, Vec<Item>> = BTreeMap::new();
        for account in &self.parts.accounts.get().await? {
            let nodes = match self.nodes(account, &due.region, &due.patch_groups).await {
                Ok(nodes) => nodes,
                // A permanent refusal in one account (the tagging API denied there, say) must not
                // keep the other accounts' owners from their notice. A retryable failure retries
                // it whole: throttling, and a member role auto-deployment has not created yet (the
                // SDK reports a failed AssumeRole as a dispatch failure, retryable).
                Err(f) if !f.is_retryable() => {
                    tracing::warn!(account = %account, notice = %due.key(), error = %f, "Account skipped: its nodes cannot be read");
                    continue;
                }
                Err(f) => return Err(f),
            };
            let changes = match (&due.phase, &self.parts.tickets) {
                (Phase::After, Some(t)) if !nodes.is_empty() => t.since(account, &due.region, due.opening).await?,
                _ => Vec::new(),
            };
            for node in nodes {
                let owner = self
                    .parts
                    .owners
                    .resolve(account, &due.region, &node.id, &node.tags)
                    .await
                    .map_err(enrich_failure)?
                    .map_or_else(|| self.default_owner.clone(), |f| f.owner);
                let item = match due.phase {
                    Phase::Before => self.before(account, &due.region, &node).await?,
                    Phase::After => self.after(account, due, &node, &changes).await?,
                };
                by_owner.entry(owner).or_default().push(item);
            }
        }
        let group = format!(
            "{}:{}:{}:{}",
            match due.phase {
                Phase::Before => "before",
                Phase::After => "after",
            },
            due.window,
            due.region,
            due.opening.as_second()
        );
        let mut sent = 0;
        for (owner, items) in by_owner {
            let heading = match due.phase {
                Phase::Before => Heading {
                    title: format!("Patching {}: {} node(s) of {owner}", due.local, items.len()),
                    summary: format!(
                        "Window {} in {} opens {} ({} UTC). Each node, with what its last scan found missing.",
                        due.window, due.region, due.local, due.opening
                    ),
                },
                Phase::After => {
                    let count = |s: &str| items.iter().filter(|i| i.status == s).count();
                    Heading {
                        title: format!(
                            "Patched {}: {} patched, {} failed, {} not patched ({owner})",
                            due.local,
                            count("patched"),
                            count("failed"),
                            count("not patched")
                        ),
                        summary: format!(
                            "Window {} in {} opened {}. Each node's result, and the tickets opened or resolved since.",
                            due.window, due.region, due.local
                        ),
                    }
                }
            };
            let d = Digest {
                key: format!("patchplane:{owner}:{group}:0"),
                owner,
                group: group.clone(),
                items,
                redelivered: false,
                heading: Some(heading),
            };
            let mut done = self
                .sent
                .lock()
                .map(|s| s.get(&d.key).cloned().unwrap_or_default())
                .unwrap_or_default();
            let r = self.parts.board.send_now(&d, &mut done).await;
            if let Ok(mut s) = self.sent.lock() {
                s.insert(d.key.clone(), done);
            }
            r?;
            sent += 1;
            tracing::info!(digest = %d.key, nodes = d.items.len(), "Window notice sent");
        }
        Ok(sent)
    }

    async fn before(&self, account: &str, region: &str, node: &Node) -> Result<Item, Failure> {
        let scan = match &self.parts.scans {
            Some(s) => s.missing(account, region, &node.id).await?,
            None => None,
        };
        let (status, line) = match scan {
            None => ("no scan".to_owned(), format!("{account}: no scan on record")),
            Some(s) => {
                let at = s.captured.map(|t| format!(" (scan of {t})")).unwrap_or_default();
                if s.missing.is_empty() {
                    ("up to date".to_owned(), format!("{account}: nothing missing{at}"))
                } else {
                    let list = s
                        .missing
                        .iter()
                        .take(LIST_AT_MOST)
                        .map(|m| match m.severity.as_str() {
                            "" => m.id.clone(),
                            sev => format!("{} ({sev})", m.id),
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    let more = s.missing.len().saturating_sub(LIST_AT_MOST);
                    let more = if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    (
                        format!("{} missing", s.missing.len()),
                        format!("{account}: {list}{more}{at}"),
                    )
                }
            }
        };
        Ok(Item {
            node: Some(node.id.clone()),
            status,
            line,
        })
    }

    async fn after(&self, account: &str, due: &Due, node: &Node, changes: &[TicketChange]) -> Result<Item, Failure> {
        let summary = match &self.parts.scans {
            Some(s) => s.summary(account, &due.region, &node.id).await?,
            None => None,
        };
        let (status, mut line) = match summary {
            Some(p)
                if p.operation.eq_ignore_ascii_case("install") && p.operation_end.is_some_and(|t| t >= due.opening) =>
            {
                if p.failed > 0 {
                    (
                        "failed",
                        format!("{account}: {} patch(es) failed, {} still missing", p.failed, p.missing),
                    )
                } else {
                    ("patched", format!("{account}: installed; {} still missing", p.missing))
                }
            }
            Some(p) => (
                "not patched",
                format!(
                    "{account}: no install since the window opened (last: {} {})",
                    if p.operation.is_empty() { "-" } else { &p.operation },
                    p.operation_end.map(|t| t.to_string()).unwrap_or_default()
                ),
            ),
            None => ("not patched", format!("{account}: no result on record")),
        };
        let tickets: Vec<String> = changes
            .iter()
            .filter(|c| c.node == node.id)
            .map(|c| format!("{} {}", c.number, c.change))
            .collect();
        if !tickets.is_empty() {
            line.push_str("; tickets: ");
            line.push_str(&tickets.join(", "));
        }
        Ok(Item {
            node: Some(node.id.clone()),
            status: status.to_owned(),
            line,
        })
    }
}

impl ActionSink for WindowNotices {
    fn deliver<'a>(&'a self, d: &'a Decoded, _ctx: &'a Context) -> Delivery<'a> {
        Box::pin(on_sweep(d, "window-notices", self.tick()))
    }
}

#[cfg(test)]
mod tests;
