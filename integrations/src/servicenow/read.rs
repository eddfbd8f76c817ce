//! Reads of the incident table: the open incidents of a correlation key, the newest row of a key,
//! the same for several keys in one query, rows of any table. Every answer is checked row by row
//! against what was asked (ServiceNow silently drops a query term it cannot apply).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value as Json;

use super::Client;
use super::incident::Incident;
use super::query::{self, FIELDS, LATEST_PER_KEY};
use super::response::parse;
use super::state::IncidentState;
use crate::retry::{Failure, transport};

impl Client {
    /// The open incident carrying `key`, if any (checked: the row must carry exactly that key).
    pub async fn find_open(&self, key: &str) -> Result<Option<Incident>, Failure> {
        Ok(self.open_with_key(key, 1).await?.into_iter().next())
    }

    /// Open incidents carrying `key`, oldest first (at most `limit`; rows not carrying exactly
    /// `key`, or not open, are dropped).
    pub async fn open_with_key(&self, key: &str, limit: usize) -> Result<Vec<Incident>, Failure> {
        // "Open" is a state, not `active=true`: a Resolved incident stays active for a day.
        let rows = self.list(&query::open_with_key(key), limit).await?;
        // ServiceNow silently drops a query term it cannot apply; never trust the filter.
        Ok(rows
            .into_iter()
            .filter(|i| i.correlation_id == key && i.is_open())
            .collect())
    }

    /// Rows matching an encoded `query` (at most `limit`), with the fields [`Incident`] reads.
    /// The caller checks every row against what it asked for.
    pub async fn list(&self, query: &str, limit: usize) -> Result<Vec<Incident>, Failure> {
        let limit = limit.to_string();
        self.cfg
            .retry
            .run(|| async {
                let req = self.http.get(self.table_url()).query(&[
                    ("sysparm_query", query),
                    ("sysparm_limit", limit.as_str()),
                    ("sysparm_fields", FIELDS),
                    ("sysparm_exclude_reference_link", "true"),
                ]);
                let resp = self.authed(req).await?.send().await.map_err(transport)?;
                #[derive(Deserialize)]
                struct Rows {
                    result: Vec<Incident>,
                }
                Ok(parse::<Rows>(resp).await?.result)
            })
            .await
    }

    /// Rows of any `table` (not only the configured one), with auth and retries: a `GET
    /// /api/now/v2/table/{table}` with the caller's `sysparm_*` parameters, each row as the JSON
    /// object ServiceNow sent (shape set by `sysparm_display_value` and
    /// `sysparm_exclude_reference_link`). For readers of other tables, such as
    /// [`crate::cmdb`]; the caller checks every row against what it asked for.
    pub async fn rows(
        &self,
        table: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<serde_json::Map<String, Json>>, Failure> {
        let url = self.url_of(table);
        self.cfg
            .retry
            .run(|| async {
                let req = self.http.get(&url).query(params);
                let resp = self.authed(req).await?.send().await.map_err(transport)?;
                #[derive(Deserialize)]
                struct Rows {
                    result: Vec<serde_json::Map<String, Json>>,
                }
                Ok(parse::<Rows>(resp).await?.result)
            })
            .await
    }

    /// The newest row carrying `key` that is not a canceled duplicate, in any other state:
    /// what a resolution, a reopen or a repeat decides on.
    pub async fn latest_with_key(&self, key: &str) -> Result<Option<Incident>, Failure> {
        let rows = self.list(&query::latest_with_key(key), LATEST_PER_KEY).await?;
        Ok(rows
            .into_iter()
            .find(|i| i.correlation_id == key && i.state() != Some(IncidentState::Canceled)))
    }

    /// [`Client::latest_with_key`] for several keys in one query
    /// (`correlation_idINk1,k2,…`, newest first): every key gets an entry. The answer is read as
    /// complete only when fewer rows came back than asked for; otherwise each key with no row in
    /// it is asked alone (the rows that did come are the newest of all, so a key that has one has
    /// its newest). A key with a comma cannot be listed, and is asked alone too.
    pub async fn latest_with_keys(&self, keys: &[String]) -> Result<HashMap<String, Option<Incident>>, Failure> {
        let (listed, alone): (Vec<&String>, Vec<&String>) = keys.iter().partition(|k| !k.contains(','));
        let mut out: HashMap<String, Option<Incident>> = HashMap::new();
        let mut ask_alone: Vec<&String> = alone;
        if listed.len() > 1 {
            let limit = LATEST_PER_KEY * listed.len();
            let rows = self.list(&query::latest_with_keys(&listed), limit).await?;
            let complete = rows.len() < limit;
            for row in rows {
                if row.state() != Some(IncidentState::Canceled)
                    && listed.contains(&&row.correlation_id)
                    && !out.contains_key(&row.correlation_id)
                {
                    out.insert(row.correlation_id.clone(), Some(row));
                }
            }
            for key in listed {
                if !out.contains_key(key) {
                    if complete {
                        out.insert(key.clone(), None);
                    } else {
                        ask_alone.push(key);
                    }
                }
            }
        } else {
            ask_alone.extend(listed);
        }
        for key in ask_alone {
            out.insert(key.clone(), self.latest_with_key(key).await?);
        }
        Ok(out)
    }

    /// [`Client::open_with_key`] for several keys in one query (`correlation_idINk1,k2,…`,
    /// oldest first), at most `limit` rows per key. If as many rows came back as asked for, the
    /// keys are asked one by one instead; a key with a comma is always asked alone.
    pub async fn open_with_keys(
        &self,
        keys: &[String],
        limit: usize,
    ) -> Result<HashMap<String, Vec<Incident>>, Failure> {
        let (listed, mut ask_alone): (Vec<&String>, Vec<&String>) = keys.iter().partition(|k| !k.contains(','));
        let mut out: HashMap<String, Vec<Incident>> = HashMap::new();
        if listed.len() > 1 {
            let asked = limit * listed.len();
            let rows = self.list(&query::open_with_keys(&listed), asked).await?;
            if rows.len() < asked {
                for key in &listed {
                    out.insert((*key).clone(), Vec::new());
                }
                for row in rows {
                    if row.is_open()
                        && let Some(rows) = out.get_mut(&row.correlation_id)
                        && rows.len() < limit
                    {
                        rows.push(row);
                    }
                }
            } else {
                ask_alone.extend(listed);
            }
        } else {
            ask_alone.extend(listed);
        }
        for key in ask_alone {
            out.insert(key.clone(), self.open_with_key(key, limit).await?);
        }
        Ok(out)
    }

    /// Open rows whose key starts with `prefix` and ends with `suffix` (at most 100): the failed
    /// executions of one window, the failed commands on one node.
    pub async fn open_with_prefix(&self, prefix: &str, suffix: &str) -> Result<Vec<Incident>, Failure> {
        let rows = self.list(&query::open_with_prefix(prefix, suffix), 100).await?;
        Ok(rows
            .into_iter()
            .filter(|i| i.correlation_id.starts_with(prefix) && i.correlation_id.ends_with(suffix) && i.is_open())
            .collect())
    }
}
