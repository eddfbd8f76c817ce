//! Point in time from a versioned bucket (ADR 015).
//!
//! The resource data sync overwrites one object per node and type; with versioning on, the
//! object's versions are its history. A [`Walk`] goes through one object's versions (newest
//! first, as `ListObjectVersions` lists them) and reads only what it needs:
//! - **Which version was in effect at the cut-off**: the newest one the inventory *captured* at
//!   or before the cut-off. A version's time is the `captureTime` the sync writes inside it, else
//!   its `LastModified`; a delete marker's time is its `LastModified`, and one in effect means the
//!   node was gone. Versions are in capture order, so the walk finds it by bisection: about
//!   log2(n) reads for n versions, whatever the month, without trusting how long the sync took
//!   to write (S3's `LastModified` is only the order).
//! - **Since when each patch has been missing** (`AWS:ComplianceItem` only): from the version in
//!   effect back through older versions, as long as the patch is still missing in each. The run
//!   starts at the oldest version of the unbroken run, whatever installs happened in between. A
//!   walk stops as soon as every patch's run has ended, or at the oldest version kept (then the
//!   patch has been missing "at least since" that version).
//!
//! A walk asks for bodies ([`Walk::wants`]) and is fed them ([`Walk::feed`]), so the reader
//! decides how to fetch (S3 in concurrent rounds, local files in a loop).

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::sync::{MissingPatch, capture_time, parse_missing_patches};

/// One version of an object, as `ListObjectVersions` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `VersionId` (`null` in a bucket that was never versioned).
    pub version_id: String,
    /// `LastModified`.
    pub last_modified: Timestamp,
    /// A delete marker: the object did not exist from then on.
    pub deleted: bool,
}

/// What a walk is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only the version in effect.
    Pick,
    /// The version in effect and the runs of its missing patches (`AWS:ComplianceItem`).
    History,
}

/// A patch missing at the cut-off, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The patch as the version in effect lists it.
    pub patch: MissingPatch,
    /// The time of the oldest version of the unbroken run.
    pub since: Timestamp,
    /// The run reaches the oldest version kept: missing at least since `since`.
    pub open_ended: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// The answer is in `lo..=hi` (`hi == len`: none).
    Search {
        lo: usize,
        hi: usize,
    },
    /// Reading older versions from `next`.
    Back {
        next: usize,
    },
    Done,
}

/// A walk through one object's versions.
#[derive(Debug, Clone)]
pub struct Walk {
    mode: Mode,
    cutoff: Timestamp,
    /// Every version and delete marker, newest first.
    queue: Vec<Entry>,
    phase: Phase,
    /// Bodies read during the search, by index (a handful).
    seen: BTreeMap<usize, (Timestamp, String)>,
    /// The version in effect, its time and body.
    effective: Option<(Timestamp, String)>,
    /// Patch id → run, while its run goes on.
    open: BTreeMap<String, Run>,
    /// Runs that ended.
    closed: Vec<Run>,
    /// Patches that do not count (exceptions).
    ignore: Vec<String>,
    reads: usize,
}

/// A patch id matches a pattern with `*` as "anything" (as baselines' patch lists).
pub fn patch_matches(pattern: &str, id: &str) -> bool {
    // Greedy match with one backtrack point (the last `*`): O(pattern × id) at worst, where the
    // recursive form is exponential in the number of stars (patterns come from the policy).
    let (p, s) = (pattern.as_bytes(), id.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

impl Walk {
    /// A walk over `entries` (as listed: newest first; ties in `LastModified` keep that order)
    /// as of `cutoff`; patches matching `ignore` do not count.
    pub fn new(mode: Mode, mut entries: Vec<Entry>, cutoff: Timestamp, ignore: Vec<String>) -> Self {
        entries.sort_by_key(|e| std::cmp::Reverse(e.last_modified));
        let len = entries.len();
        let mut w = Self {
            mode,
            cutoff,
            queue: entries,
            phase: Phase::Search { lo: 0, hi: len },
            seen: BTreeMap::new(),
            effective: None,
            open: BTreeMap::new(),
            closed: Vec::new(),
            ignore,
            reads: 0,
        };
        w.settle();
        w
    }

    /// The time of version `i` when it can be told without a read (a delete marker), or from a
    /// body already read.
    fn known_time(&self, i: usize) -> Option<Timestamp> {
        let e = self.queue.get(i)?;
        if e.deleted {
            return Some(e.last_modified);
        }
        self.seen.get(&i).map(|(t, _)| *t)
    }

    /// Advances the search as far as it can without reading; ends it when found.
    fn settle(&mut self) {
        while let Phase::Search { lo, hi } = self.phase {
            if lo >= hi {
                self.found(lo);
                return;
            }
            let mid = lo + (hi - lo) / 2;
            match self.known_time(mid) {
                Some(t) if t <= self.cutoff => self.phase = Phase::Search { lo, hi: mid },
                Some(_) => self.phase = Phase::Search { lo: mid + 1, hi },
                None => return,
            }
        }
    }

    /// The version at `i` is the newest in effect (or none, at the end).
    fn found(&mut self, i: usize) {
        let Some(entry) = self.queue.get(i) else {
            self.phase = Phase::Done;
            return;
        };
        if entry.deleted {
            self.phase = Phase::Done;
            return;
        }
        match self.seen.remove(&i) {
            Some((at, body)) => self.take_effective(i, at, body),
            // Needs reading (only when the search never read it).
            None => self.phase = Phase::Search { lo: i, hi: i + 1 },
        }
    }

    fn take_effective(&mut self, i: usize, at: Timestamp, body: String) {
        if self.mode == Mode::History
            && let Ok((missing, _)) = parse_missing_patches(&body)
        {
            let counted: Vec<MissingPatch> = missing
                .into_iter()
                .filter(|p| p.counts_for_sla() && !self.ignored(&p.id))
                .collect();
            for p in counted {
                self.open.insert(
                    p.id.clone(),
                    Run {
                        patch: p,
                        since: at,
                        open_ended: false,
                    },
                );
            }
        }
        self.effective = Some((at, body));
        self.seen.clear();
        self.phase = if self.open.is_empty() {
            Phase::Done
        } else {
            Phase::Back { next: i + 1 }
        };
        self.end_if_exhausted();
    }

    fn end_if_exhausted(&mut self) {
        if let Phase::Back { next } = self.phase
            && next >= self.queue.len()
        {
            for (_, mut r) in std::mem::take(&mut self.open) {
                r.open_ended = true;
                self.closed.push(r);
            }
            self.phase = Phase::Done;
        }
    }

    /// The next versions whose bodies it needs (up to `n` while going back; one at a time while
    /// searching), with their index, in the order to feed them.
    pub fn wants(&self, n: usize) -> Vec<(usize, Entry)> {
        match self.phase {
            Phase::Search { lo, hi } => {
                let mid = if hi == lo + 1 { lo } else { lo + (hi - lo) / 2 };
                self.queue.get(mid).map(|e| vec![(mid, e.clone())]).unwrap_or_default()
            }
            Phase::Back { next } => self
                .queue
                .iter()
                .enumerate()
                .skip(next)
                .take(n)
                .map(|(i, e)| (i, e.clone()))
                .collect(),
            Phase::Done => Vec::new(),
        }
    }

    /// Whether it needs nothing more.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Feeds the body of version `i` (one it wanted). A body that cannot be read ends the walk:
    /// while searching, the object counts as unreadable (the reader reports it); going back, the
    /// runs end there, open-ended.
    pub fn feed(&mut self, i: usize, body: Result<String, String>) {
        self.reads += 1;
        let Some(entry) = self.queue.get(i).cloned() else {
            return;
        };
        let body = match body {
            Ok(b) => b,
            Err(_) => {
                for (_, mut r) in std::mem::take(&mut self.open) {
                    r.open_ended = true;
                    self.closed.push(r);
                }
                self.phase = Phase::Done;
                return;
            }
        };
        let at = capture_time(&body).unwrap_or(entry.last_modified);
        match self.phase {
            Phase::Search { lo, hi } if hi == lo + 1 && lo == i && at <= self.cutoff => {
                self.take_effective(i, at, body);
            }
            Phase::Search { .. } => {
                self.seen.insert(i, (at, body));
                self.settle();
            }
            Phase::Back { next } if next == i => {
                let still: Vec<String> = parse_missing_patches(&body)
                    .map(|(m, _)| m.into_iter().map(|p| p.id).collect())
                    .unwrap_or_default();
                let ended: Vec<String> = self.open.keys().filter(|id| !still.contains(id)).cloned().collect();
                for id in ended {
                    if let Some(r) = self.open.remove(&id) {
                        self.closed.push(r);
                    }
                }
                for r in self.open.values_mut() {
                    r.since = at;
                }
                self.phase = if self.open.is_empty() {
                    Phase::Done
                } else {
                    Phase::Back { next: i + 1 }
                };
                self.end_if_exhausted();
            }
            _ => {}
        }
    }

    fn ignored(&self, id: &str) -> bool {
        self.ignore.iter().any(|p| patch_matches(p, id))
    }

    /// The body in effect at the cut-off and its time, if any version was.
    pub fn effective(&self) -> Option<(&str, Timestamp)> {
        self.effective.as_ref().map(|(t, b)| (b.as_str(), *t))
    }

    /// The runs of the patches missing at the cut-off (complete once [`Walk::is_done`]).
    pub fn runs(&self) -> Vec<Run> {
        let mut out: Vec<Run> = self.closed.iter().chain(self.open.values()).cloned().collect();
        out.sort_by(|a, b| a.patch.id.cmp(&b.patch.id));
        out
    }

    /// Bodies read so far.
    pub fn reads(&self) -> usize {
        self.reads
    }
}

/// Feeds a walk from a synchronous reader until it is done (local files, tests, the bench).
pub fn run_walk(walk: &mut Walk, mut read: impl FnMut(&Entry) -> Result<String, String>) {
    loop {
        let wanted = walk.wants(8);
        if wanted.is_empty() {
            break;
        }
        for (i, e) in wanted {
            if walk.is_done() {
                break;
            }
            walk.feed(i, read(&e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn entry(v: &str, at: &str) -> Entry {
        Entry {
            version_id: v.into(),
            last_modified: t(at),
            deleted: false,
        }
    }

    /// A ComplianceItem body captured at `at` missing `patches` (critical).
    fn items(at: &str, patches: &[&str]) -> String {
        let mut out = String::new();
        for p in patches {
            out.push_str(&format!(
                "{{\"ComplianceType\":\"Patch\",\"Id\":\"{p}\",\"Status\":\"NON_COMPLIANT\",\"Severity\":\"CRITICAL\",\"captureTime\":\"{at}\"}}\n"
            ));
        }
        if patches.is_empty() {
            out.push_str(&format!(
                "{{\"ComplianceType\":\"Patch\",\"Id\":\"ok\",\"Status\":\"COMPLIANT\",\"captureTime\":\"{at}\"}}\n"
            ));
        }
        out
    }

    #[test]
    fn a_patch_missing_since_september_stays_missing_through_a_failed_install() {
        // Nightly scans; a failed install on 2026-10-28 changes nothing: KB1 is missing from
        // 2026-09-20 on. KB2 appeared on 2026-10-25. KB0 was fixed on 2026-09-25.
        let history = [
            ("v1", "2026-09-15T03:00:00Z", vec!["KB0"]),
            ("v2", "2026-09-20T03:00:00Z", vec!["KB0", "KB1"]),
            ("v3", "2026-09-25T03:00:00Z", vec!["KB1"]),
            ("v4", "2026-10-25T03:00:00Z", vec!["KB1", "KB2"]),
            ("v5", "2026-10-28T05:00:00Z", vec!["KB1", "KB2"]),
            ("v6", "2026-10-31T03:00:00Z", vec!["KB1", "KB2"]),
            // After the cut-off (written within the lag, captured after): not in effect.
            ("v7", "2026-11-01T03:00:00Z", vec![]),
        ];
        let bodies: BTreeMap<&str, String> = history.iter().map(|(v, at, p)| (*v, items(at, p))).collect();
        let entries = history.iter().map(|(v, at, _)| entry(v, at)).collect();
        let mut w = Walk::new(Mode::History, entries, t("2026-11-01T00:00:00Z"), Vec::new());
        run_walk(&mut w, |e| Ok(bodies[e.version_id.as_str()].clone()));
        let runs: Vec<(String, String, bool)> = w
            .runs()
            .into_iter()
            .map(|r| (r.patch.id, r.since.to_string(), r.open_ended))
            .collect();
        assert_eq!(
            runs,
            vec![
                ("KB1".into(), "2026-09-20T03:00:00Z".into(), false),
                ("KB2".into(), "2026-10-25T03:00:00Z".into(), false),
            ]
        );
        assert_eq!(
            w.effective().map(|(_, at)| at.to_string()).as_deref(),
            Some("2026-10-31T03:00:00Z")
        );
        assert_eq!(
            w.reads(),
            8,
            "three to find v6 by bisection, then back to v1 where KB1 was not yet missing"
        );
    }

    #[test]
    fn october_as_seen_in_december_and_a_node_deleted_before_the_cutoff() {
        let entries = vec![
            entry("oct", "2026-10-30T03:00:00Z"),
            entry("nov", "2026-11-20T03:00:00Z"),
            entry("dec", "2026-12-05T03:00:00Z"),
        ];
        let mut w = Walk::new(Mode::Pick, entries.clone(), t("2026-11-01T00:00:00Z"), Vec::new());
        run_walk(&mut w, |e| Ok(format!("{{\"v\":\"{}\"}}", e.version_id)));
        assert_eq!(
            w.effective().map(|(b, _)| b.to_owned()).as_deref(),
            Some("{\"v\":\"oct\"}")
        );
        assert_eq!(w.reads(), 2, "bisection: nov (after the cut-off), then oct");
        let mut gone = entries;
        gone.push(Entry {
            version_id: "del".into(),
            last_modified: t("2026-10-31T00:00:00Z"),
            deleted: true,
        });
        let mut w = Walk::new(Mode::Pick, gone, t("2026-11-01T00:00:00Z"), Vec::new());
        run_walk(&mut w, |_| Ok("{}".into()));
        assert!(w.effective().is_none(), "deleted before the cut-off: absent");
        let mut w = Walk::new(Mode::Pick, Vec::new(), t("2026-11-01T00:00:00Z"), Vec::new());
        run_walk(&mut w, |_| Ok("{}".into()));
        assert!(w.effective().is_none() && w.is_done(), "never written");
    }

    #[test]
    fn excepted_patches_and_runs_reaching_the_oldest_version() {
        let history = [
            ("a", "2026-10-01T03:00:00Z", vec!["KB1", "KB9"]),
            ("b", "2026-10-30T03:00:00Z", vec!["KB1", "KB9"]),
        ];
        let bodies: BTreeMap<&str, String> = history.iter().map(|(v, at, p)| (*v, items(at, p))).collect();
        let entries = history.iter().map(|(v, at, _)| entry(v, at)).collect();
        let mut w = Walk::new(Mode::History, entries, t("2026-11-01T00:00:00Z"), vec!["KB9*".into()]);
        run_walk(&mut w, |e| Ok(bodies[e.version_id.as_str()].clone()));
        let runs = w.runs();
        assert_eq!(runs.len(), 1, "KB9 is excepted: {runs:?}");
        assert!(runs[0].open_ended && runs[0].since == t("2026-10-01T03:00:00Z"));
    }

    #[test]
    fn patterns() {
        assert!(patch_matches("KB5034441", "KB5034441"));
        assert!(patch_matches("kernel-6.1.*", "kernel-6.1.0-1.x86_64"));
        assert!(patch_matches("*openssl*", "libopenssl3"));
        assert!(!patch_matches("kernel-6.1.*", "kernel-6.2.0"));
        assert!(!patch_matches("KB1", "KB10"));
        assert!(patch_matches("*", "") && patch_matches("KB*", "KB") && !patch_matches("", "KB"));
        assert!(patch_matches("a*b*c", "axxbyyc") && !patch_matches("a*b*c", "axxbyy"));
        // Many stars against a long id that does not match: answers at once.
        let hostile = format!("{}b", "*a".repeat(40));
        assert!(!patch_matches(&hostile, &"a".repeat(100)));
    }
}
