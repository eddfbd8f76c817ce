//! `organization:`: the organization id, the StackSet's deployment targets, regions with their
//! time zones, and the rollout preferences.

use super::{Checker, shorten};
use crate::ids::{KNOWN_REGIONS, is_account_id, is_org_id, is_ou_or_root_id};
use crate::policy::{AccountFilter, Policy};

/// Checks `organization`.
pub(super) fn check(c: &mut Checker, p: &Policy) {
    let org = &p.organization;
    if !is_org_id(&org.id) {
        c.error(
            "organization.id",
            format!(
                "`{}` is not an organization id (o- and 10-32 of a-z, 0-9)",
                shorten(&org.id)
            ),
        );
    }
    let t = &org.targets;
    if t.organizational_units.is_empty() {
        c.error(
            "organization.targets.organizational_units",
            "service-managed StackSets deploy to OUs: list at least one OU or the root id",
        );
    }
    for (i, ou) in t.organizational_units.iter().enumerate() {
        if !is_ou_or_root_id(ou) {
            c.error(
                format!("organization.targets.organizational_units[{i}]"),
                format!(
                    "`{}` is not an OU id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)",
                    shorten(ou)
                ),
            );
        }
    }
    c.duplicates(
        t.organizational_units
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("organization.targets.organizational_units[{i}]"), v.as_str())),
        "OU",
    );
    for (i, a) in t.accounts.iter().enumerate() {
        if !is_account_id(a) {
            c.error(
                format!("organization.targets.accounts[{i}]"),
                format!(
                    "`{}` is not a 12-digit account id (quote it so leading zeros survive)",
                    shorten(a)
                ),
            );
        }
    }
    c.duplicates(
        t.accounts
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("organization.targets.accounts[{i}]"), v.as_str())),
        "account",
    );
    match (t.account_filter, t.accounts.is_empty()) {
        (AccountFilter::None, false) => c.error(
            "organization.targets.account_filter",
            "accounts are listed but `account_filter` is NONE: say INTERSECTION, DIFFERENCE or UNION",
        ),
        (f, true) if f != AccountFilter::None => c.error(
            "organization.targets.accounts",
            "`account_filter` needs at least one account",
        ),
        _ => {}
    }
    if org.regions.is_empty() {
        c.error(
            "organization.regions",
            "list at least one region with its IANA time zone",
        );
    }
    for (region, zone) in &org.regions {
        let path = format!("organization.regions.{region}");
        if !KNOWN_REGIONS.contains(&region.as_str()) {
            c.error(
                &path,
                format!(
                    "`{}` is not an AWS region patchplane knows (for example us-east-1, eu-west-1)",
                    shorten(region)
                ),
            );
        }
        if jiff::tz::TimeZone::get(zone).is_err() || zone.is_empty() {
            c.error(
                &path,
                format!(
                    "`{}` is not an IANA time zone (for example America/New_York, Europe/Dublin)",
                    shorten(zone)
                ),
            );
        }
    }
    let r = &org.rollout;
    c.range(
        "organization.rollout.max_concurrent_percentage",
        r.max_concurrent_percentage,
        1,
        100,
        "percent of accounts at once",
    );
    c.range(
        "organization.rollout.failure_tolerance_percentage",
        r.failure_tolerance_percentage,
        0,
        100,
        "percent of accounts that may fail",
    );
    if r.retain_stacks_on_account_removal && !r.auto_deployment {
        c.error(
            "organization.rollout.retain_stacks_on_account_removal",
            "only applies with `auto_deployment: true`",
        );
    }
}
