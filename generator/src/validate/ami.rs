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
        c.duplicates(
            ami.images
                .iter()
                .enumerate()
                .map(|(i, im)| (format!("ami_pipeline.images[{i}].name"), im.name.as_str())),
            "image name",
        );
    }
}
