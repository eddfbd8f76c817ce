//! `hybrid:`: on-premises (`mi-`) nodes in data centres whose time zone is not their region's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `hybrid:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hybrid {
    /// Site → IANA time zone (`dc-fra: Europe/Berlin`). A node of a site carries the patch group
    /// `<group_prefix>-<site>-<ring>` (and, for people and `hybrid activate`, the tag
    /// `patchplane:site=<site>`); its ring's windows open at the ring's local time in the site's
    /// zone, whatever region it registered in.
    /// A site may name the baselines its nodes run (`dc-fra: {zone: Europe/Berlin, baselines:
    /// [plat-win2022-baseline]}`); by default, every baseline.
    #[serde(default)]
    pub sites: BTreeMap<String, Site>,
}

/// One site: its zone, or its zone and the baselines of its nodes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Site {
    /// `dc-fra: Europe/Berlin`: every baseline.
    Zone(String),
    /// `dc-fra: {zone: Europe/Berlin, baselines: [...]}`.
    Detailed {
        /// IANA time zone.
        zone: String,
        /// Baseline names (`baselines[].name`); empty: every baseline.
        #[serde(default)]
        baselines: Vec<String>,
    },
}

impl Site {
    /// Its zone.
    pub fn zone(&self) -> &str {
        match self {
            Site::Zone(z) | Site::Detailed { zone: z, .. } => z,
        }
    }

    /// Whether its nodes run `baseline`.
    pub fn runs(&self, baseline: &str) -> bool {
        match self {
            Site::Zone(_) => true,
            Site::Detailed { baselines, .. } => baselines.is_empty() || baselines.iter().any(|b| b == baseline),
        }
    }
}
