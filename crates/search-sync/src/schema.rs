//! What the copy needs to know about an index definition: the key field
//! (which must be sortable and filterable for key-range paging) and which
//! fields can be read back.

use serde_json::Value;

use crate::error::{Result, SyncError};

#[derive(Debug, Clone)]
pub struct IndexSchema {
    pub name: String,
    pub key_field: String,
    /// Top-level fields a search can return; the `$select` of every page.
    pub retrievable: Vec<String>,
    /// Fields (`parent/child` for sub-fields) that are stored but cannot be
    /// read back, so cannot be copied.
    pub non_retrievable: Vec<String>,
    pub definition: Value,
}

impl IndexSchema {
    pub fn from_definition(definition: Value) -> Result<Self> {
        let name = definition
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let err = |message: String| SyncError::Schema {
            index: name.clone(),
            message,
        };
        let fields = definition
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| err("the definition has no fields".into()))?;
        let mut key_field = None;
        let mut retrievable = Vec::new();
        let mut non_retrievable = Vec::new();
        for f in fields {
            let fname = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| err("a field without a name".into()))?;
            if flag(f, "key", false) {
                if key_field.is_some() {
                    return Err(err("more than one key field".into()));
                }
                if f.get("type").and_then(Value::as_str) != Some("Edm.String") {
                    return Err(err(format!("key field {fname} is not Edm.String")));
                }
                // Paging by key ranges needs $orderby and $filter on the key.
                for attr in ["sortable", "filterable"] {
                    if !flag(f, attr, true) {
                        return Err(err(format!(
                            "key field {fname} is not {attr}; key-range paging needs it \
                             sortable and filterable (make it so, or copy with another tool)"
                        )));
                    }
                }
                key_field = Some(fname.to_string());
            }
            if is_retrievable(f) {
                retrievable.push(fname.to_string());
                collect_hidden_subfields(f, fname, &mut non_retrievable);
            } else {
                non_retrievable.push(fname.to_string());
            }
        }
        let key_field = key_field.ok_or_else(|| err("no key field".into()))?;
        if !retrievable.contains(&key_field) {
            return Err(err(format!("key field {key_field} is not retrievable")));
        }
        Ok(Self {
            name,
            key_field,
            retrievable,
            non_retrievable,
            definition,
        })
    }

    /// Warnings an operator must see before trusting a copy.
    pub fn warnings(&self) -> Vec<String> {
        self.non_retrievable
            .iter()
            .map(|f| {
                format!(
                    "index {}: field {f} is not retrievable; its values cannot be read, so they \
                     are not copied (the target gets the field, empty)",
                    self.name
                )
            })
            .collect()
    }
}

fn flag(f: &Value, name: &str, default: bool) -> bool {
    f.get(name).and_then(Value::as_bool).unwrap_or(default)
}

fn is_retrievable(f: &Value) -> bool {
    // `hidden` is the older name for "not retrievable".
    flag(f, "retrievable", true) && !flag(f, "hidden", false)
}

fn collect_hidden_subfields(f: &Value, path: &str, out: &mut Vec<String>) {
    for sub in f
        .get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(n) = sub.get("name").and_then(Value::as_str) else {
            continue;
        };
        let p = format!("{path}/{n}");
        if is_retrievable(sub) {
            collect_hidden_subfields(sub, &p, out);
        } else {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_key_and_hidden_fields() {
        let s = IndexSchema::from_definition(json!({
            "name": "kb",
            "fields": [
                {"name": "id", "type": "Edm.String", "key": true, "sortable": true, "filterable": true},
                {"name": "text", "type": "Edm.String"},
                {"name": "vector", "type": "Collection(Edm.Single)", "retrievable": false},
                {"name": "addr", "type": "Edm.ComplexType", "fields": [
                    {"name": "city", "type": "Edm.String"},
                    {"name": "code", "type": "Edm.String", "retrievable": false}
                ]},
                {"name": "old", "type": "Edm.String", "hidden": true}
            ]
        }))
        .unwrap();
        assert_eq!(s.key_field, "id");
        assert_eq!(s.retrievable, vec!["id", "text", "addr"]);
        assert_eq!(s.non_retrievable, vec!["vector", "addr/code", "old"]);
        assert_eq!(s.warnings().len(), 3);
    }

    #[test]
    fn rejects_unpageable_keys() {
        for def in [
            json!({"name": "x", "fields": [{"name": "id", "type": "Edm.String", "key": true, "sortable": false}]}),
            json!({"name": "x", "fields": [{"name": "id", "type": "Edm.String", "key": true, "filterable": false}]}),
            json!({"name": "x", "fields": [{"name": "id", "type": "Edm.String"}]}),
            json!({"name": "x"}),
        ] {
            let e = IndexSchema::from_definition(def).unwrap_err();
            assert!(matches!(e, SyncError::Schema { .. }), "{e}");
        }
    }
}
