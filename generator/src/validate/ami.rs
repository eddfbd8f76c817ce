//! `ami_pipeline:`: the ring it follows, its accounts and regions, its images.

use super::{Checker, shorten};
use crate::ids::{IMAGE_NAME, is_account_id};
use crate::policy::Policy;

/// Checks `ami_pipeline` when it is set.
pub(super) fn check(c: &mut Checker, p: &Policy) {
    if let Some(ami) = &p.ami_pipeline {
        if !p.rings.iter().any(|r| r.name == ami.aligned_to_ring) {
            c.error(
                "ami_pipeline.aligned_to_ring",
                format!("ring `{}` is not defined in `rings`", shorten(&ami.aligned_to_ring)),
            );
        }
        for (i, a) in ami.accounts.iter().enumerate() {
            if !is_account_id(a) {
                c.error(
                    format!("ami_pipeline.accounts[{i}]"),
                    format!("`{}` is not a 12-digit account id", shorten(a)),
                );
            }
        }
        for (i, r) in ami.regions.iter().enumerate() {
            if !p.organization.regions.contains_key(r) {
                c.error(
                    format!("ami_pipeline.regions[{i}]"),
                    format!(
                        "`{}` is not in `organization.regions`, so it has no time zone",
                        shorten(r)
                    ),
                );
            }
        }
        for (i, img) in ami.images.iter().enumerate() {
            c.name(&format!("ami_pipeline.images[{i}].name"), &img.name, &IMAGE_NAME);
            if !p.baselines.iter().any(|b| b.name == img.baseline) {
                c.error(
                    format!("ami_pipeline.images[{i}].baseline"),
                    format!("baseline `{}` is not defined in `baselines`", shorten(&img.baseline)),
                );
            }
            c.no_controls(
                &format!("ami_pipeline.images[{i}].parent_image"),
                &img.parent_image,
                1024,
            );
        }
        for (i, a) in ami.distribute.accounts.iter().enumerate() {
            if !is_account_id(a) {
                c.error(
                    format!("ami_pipeline.distribute.accounts[{i}]"),
                    format!("`{}` is not a 12-digit account id", shorten(a)),
                );
            }
        }
        for (i, r) in ami.distribute.regions.iter().enumerate() {
            let at = format!("ami_pipeline.distribute.regions[{i}]");
            if !crate::ids::KNOWN_REGIONS.contains(&r.as_str()) {
                c.error(at, format!("`{}` is not an AWS region", shorten(r)));
            } else if ami.regions.contains(r) {
                c.error(at, format!("`{r}` builds the images already (ami_pipeline.regions)"));
            }
        }
        let accounts: Vec<&String> = ami.accounts.iter().chain(&ami.distribute.accounts).collect();
        let regions: Vec<&String> = ami.regions.iter().chain(&ami.distribute.regions).collect();
        for (i, img) in ami.images.iter().enumerate() {
            for (j, lt) in img.launch_templates.iter().enumerate() {
                let at = |f: &str| format!("ami_pipeline.images[{i}].launch_templates[{j}].{f}");
                let ok =
                    lt.id.len() == 20 && lt.id.starts_with("lt-") && lt.id[3..].chars().all(|c| c.is_ascii_hexdigit());
                if !ok {
                    c.error(
                        at("id"),
                        format!(
                            "`{}` is not a launch template id (lt- and 17 hex digits)",
                            shorten(&lt.id)
                        ),
                    );
                }
                if !accounts.contains(&&lt.account) {
                    c.error(
                        at("account"),
                        format!(
                            "`{}` neither builds nor receives the image (ami_pipeline.accounts, distribute.accounts)",
                            shorten(&lt.account)
                        ),
                    );
                }
                if ami.regions.len() > 1 && ami.regions.contains(&lt.region) {
                    // One template serves every building region's stack; a launch template in a
                    // building region is only addressed when there is one.
                    c.error(
                        at("region"),
                        "a launch template in a building region needs a single building region (ami_pipeline.regions)",
                    );
                }
                if !regions.contains(&&lt.region) {
                    c.error(
                        at("region"),
                        format!(
                            "`{}` neither builds nor receives the image (ami_pipeline.regions, distribute.regions)",
                            shorten(&lt.region)
                        ),
                    );
                }
            }
            if let Some(r) = &img.refresh {
                c.range(
                    &format!("ami_pipeline.images[{i}].refresh.min_healthy_percentage"),
                    i64::from(r.min_healthy_percentage),
                    0,
                    100,
                    "percent",
                );
            }
        }
        c.duplicates(
            ami.images
                .iter()
                .enumerate()
                .map(|(i, im)| (format!("ami_pipeline.images[{i}].name"), im.name.as_str())),
            "image name",
        );
    }
}
