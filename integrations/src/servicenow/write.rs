//! Writes to the incident table: create (once, even when an attempt goes unanswered), patch,
//! work notes, resolve, reopen, close a duplicate, and the upsert that settles races between
//! bridges. Each write goes through [`Client::write`], alone or in a batch ([`super::batch`]).

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value as Json, json};

use super::incident::{Incident, NewIncident, Upserted};
use super::query::WRITE_FIELDS;
use super::response::{Result1, parse, read};
use super::state::IncidentState;
use super::{Client, table_path};
use crate::retry::{Failure, transport};

impl Client {
    /// Creates an incident carrying `key`.
    pub async fn create(&self, key: &str, new: &NewIncident) -> Result<Incident, Failure> {
        self.create_with(key, new, serde_json::Map::new()).await
    }

    /// Creates an incident carrying `key`, with `extra` fields (`due_date`, `correlation_display`,
    /// a `state` with its close fields, …) beside those of `new`.
    pub async fn create_with(
        &self,
        key: &str,
        new: &NewIncident,
        extra: serde_json::Map<String, Json>,
    ) -> Result<Incident, Failure> {
        self.create_once(key, new, extra, None).await
    }

    /// [`Client::create_with`], made once even when an attempt goes unanswered. A `POST` whose
    /// answer was lost (a timeout, a dropped connection, a 5xx from a proxy) may have created the
    /// row, and sending it again would make a second. So when `extra` carries the create's
    /// `correlation_display` (the event's time), each retry first reads the key's newest row: a
    /// row other than `known` (the newest before this create) carrying that same value is the
    /// one an earlier attempt made, and is returned instead of creating another.
    pub async fn create_once(
        &self,
        key: &str,
        new: &NewIncident,
        extra: serde_json::Map<String, Json>,
        known: Option<&str>,
    ) -> Result<Incident, Failure> {
        let mut body = json!({
            "short_description": new.short_description,
            "description": new.description,
            "correlation_id": key,
            "urgency": new.urgency.to_string(),
            "impact": new.impact.to_string(),
        });
        if let Some(g) = &new.assignment_group {
            body["assignment_group"] = Json::String(g.clone());
        }
        let marker = match extra.get("correlation_display") {
            Some(Json::String(m)) if !m.is_empty() => Some(m.clone()),
            _ => None,
        };
        if let Some(fields) = body.as_object_mut() {
            fields.extend(extra);
        }
        let body = Arc::new(body);
        let path = format!("{}{WRITE_FIELDS}", table_path(&self.cfg.table));
        let mut sent = false;
        self.cfg
            .retry
            .run(|| {
                let again = std::mem::replace(&mut sent, true);
                let (path, body, marker) = (&path, &body, &marker);
                async move {
                    if again
                        && let Some(marker) = marker
                        && let Some(row) = self.latest_with_key(key).await?
                        && Some(row.sys_id.as_str()) != known
                        && row.correlation_display == *marker
                    {
                        tracing::debug!(%key, number = %row.number, "An unanswered create had made the row");
                        return Ok(row);
                    }
                    self.write_attempt(&Method::POST, path, body).await
                }
            })
            .await
    }

    /// Sends a write (`POST` or `PATCH` of `path` with its query, from the instance's root) with auth and
    /// retries, in a batch with others when batching, and returns the row ServiceNow answers with.
    pub(super) async fn write(&self, method: Method, path: String, body: Json) -> Result<Incident, Failure> {
        let body = Arc::new(body);
        self.cfg.retry.run(|| self.write_attempt(&method, &path, &body)).await
    }

    /// One attempt of [`Client::write`].
    async fn write_attempt(&self, method: &Method, path: &str, body: &Arc<Json>) -> Result<Incident, Failure> {
        if self.batching()
            && let Some(reply) = self.write_in_batch(method, path, body).await
        {
            let (status, text) = reply?;
            return Ok(read::<Result1<Incident>>(status, None, &text)?.result);
        }
        let url = format!("{}{path}", self.cfg.base_url.trim_end_matches('/'));
        let req = self.http.request(method.clone(), &url).json(&**body);
        let resp = self.authed(req).await?.send().await.map_err(transport)?;
        Ok(parse::<Result1<Incident>>(resp).await?.result)
    }

    /// PATCHes fields of one incident (with retries) and returns the updated row.
    pub async fn patch(&self, sys_id: &str, body: Json) -> Result<Incident, Failure> {
        self.write(
            Method::PATCH,
            format!("{}/{sys_id}{WRITE_FIELDS}", table_path(&self.cfg.table)),
            body,
        )
        .await
    }

    /// Adds a work note to an incident.
    pub async fn add_work_note(&self, sys_id: &str, note: &str) -> Result<Incident, Failure> {
        self.patch(sys_id, json!({ "work_notes": note })).await
    }

    /// Resolves an incident: state Resolved with both close fields (many instances make them
    /// mandatory by a UI policy, which REST bypasses; send them anyway). The integration account
    /// only resolves; ServiceNow closes it after `glide.ui.autoclose.time`.
    /// `stamp` is the time of the event that fixed it (kept in `correlation_display`).
    pub async fn resolve(
        &self,
        sys_id: &str,
        close_code: &str,
        close_notes: &str,
        stamp: &str,
    ) -> Result<Incident, Failure> {
        self.patch(
            sys_id,
            json!({
                "state": IncidentState::Resolved.as_str(),
                "close_code": close_code,
                "close_notes": close_notes,
                "correlation_display": stamp,
            }),
        )
        .await
    }

    /// Adds a work note and records `stamp`, the time of the event it reports.
    pub async fn note(&self, sys_id: &str, note: &str, stamp: &str) -> Result<Incident, Failure> {
        self.patch(sys_id, json!({ "work_notes": note, "correlation_display": stamp }))
            .await
    }

    /// Reopens a Resolved incident (back to In Progress) with a work note; ServiceNow itself
    /// counts `reopen_count`. A Closed incident cannot be reopened: open a new one instead.
    pub async fn reopen(&self, sys_id: &str, note: &str, stamp: &str) -> Result<Incident, Failure> {
        self.patch(
            sys_id,
            json!({ "state": IncidentState::InProgress.as_str(), "work_notes": note, "correlation_display": stamp }),
        )
        .await
    }

    /// Closes `dup` as a duplicate of `of`.
    pub async fn close_duplicate(&self, dup: &Incident, of: &Incident) -> Result<Incident, Failure> {
        let note = format!(
            "Duplicate of {}: opened concurrently for the same correlation key",
            of.number
        );
        self.patch(
            &dup.sys_id,
            json!({ "state": IncidentState::Canceled.as_str(), "close_code": "Duplicate", "work_notes": note }),
        )
        .await
    }

    /// Opens an incident for `key`, or adds `note` to the open one.
    ///
    /// The Table API has no create-if-absent, so two bridges can both find nothing and both
    /// create. After creating, the client lists the open incidents with the key, oldest first: if
    /// another one is older, it closes its own as a duplicate and adds the note to the oldest.
    /// Every bridge agrees on the oldest, so exactly one incident per key stays open. (Within one
    /// process the sink also serializes deliveries per key, so this only settles races between
    /// processes, and retries of a create whose first attempt did reach ServiceNow.)
    pub async fn upsert(&self, key: &str, new: &NewIncident, note: &str) -> Result<Upserted, Failure> {
        if let Some(open) = self.find_open(key).await? {
            self.add_work_note(&open.sys_id, note).await?;
            return Ok(Upserted::Updated(open));
        }
        let created = self.create(key, new).await?;
        let open = self.open_with_key(key, 10).await?;
        match open.first() {
            Some(oldest) if oldest.sys_id != created.sys_id => {
                self.close_duplicate(&created, oldest).await?;
                self.add_work_note(&oldest.sys_id, note).await?;
                Ok(Upserted::Updated(oldest.clone()))
            }
            _ => Ok(Upserted::Created(created)),
        }
    }
}
