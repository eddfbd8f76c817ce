//! The plan of one StackSet: what differs between its `stackset.json` and what CloudFormation has,
//! as [`Change`]s in the order [`super::apply`] makes them.

use std::collections::{BTreeMap, BTreeSet};

use super::api::{Deployed, Targets};
use super::request::Desired;

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The StackSet does not exist.
    CreateStackSet,
    /// Template, description or tags differ; `diff` is readable.
    Update {
        /// Unified diff of the template, or a line per other difference.
        diff: String,
        /// Instances updated.
        targets: Targets,
    },
    /// Stack instances to create.
    AddInstances(Targets),
    /// Stack instances to delete.
    RemoveInstances(Targets),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = |t: &Targets| format!("OUs {} × regions {}", t.ous.join(", "), t.regions.join(", "));
        match self {
            Change::CreateStackSet => write!(f, "create the StackSet"),
            Change::Update { diff, targets } => {
                write!(f, "update the StackSet and its instances in {}:\n{diff}", t(targets))
            }
            Change::AddInstances(x) => write!(f, "add stack instances: {}", t(x)),
            Change::RemoveInstances(x) => write!(f, "remove stack instances: {}", t(x)),
        }
    }
}

/// Compares the request with what is deployed.
///
/// Instances are compared per (OU, region). An instance listed without its OU (moto does that)
/// counts for every desired OU in its region, so a StackSet deployed by a client that does not
/// report OUs is not redeployed on every run.
pub fn plan(d: &Desired, deployed: Option<&Deployed>) -> Vec<Change> {
    let Some(dep) = deployed else {
        return vec![
            Change::CreateStackSet,
            Change::AddInstances(Targets {
                ous: d.ous.clone(),
                regions: d.regions.clone(),
            }),
        ];
    };
    let mut changes = Vec::new();
    let mut diff = String::new();
    if dep.template_body != d.template_body {
        diff.push_str(
            &similar::TextDiff::from_lines(&dep.template_body, &d.template_body)
                .unified_diff()
                .context_radius(2)
                .header("deployed template", "generated template")
                .to_string(),
        );
    }
    if dep.description != d.description {
        diff.push_str(&format!("description: {:?} → {:?}\n", dep.description, d.description));
    }
    let (mut a, mut b) = (dep.tags.clone(), d.tags.clone());
    a.sort();
    b.sort();
    if a != b {
        diff.push_str(&format!("tags: {a:?} → {b:?}\n"));
    }
    if let Some(auto) = dep.auto_deployment
        && auto != d.auto_deployment
    {
        diff.push_str(&format!(
            "auto-deployment (enabled, retain stacks): {auto:?} → {:?}\n",
            d.auto_deployment
        ));
    }
    let deployed_regions: BTreeSet<&str> = dep.instances.iter().map(|i| i.region.as_str()).collect();
    if !diff.is_empty() {
        // Update the instances that stay; new ones are created from the new template anyway.
        let regions: Vec<String> = d
            .regions
            .iter()
            .filter(|r| deployed_regions.contains(r.as_str()))
            .cloned()
            .collect();
        changes.push(Change::Update {
            diff,
            targets: Targets {
                ous: d.ous.clone(),
                regions,
            },
        });
    }

    let mut have: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut unknown_ou: BTreeSet<&str> = BTreeSet::new();
    for i in &dep.instances {
        match &i.ou {
            Some(ou) => {
                have.entry(i.region.as_str()).or_default().insert(ou.as_str());
            }
            None => {
                unknown_ou.insert(i.region.as_str());
            }
        }
    }
    // Add, grouped by the set of OUs missing in a region: calls grow with regions, never accounts.
    let mut add: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for r in &d.regions {
        if unknown_ou.contains(r.as_str()) {
            continue;
        }
        let present = have.get(r.as_str());
        let missing: Vec<String> = d
            .ous
            .iter()
            .filter(|o| present.is_none_or(|p| !p.contains(o.as_str())))
            .cloned()
            .collect();
        if !missing.is_empty() {
            add.entry(missing).or_default().push(r.clone());
        }
    }
    for (ous, regions) in add {
        changes.push(Change::AddInstances(Targets { ous, regions }));
    }
    // Remove: OUs no longer targeted, and regions no longer listed.
    let mut remove: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (region, ous) in &have {
        let gone: Vec<String> = if d.regions.iter().any(|r| r == region) {
            ous.iter()
                .filter(|o| !d.ous.iter().any(|x| x == *o))
                .map(|o| (*o).to_owned())
                .collect()
        } else {
            ous.iter().map(|o| (*o).to_owned()).collect()
        };
        if !gone.is_empty() {
            remove.entry(gone).or_default().push((*region).to_owned());
        }
    }
    for region in unknown_ou.iter().filter(|r| !d.regions.iter().any(|x| x == *r)) {
        remove.entry(d.ous.clone()).or_default().push((*region).to_owned());
    }
    for (ous, regions) in remove {
        changes.push(Change::RemoveInstances(Targets { ous, regions }));
    }
    changes
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::rollout::api::Instance;

    fn desired() -> Desired {
        Desired {
            dir: PathBuf::from("out/patching"),
            name: "acme-patching".into(),
            description: "d".into(),
            template_body: "a: 1\n".into(),
            upload: None,
            template_url: None,
            capabilities: vec!["CAPABILITY_IAM".into()],
            auto_deployment: (true, false),
            call_as: "SELF".into(),
            managed_execution: true,
            tags: vec![("k".into(), "v".into())],
            ous: vec!["ou-a".into(), "ou-b".into()],
            accounts: vec![],
            account_filter: "NONE".into(),
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
            preferences: ("PARALLEL".into(), 25, 10),
        }
    }

    fn inst(ou: Option<&str>, region: &str, account: &str) -> Instance {
        Instance {
            account: account.into(),
            region: region.into(),
            ou: ou.map(str::to_owned),
            status: "CURRENT".into(),
            reason: String::new(),
            drift: String::new(),
            last_operation: String::new(),
        }
    }

    fn deployed(instances: Vec<Instance>) -> Deployed {
        Deployed {
            template_body: "a: 1\n".into(),
            description: "d".into(),
            tags: vec![("k".into(), "v".into())],
            auto_deployment: None,
            instances,
        }
    }

    #[test]
    fn auto_deployment_is_compared_when_reported() {
        let d = desired();
        let mut dep = deployed(vec![inst(None, "eu-west-1", "1"), inst(None, "us-east-1", "1")]);
        dep.auto_deployment = Some((true, false));
        assert_eq!(plan(&d, Some(&dep)), vec![]);
        dep.auto_deployment = Some((false, false));
        let changes = plan(&d, Some(&dep));
        let [Change::Update { diff, .. }] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert!(
            diff.contains("auto-deployment (enabled, retain stacks): (false, false) → (true, false)"),
            "{diff}"
        );
    }

    #[test]
    fn nothing_to_do_when_everything_matches() {
        let d = desired();
        let mut all = Vec::new();
        for ou in ["ou-a", "ou-b"] {
            for r in ["eu-west-1", "us-east-1"] {
                for acct in ["111111111111", "222222222222"] {
                    all.push(inst(Some(ou), r, acct));
                }
            }
        }
        assert_eq!(plan(&d, Some(&deployed(all))), vec![]);
        // Instances listed without their OU (moto) count for every desired OU of their region.
        let anon = vec![inst(None, "eu-west-1", "1"), inst(None, "us-east-1", "1")];
        assert_eq!(plan(&d, Some(&deployed(anon))), vec![]);
    }

    #[test]
    fn missing_stack_set_region_ou_and_template_changes() {
        let d = desired();
        assert_eq!(plan(&d, None)[0], Change::CreateStackSet);
        let mut dep = deployed(vec![
            inst(Some("ou-a"), "eu-west-1", "1"),
            inst(Some("ou-old"), "eu-west-1", "2"),
            inst(Some("ou-a"), "ap-south-1", "1"),
        ]);
        dep.template_body = "a: 0\n".into();
        let changes = plan(&d, Some(&dep));
        let Change::Update { diff, targets } = &changes[0] else {
            panic!("{changes:?}")
        };
        assert!(diff.contains("-a: 0") && diff.contains("+a: 1"), "{diff}");
        assert_eq!(targets.regions, vec!["eu-west-1"]);
        assert!(changes.contains(&Change::AddInstances(Targets {
            ous: vec!["ou-b".into()],
            regions: vec!["eu-west-1".into()]
        })));
        assert!(changes.contains(&Change::AddInstances(Targets {
            ous: vec!["ou-a".into(), "ou-b".into()],
            regions: vec!["us-east-1".into()]
        })));
        assert!(changes.contains(&Change::RemoveInstances(Targets {
            ous: vec!["ou-old".into()],
            regions: vec!["eu-west-1".into()]
        })));
        assert!(changes.contains(&Change::RemoveInstances(Targets {
            ous: vec!["ou-a".into()],
            regions: vec!["ap-south-1".into()]
        })));
    }
}
