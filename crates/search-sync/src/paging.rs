//! Reading every document of an index by key ranges: `$orderby` on the key,
//! `$filter=key gt 'last'`, `$top` at most 1000. Unlike `$skip` paging this
//! has no 100,000-document ceiling, and a failed page is simply asked again.

use serde_json::{json, Map, Value};

use crate::client::IndexClient;
use crate::error::{Result, SyncError};

/// The service's largest `$top` for one search request.
pub const MAX_PAGE: usize = 1000;

pub type Document = Map<String, Value>;

pub struct KeyPager {
    client: IndexClient,
    key_field: String,
    select: String,
    page_size: usize,
    last_key: Option<String>,
    done: bool,
}

impl KeyPager {
    /// Pages `client` from after `start_after` (None: from the start),
    /// selecting `fields` (the retrievable ones).
    pub fn new(
        client: IndexClient,
        key_field: &str,
        fields: &[String],
        page_size: usize,
        start_after: Option<String>,
    ) -> Result<Self> {
        if page_size == 0 || page_size > MAX_PAGE {
            return Err(SyncError::Invalid(format!(
                "page size {page_size} must be between 1 and {MAX_PAGE}"
            )));
        }
        Ok(Self {
            client,
            key_field: key_field.to_string(),
            select: fields.join(","),
            page_size,
            last_key: start_after,
            done: false,
        })
    }

    pub fn last_key(&self) -> Option<&str> {
        self.last_key.as_deref()
    }

    /// The next page in key order, or None after the last one. Each call
    /// retries on its own (see `RetryPolicy`); after an error the pager can
    /// be called again and continues from the last key it returned.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Document>>> {
        if self.done {
            return Ok(None);
        }
        let mut body = json!({
            "search": "*",
            "orderby": format!("{} asc", self.key_field),
            "top": self.page_size,
            "select": self.select,
            "count": false,
        });
        if let Some(k) = &self.last_key {
            body["filter"] = Value::String(format!("{} gt {}", self.key_field, odata_string(k)));
        }
        let mut docs = self.client.search(&body).await?;
        if docs.len() > self.page_size {
            return Err(self.protocol(format!(
                "asked for {} documents, got {}",
                self.page_size,
                docs.len()
            )));
        }
        for d in docs.iter_mut() {
            d.retain(|k, _| !k.starts_with("@search."));
            let key = match d.get(&self.key_field) {
                Some(Value::String(s)) => s.clone(),
                _ => return Err(self.protocol(format!("a document without {}", self.key_field))),
            };
            // Keys must rise strictly, or the next filter would loop or skip.
            if self
                .last_key
                .as_ref()
                .is_some_and(|l| key.as_str() <= l.as_str())
            {
                return Err(self.protocol(format!(
                    "key {key:?} does not follow {:?}: results are not in key order",
                    self.last_key.as_deref().unwrap_or("")
                )));
            }
            self.last_key = Some(key);
        }
        if docs.len() < self.page_size {
            self.done = true;
        }
        if docs.is_empty() {
            return Ok(None);
        }
        Ok(Some(docs))
    }

    fn protocol(&self, message: String) -> SyncError {
        SyncError::Protocol {
            what: format!("paging {}", self.client.label()),
            message,
        }
    }
}

/// An OData string literal: single quotes doubled.
pub fn odata_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_are_doubled() {
        assert_eq!(super::odata_string("O'Brien"), "'O''Brien'");
    }
}
