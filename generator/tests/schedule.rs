//! Schedule tests. For every ring, baseline and region of both examples, the first 24 openings
//! are computed here independently of the library (plain weekday arithmetic, or the nth weekday of
//! the month plus an offset, in the region's zone) and compared with:
//! 1. what `patchplane schedule` previews, and
//! 2. what the committed template encodes: its `Schedule` cron, `ScheduleOffset` and the zone its
//!    `Mappings` give the region, evaluated from the template text alone.
//!
//! The start date is chosen so 24 weekly openings cross a DST change in both hemispheres (New York
//! and Dublin in March, Sydney in April), and 24 monthly ones cross four.

use std::path::Path;

use jiff::civil::{Date, Weekday, date};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use patchplane::cron::Cron;
use patchplane::model::WindowSchedule;
use patchplane::policy::{Day, Policy};
use patchplane::schedule::{openings, preview};
use patchplane::{Loaded, load_file};
use serde_yaml::Value;

const COUNT: usize = 24;
const FROM: Date = date(2026, 1, 1);

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn weekday(d: Day) -> Weekday {
    match d {
        Day::MON => Weekday::Monday,
        Day::TUE => Weekday::Tuesday,
        Day::WED => Weekday::Wednesday,
        Day::THU => Weekday::Thursday,
        Day::FRI => Weekday::Friday,
        Day::SAT => Weekday::Saturday,
        Day::SUN => Weekday::Sunday,
    }
}

fn hm(at: &str) -> (i8, i8) {
    let (h, m) = at.split_once(':').expect("HH:MM");
    (h.parse().expect("hour"), m.parse().expect("minute"))
}

/// The local dates a ring's install opens for a baseline offset, computed from first principles.
fn expected_dates(p: &Policy, ring: usize, offset: i64) -> Expected {
    expected_for(&p.rings[ring].schedule, offset)
}

/// The local dates a schedule opens on, plus an offset, computed from first principles.
fn expected_for(s: &patchplane::policy::Schedule, offset: i64) -> Expected {
    if let Some(w) = &s.weekly {
        let target = weekday(w.day).wrapping_add(offset);
        let mut d = FROM;
        let mut out = Vec::new();
        while out.len() < COUNT {
            if d.weekday() == target {
                out.push(d);
            }
            d = d.tomorrow().expect("date");
        }
        return (out, hm(&w.at));
    }
    if let Some(pt) = &s.patch_tuesday {
        let mut out = Vec::new();
        let mut month = FROM.first_of_month();
        while out.len() < COUNT {
            let second_tuesday = month.nth_weekday_of_month(2, Weekday::Tuesday).expect("2nd Tuesday");
            let d = second_tuesday
                .checked_add((pt.offset_days + offset).days())
                .expect("date");
            if d >= FROM {
                out.push(d);
            }
            month = month.checked_add(1.month()).expect("month");
        }
        return (out, hm(&pt.at));
    }
    panic!("the examples use weekly and patch_tuesday rings only");
}

fn daily(at: &str) -> Expected {
    let mut d = FROM;
    let mut out = Vec::new();
    while out.len() < COUNT {
        out.push(d);
        d = d.tomorrow().expect("date");
    }
    (out, hm(at))
}

fn instants(dates: &[Date], (h, m): (i8, i8), tz: &TimeZone) -> Vec<Timestamp> {
    dates
        .iter()
        .map(|d| d.at(h, m, 0, 0).to_zoned(tz.clone()).expect("zoned").timestamp())
        .collect()
}

/// A window read from a template: name, `Schedule`, `ScheduleOffset`, and a site's fixed zone
/// (`hybrid.sites`) where it has one instead of the region mapping.
type TemplateWindow = (String, String, u8, Option<String>);
/// Local dates and the wall-clock time (hour, minute) of a window's openings.
type Expected = (Vec<Date>, (i8, i8));

/// Windows read from the rendered template, plus region → zone.
fn template_windows(template: &Value) -> (Vec<TemplateWindow>, Vec<(String, String)>) {
    let mut windows = Vec::new();
    for (_, res) in template["Resources"].as_mapping().expect("resources") {
        if res["Type"] == "AWS::SSM::MaintenanceWindow" {
            let props = &res["Properties"];
            // The zone comes from the region mapping, so one template serves every region; only a
            // site's window names its site's zone.
            let site_zone = props["ScheduleTimezone"].as_str().map(str::to_owned);
            if site_zone.is_none() {
                let fim = props["ScheduleTimezone"]["Fn::FindInMap"]
                    .as_sequence()
                    .expect("FindInMap");
                assert_eq!(fim[0], "RegionZone");
                assert_eq!(fim[1]["Ref"], "AWS::Region");
            }
            windows.push((
                props["Name"].as_str().expect("name").to_owned(),
                props["Schedule"].as_str().expect("schedule").to_owned(),
                props["ScheduleOffset"].as_u64().map_or(0, |o| o as u8),
                site_zone,
            ));
        }
    }
    let zones = template["Mappings"]["RegionZone"]
        .as_mapping()
        .expect("RegionZone")
        .iter()
        .map(|(r, z)| {
            (
                r.as_str().expect("region").to_owned(),
                z["Zone"].as_str().expect("zone").to_owned(),
            )
        })
        .collect();
    (windows, zones)
}

fn check_example(policy_file: &str, out_dir: &str) -> Vec<(String, String, Vec<Timestamp>)> {
    let loaded: Loaded = load_file(&root().join(policy_file)).expect("example loads");
    let p = &loaded.policy;
    let text =
        std::fs::read_to_string(root().join(out_dir).join("patching/template.yaml")).expect("committed template");
    let template: Value = serde_yaml::from_str(&text).expect("template parses");
    let (tpl_windows, tpl_zones) = template_windows(&template);
    let team_windows: usize = p.teams.iter().map(|t| t.windows.len()).sum();
    let site_windows: usize = p
        .hybrid
        .sites
        .values()
        .map(|site| p.rings.len() * p.baselines.iter().filter(|b| site.runs(&b.name)).count())
        .sum();
    assert_eq!(
        tpl_windows.len(),
        1 + p.rings.len() * p.baselines.len() + team_windows + site_windows,
        "one scan + ring x baseline windows + team windows + site windows"
    );
    // A site's windows: the ring's dates and local time, in the site's zone, in the preview once.
    let rows = preview(&loaded.plan, FROM, COUNT);
    for (site, spec) in &p.hybrid.sites {
        let tz = TimeZone::get(spec.zone()).expect("site zone");
        for (ri, ring) in p.rings.iter().enumerate() {
            for b in p.baselines.iter().filter(|b| spec.runs(&b.name)) {
                let name = format!("{}-{}-{site}-{}-install", p.name, b.group_prefix, ring.name);
                let (dates, at) = expected_dates(p, ri, b.install_offset_days);
                let want = instants(&dates, at, &tz);
                let got: Vec<Timestamp> = rows
                    .iter()
                    .filter(|o| o.region == format!("site:{site}") && o.window == name)
                    .map(|o| o.utc.parse::<Timestamp>().expect("utc"))
                    .collect();
                assert_eq!(got, want, "preview of {name} at site {site}");
                let (.., zone) = tpl_windows.iter().find(|(n, ..)| n == &name).expect("site window");
                assert_eq!(zone.as_deref(), Some(spec.zone()), "{name}");
            }
        }
    }
    assert_eq!(tpl_zones.len(), p.organization.regions.len());

    let mut expectations: Vec<(String, Expected)> = Vec::new();
    expectations.push((
        format!("{}-scan", p.name),
        daily(&p.scan.schedule.daily.as_ref().expect("daily scan").at),
    ));
    for (ri, ring) in p.rings.iter().enumerate() {
        for b in &p.baselines {
            let name = format!("{}-{}-{}-install", p.name, b.group_prefix, ring.name);
            expectations.push((name, expected_dates(p, ri, b.install_offset_days)));
        }
    }
    // Team windows: their own schedule, no baseline offset.
    for t in &p.teams {
        for w in &t.windows {
            let b = p.baselines.iter().find(|b| b.name == w.baseline).expect("baseline");
            let name = format!("{}-{}-{}-{}-install", p.name, b.group_prefix, t.team, w.name);
            expectations.push((name, expected_for(&w.schedule, 0)));
        }
    }

    let mut checked = Vec::new();
    for (region, zone) in &p.organization.regions {
        let tz = TimeZone::get(zone).expect("zone");
        // The template maps the region to the policy's zone.
        assert!(
            tpl_zones.iter().any(|(r, z)| r == region && z == zone),
            "{region} → {zone} in Mappings"
        );
        let from = FROM.to_zoned(tz.clone()).expect("from").timestamp();
        for (name, (dates, at)) in &expectations {
            let want = instants(dates, *at, &tz);
            // 1. The preview.
            let got: Vec<Timestamp> = rows
                .iter()
                .filter(|o| &o.region == region && &o.window == name)
                .map(|o| o.utc.parse::<Timestamp>().expect("utc"))
                .collect();
            assert_eq!(got, want, "preview of {name} in {region}");
            // 2. The template, read back without the policy.
            let (_, cron, offset, _) = tpl_windows
                .iter()
                .find(|(n, ..)| n == name)
                .expect("window in template");
            let ws = WindowSchedule {
                cron: Cron::parse(cron).expect("template cron parses"),
                offset_days: *offset,
            };
            let from_template: Vec<Timestamp> = openings(&ws, &tz, from, COUNT).iter().map(|z| z.timestamp()).collect();
            assert_eq!(
                from_template, want,
                "template {cron} + {offset} of {name} in {region} ({zone})"
            );
            checked.push((region.clone(), name.clone(), want));
        }
    }
    checked
}

/// UTC hours of a window's openings: two distinct values prove the range crosses a DST change.
fn utc_hours(checked: &[(String, String, Vec<Timestamp>)], region: &str, window: &str) -> Vec<i8> {
    let (_, _, ts) = checked
        .iter()
        .find(|(r, w, _)| r == region && w == window)
        .expect("checked");
    let mut hours: Vec<i8> = ts.iter().map(|t| t.to_zoned(TimeZone::UTC).hour()).collect();
    hours.sort();
    hours.dedup();
    hours
}

#[test]
fn org_policy_preview_and_template_match_independent_dates() {
    let checked = check_example("examples/org-policy.yaml", "stacksets/acme");
    // 3 rings × 3 baselines + scan + the payments team's window, in 4 regions.
    assert_eq!(checked.len(), 44);
    // 02:00 New York is 07:00Z in winter and 06:00Z in summer; Sydney 15:00Z then 16:00Z.
    assert_eq!(
        utc_hours(&checked, "us-east-1", "acme-AL2023-early-install"),
        vec![6, 7]
    );
    assert_eq!(
        utc_hours(&checked, "ap-southeast-2", "acme-Win2022-late-install"),
        vec![15, 16]
    );
    assert_eq!(utc_hours(&checked, "eu-west-1", "acme-scan"), vec![1]); // January: GMT only.
    // Each OS is shifted a day within a ring: early is Tue / Wed / Thu for AL2023 / Ubuntu / Windows.
    let first = |w: &str| {
        let (_, _, ts) = checked.iter().find(|(r, n, _)| r == "us-east-1" && n == w).expect("w");
        ts[0].to_zoned(TimeZone::get("America/New_York").expect("tz")).weekday()
    };
    assert_eq!(first("acme-AL2023-early-install"), Weekday::Tuesday);
    assert_eq!(first("acme-Ubuntu22-early-install"), Weekday::Wednesday);
    assert_eq!(first("acme-Win2022-early-install"), Weekday::Thursday);
}

#[test]
fn sunday_after_patch_tuesday_preview_and_template_match_independent_dates() {
    let checked = check_example("examples/sunday-after-patch-tuesday.yaml", "stacksets/sunday");
    let (_, _, ts) = checked
        .iter()
        .find(|(r, n, _)| r == "us-east-1" && n == "sunday-AL2023-all-install")
        .expect("w");
    let ny = TimeZone::get("America/New_York").expect("tz");
    for t in ts {
        let z = t.to_zoned(ny.clone());
        assert_eq!((z.weekday(), z.hour(), z.minute()), (Weekday::Sunday, 23, 30), "{z}");
    }
    // January 2026: Patch Tuesday is the 13th, the Sunday after is the 18th.
    assert_eq!(ts[0].to_zoned(ny).date(), date(2026, 1, 18));
    assert_eq!(
        utc_hours(&checked, "ap-southeast-2", "sunday-Win2022-all-install"),
        vec![12, 13]
    );
}

/// The AMI build window of an image opens at the same local instants as its ring's install window
/// for the image's baseline, through two DST changes in each hemisphere (a year of openings from
/// January 2026: New York changes in March and November, Sydney in April and October).
#[test]
fn ami_windows_open_with_their_ring_across_dst_in_both_hemispheres() {
    let base = std::fs::read_to_string(root().join("examples/org-policy.yaml")).expect("example");
    let both_regions = base.replace(
        "  regions: [us-east-1]\n  aligned_to_ring",
        "  regions: [us-east-1, ap-southeast-2]\n  aligned_to_ring",
    );
    assert_ne!(both_regions, base);
    // The same with a Patch Tuesday ring whose offset folds into the week, and a baseline offset.
    let patch_tuesday = both_regions
        .replace(
            "{ name: early, schedule: { weekly: { day: TUE, at: \"02:00\" } } }",
            "{ name: early, schedule: { patch_tuesday: { offset_days: 9, at: \"02:30\" } } }",
        )
        .replace(
            "    install_offset_days: 0       # early Tue",
            "    install_offset_days: 2       # early Tue",
        );
    assert_ne!(patch_tuesday, both_regions);
    for (text, count) in [(both_regions, 52), (patch_tuesday, 24)] {
        let l = patchplane::load_str(&text, Path::new("ami.yaml")).expect("valid");
        let rows = preview(&l.plan, FROM, count);
        for (region, zone) in [
            ("us-east-1", "America/New_York"),
            ("ap-southeast-2", "Australia/Sydney"),
        ] {
            let at = |window: &str| -> Vec<String> {
                rows.iter()
                    .filter(|o| o.region == region && o.window == window)
                    .map(|o| o.utc.clone())
                    .collect()
            };
            let install = at("acme-AL2023-early-install");
            let ami = at("acme-al2023-golden-ami-build");
            assert_eq!(install.len(), count, "{region}");
            assert_eq!(ami, install, "{region}: AMI build and install window differ");
            // Two DST changes crossed: the UTC offset changes twice along the sequence.
            let tz = TimeZone::get(zone).expect("tz");
            let offsets: Vec<i32> = install
                .iter()
                .map(|u| {
                    u.parse::<Timestamp>()
                        .expect("ts")
                        .to_zoned(tz.clone())
                        .offset()
                        .seconds()
                })
                .collect();
            let changes = offsets.windows(2).filter(|w| w[0] != w[1]).count();
            assert!(changes >= 2, "{region}: {offsets:?}");
        }
    }

    // And the committed templates carry the same schedule for both windows.
    let read = |stack: &str| -> Value {
        serde_yaml::from_str(
            &std::fs::read_to_string(root().join("stacksets/acme").join(stack).join("template.yaml"))
                .expect("template"),
        )
        .expect("yaml")
    };
    let (patching, ami) = (read("patching"), read("ami-pipeline"));
    let install = &patching["Resources"]["InstallAL2023EarlyWindow"]["Properties"];
    let build = &ami["Resources"]["ImageAl2023GoldenWindow"]["Properties"];
    for key in ["Schedule", "ScheduleOffset", "ScheduleTimezone", "Duration", "Cutoff"] {
        assert_eq!(build[key], install[key], "{key}");
    }
    assert_eq!(
        ami["Mappings"]["RegionZone"]["us-east-1"],
        patching["Mappings"]["RegionZone"]["us-east-1"]
    );
}
