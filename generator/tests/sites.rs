//! On-premises sites in their own time (issue 28, `hybrid.sites`): the sunday example's Frankfurt
//! data centre, whose Windows nodes register in eu-west-1 but patch at 23:30 Frankfurt time.
//! Expected times are written out by hand: December 2026's Patch Tuesday is the 8th, five days
//! later is Sunday the 13th, and 23:30 CET (UTC+1 in winter) is 22:30 UTC.

use std::path::Path;

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sunday() -> patchplane::Loaded {
    patchplane::load_file(&root().join("examples/sunday-after-patch-tuesday.yaml")).expect("loads")
}

#[test]
fn a_sites_window_opens_at_the_rings_time_in_the_sites_zone_once() {
    let l = sunday();
    let from: jiff::civil::Date = "2026-12-01".parse().expect("date");
    let rows = patchplane::schedule::preview(&l.plan, from, 1);
    let site: Vec<_> = rows.iter().filter(|r| r.region == "site:dc-fra").collect();
    assert_eq!(site.len(), 1, "one Windows site window, shown once: {site:?}");
    assert_eq!(site[0].window, "sunday-Win2022-dc-fra-all-install");
    assert_eq!(site[0].utc, "2026-12-13T22:30:00Z");
    assert_eq!(site[0].local, "2026-12-13T23:30:00+01:00");
    assert_eq!(site[0].patch_groups, ["Win2022-dc-fra-all"]);
    // The region's own window for the same ring keeps the region's zone.
    let dublin = rows
        .iter()
        .find(|r| r.region == "eu-west-1" && r.window == "sunday-Win2022-all-install")
        .expect("eu-west-1");
    assert_eq!(dublin.utc, "2026-12-13T23:30:00Z");
}

#[test]
fn the_site_window_and_its_patch_group_are_in_the_template() {
    let l = sunday();
    let rendered = patchplane::render::render(&l.plan).expect("renders");
    let file = rendered
        .files
        .iter()
        .find(|f| f.path.ends_with("patching/template.yaml"))
        .expect("patching");
    let t: serde_yaml::Value = serde_yaml::from_str(&file.contents).expect("yaml");
    let r = &t["Resources"];
    let w = &r["InstallWin2022SiteDcFraAllWindow"]["Properties"];
    assert_eq!(w["ScheduleTimezone"], "Europe/Berlin");
    assert_eq!(
        w["Schedule"], r["InstallWin2022AllWindow"]["Properties"]["Schedule"],
        "the ring's schedule"
    );
    let target = &r["InstallWin2022SiteDcFraAllTarget"]["Properties"]["Targets"][0]["Values"][0];
    assert_eq!(target, "Win2022-dc-fra-all");
    let groups = |id: &str| -> Vec<String> {
        r[id]["Properties"]["PatchGroups"]
            .as_sequence()
            .expect("groups")
            .iter()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect()
    };
    assert!(groups("BaselineWin2022").contains(&"Win2022-dc-fra-all".to_owned()));
    assert!(
        !groups("BaselineAL2023").iter().any(|g| g.contains("dc-fra")),
        "the site runs Windows only"
    );
    assert!(r["InstallAL2023SiteDcFraAllWindow"].is_null());
    // The nightly scan's targets cover the site's nodes too.
    let scanned: Vec<&str> = r
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("ScanTarget")))
        .flat_map(|(_, v)| {
            v["Properties"]["Targets"][0]["Values"]
                .as_sequence()
                .into_iter()
                .flatten()
        })
        .filter_map(|v| v.as_str())
        .collect();
    assert!(scanned.contains(&"Win2022-dc-fra-all"), "{scanned:?}");
    assert!(scanned.contains(&"Win2022-all"), "{scanned:?}");
}

#[test]
fn a_site_is_checked_with_its_key() {
    let text = std::fs::read_to_string(root().join("examples/sunday-after-patch-tuesday.yaml"))
        .expect("example")
        .replace(
            "sites: { dc-fra: { zone: Europe/Berlin, baselines: [sunday-win2022] } }",
            "sites: { DC_FRA: Europe/Berln, dc-sgp: { zone: Asia/Singapore, baselines: [nope] } }",
        );
    match patchplane::load_str(&text, Path::new("sunday.yaml")) {
        Err(patchplane::LoadError::Invalid(d)) => {
            let text = d.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
            assert!(
                text.contains("`hybrid.sites.DC_FRA`: `DC_FRA` is not a site name"),
                "{text}"
            );
            assert!(
                text.contains("`hybrid.sites.DC_FRA`: `Europe/Berln` is not an IANA time zone"),
                "{text}"
            );
            assert!(
                text.contains("`hybrid.sites.dc-sgp.baselines[0]`: `nope` is not a baseline of this policy"),
                "{text}"
            );
        }
        other => panic!("must be refused: {:?}", other.map(|_| ())),
    }
}
