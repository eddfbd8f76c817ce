//! The owner of a managed node, from a CMDB: what the bridge's enrich stage asks after the tags
//! (DESIGN §6, "ServiceNow facts", CMDB). Two sources, behind [`Cmdb`]:
//!
//! - [`ServiceNowCmdb`] reads ServiceNow's CMDB through the Table API client of
//!   [`crate::servicenow`] (its auth, timeouts and retries; pinned to `/api/now/v2/table/…`);
//!   how ServiceNow keeps AWS nodes, with the documentation it was checked against, is in the
//!   doc of `servicenow.rs`.
//! - [`HttpCmdb`] asks an HTTP JSON service at a URL template (the contract is on [`HttpCmdb`]).
//!
//! A lookup answers [`Lookup::Found`], [`Lookup::Unowned`] (the CMDB knows the node but names no
//! owner) or [`Lookup::Unknown`] (a negative answer); a CMDB that cannot answer — timeout,
//! refused connection, 429, 5xx — is a retryable [`Failure`], so the bridge retries the message
//! later instead of filing it under the default owner. 401 and 403 are permanent: a retry would
//! fail the same way. Lookups take `&self`, hold no lock and clone cheaply; caching is the
//! bridge's.
//!
//! # Layout
//! - `mod.rs`: the answer ([`Lookup`], [`Owner`], [`CiRef`]), the owner fields ([`OwnerField`]),
//!   configuration errors and the [`Cmdb`] the bridge holds.
//! - `servicenow.rs`: [`ServiceNowCmdb`] (VM instance, the server it virtualizes, SSM agent).
//! - `http.rs`: [`HttpCmdb`] (URL template, JSON contract).

use std::str::FromStr;

use crate::retry::Failure;

mod http;
mod servicenow;

pub use http::{HttpCmdb, HttpCmdbConfig};
pub use servicenow::{SSM_AGENT, ServiceNowCmdb, VIRTUALIZED_BY, VM_INSTANCE};

/// Where an owner came from. The bridge fills in the sources other than the CMDBs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerSource {
    /// The node's tags.
    Tags,
    /// ServiceNow's CMDB ([`ServiceNowCmdb`]).
    ServiceNow,
    /// An HTTP JSON CMDB ([`HttpCmdb`]).
    Http,
    /// A static mapping in the bridge's configuration.
    Static,
    /// The configured default owner.
    Default,
}

/// A configuration item in ServiceNow's CMDB: what an incident's `cmdb_ci` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiRef {
    /// `sys_id` (32 hex).
    pub sys_id: String,
    /// `sys_class_name`, e.g. `cmdb_ci_vm_instance`, `cmdb_ci_linux_server`.
    pub class: String,
    /// `name`.
    pub name: String,
}

/// The CI field an owner was read from, and the CI carrying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerOrigin {
    /// The field (`owned_by`, …).
    pub field: OwnerField,
    /// The node's own CI, or the server it virtualizes when its own CI named no owner.
    pub ci: CiRef,
}

/// Who owns a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The user's or group's display name (ServiceNow), or the JSON CMDB's `owner`.
    pub name: String,
    /// The owner's email, when known.
    pub email: Option<String>,
    /// The assignment group to use (display name): the owning group, or with a user owner the
    /// first group field of the configured order that is set (ServiceNow), or the JSON CMDB's
    /// `group`.
    pub group: Option<String>,
    /// That group's sys_id, when it came from ServiceNow (group names need not be unique).
    pub group_sys_id: Option<String>,
    /// Where it came from.
    pub source: OwnerSource,
    /// The node's CI (VM instance or SSM agent): what the incident's `cmdb_ci` should reference.
    pub ci: Option<CiRef>,
    /// Which field of which CI named the owner (ServiceNow only).
    pub origin: Option<OwnerOrigin>,
}

impl Owner {
    /// An owner known by name only (tags, static configuration, the default).
    pub fn named(name: impl Into<String>, source: OwnerSource) -> Owner {
        Owner {
            name: name.into(),
            email: None,
            group: None,
            group_sys_id: None,
            source,
            ci: None,
            origin: None,
        }
    }
}

/// What a CMDB answered about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The node and its owner.
    Found(Owner),
    /// The CMDB knows the node (its CI, for ServiceNow) but none of the owner fields is set.
    Unowned(Option<CiRef>),
    /// The CMDB answered that it does not know the node: a negative answer, not an outage.
    Unknown,
}

impl Lookup {
    /// The owner, when found.
    pub fn owner(&self) -> Option<&Owner> {
        match self {
            Lookup::Found(o) => Some(o),
            _ => None,
        }
    }

    /// The node's CI, when the CMDB knows one (found or unowned).
    pub fn ci(&self) -> Option<&CiRef> {
        match self {
            Lookup::Found(o) => o.ci.as_ref(),
            Lookup::Unowned(ci) => ci.as_ref(),
            Lookup::Unknown => None,
        }
    }
}

/// The node asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node<'a> {
    /// AWS account id.
    pub account: &'a str,
    /// AWS region.
    pub region: &'a str,
    /// Instance id (`i-…`) or managed-instance id (`mi-…`).
    pub id: &'a str,
}

/// An owner field of a CI (fields of `cmdb_ci`). `assignment_group` is not one: on a CI it is
/// labelled "Change Group", the group that approves changes, not the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerField {
    /// `owned_by` → `sys_user`.
    OwnedBy,
    /// `managed_by` → `sys_user`.
    ManagedBy,
    /// `assigned_to` → `sys_user`.
    AssignedTo,
    /// `supported_by` → `sys_user`.
    SupportedBy,
    /// `support_group` → `sys_user_group`.
    SupportGroup,
    /// `managed_by_group` → `sys_user_group`.
    ManagedByGroup,
}

impl OwnerField {
    /// The default order: `owned_by, managed_by, support_group, managed_by_group`.
    pub const DEFAULT_ORDER: [OwnerField; 4] = [
        OwnerField::OwnedBy,
        OwnerField::ManagedBy,
        OwnerField::SupportGroup,
        OwnerField::ManagedByGroup,
    ];

    /// Every owner field.
    pub const ALL: [OwnerField; 6] = [
        OwnerField::OwnedBy,
        OwnerField::ManagedBy,
        OwnerField::AssignedTo,
        OwnerField::SupportedBy,
        OwnerField::SupportGroup,
        OwnerField::ManagedByGroup,
    ];

    /// The field's name on `cmdb_ci`.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerField::OwnedBy => "owned_by",
            OwnerField::ManagedBy => "managed_by",
            OwnerField::AssignedTo => "assigned_to",
            OwnerField::SupportedBy => "supported_by",
            OwnerField::SupportGroup => "support_group",
            OwnerField::ManagedByGroup => "managed_by_group",
        }
    }

    /// Whether it references a group (`sys_user_group`) rather than a user.
    pub fn is_group(self) -> bool {
        matches!(self, OwnerField::SupportGroup | OwnerField::ManagedByGroup)
    }

    /// The table it references.
    pub fn table(self) -> &'static str {
        if self.is_group() { "sys_user_group" } else { "sys_user" }
    }
}

impl std::fmt::Display for OwnerField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OwnerField {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OwnerField::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| match s {
                "assignment_group" => ConfigError::AssignmentGroup,
                _ => ConfigError::UnknownField(s.to_owned()),
            })
    }
}

/// A CMDB client's configuration is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not an owner field.
    #[error(
        "`{0}` is not an owner field: use owned_by, managed_by, assigned_to, supported_by, support_group or managed_by_group"
    )]
    UnknownField(String),
    /// `assignment_group` asked for.
    #[error("`assignment_group` on a CI is its Change Group, not its owner: use support_group or managed_by_group")]
    AssignmentGroup,
    /// No owner field, or one twice.
    #[error("the owner fields must name at least one field, each once (got `{0}`)")]
    Fields(String),
    /// A URL template that cannot work.
    #[error("URL template `{template}`: {problem}")]
    Template {
        /// The template.
        template: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Either CMDB, as the bridge's configuration chooses.
#[derive(Clone)]
pub enum Cmdb {
    /// ServiceNow's CMDB.
    ServiceNow(ServiceNowCmdb),
    /// An HTTP JSON CMDB.
    Http(HttpCmdb),
}

impl Cmdb {
    /// The owner of `node`.
    pub async fn lookup(&self, node: &Node<'_>) -> Result<Lookup, Failure> {
        match self {
            Cmdb::ServiceNow(c) => c.lookup(node).await,
            Cmdb::Http(c) => c.lookup(node).await,
        }
    }

    /// The source its owners carry.
    pub fn source(&self) -> OwnerSource {
        match self {
            Cmdb::ServiceNow(_) => OwnerSource::ServiceNow,
            Cmdb::Http(_) => OwnerSource::Http,
        }
    }
}

/// `s` trimmed, or `None` when that leaves nothing.
fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if a lookup can run on a multi-threaded runtime (the bridge boxes it as
    /// `dyn Future + Send`).
    #[allow(dead_code)]
    fn lookups_are_send<'a>(c: &'a Cmdb, n: &'a Node<'a>) -> impl Future<Output = Result<Lookup, Failure>> + Send + 'a {
        c.lookup(n)
    }

    #[test]
    fn owner_fields_parse_and_refuse_the_change_group() {
        assert_eq!("managed_by_group".parse(), Ok(OwnerField::ManagedByGroup));
        assert_eq!(
            "assignment_group".parse::<OwnerField>(),
            Err(ConfigError::AssignmentGroup)
        );
        assert!(matches!("owner".parse::<OwnerField>(), Err(ConfigError::UnknownField(f)) if f == "owner"));
        assert!(OwnerField::ALL.iter().all(|f| f.as_str().parse() == Ok(*f)));
        assert_eq!(OwnerField::SupportGroup.table(), "sys_user_group");
        assert_eq!(OwnerField::SupportedBy.table(), "sys_user");
    }
}
