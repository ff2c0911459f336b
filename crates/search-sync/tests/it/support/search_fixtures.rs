//! Index definitions and documents the search-sync tests put into the
//! Azure AI Search stand-in.

use serde_json::{json, Value};

use super::search_server::Doc;

/// A definition like the REST reference's examples: key `id`, plus the
/// fields given as (name, type, retrievable).
pub fn definition(name: &str, extra: &[(&str, &str, bool)]) -> Value {
    let mut fields = vec![json!({
        "name": "id", "type": "Edm.String", "key": true, "retrievable": true,
        "searchable": false, "filterable": true, "sortable": true, "facetable": false
    })];
    for (n, t, r) in extra {
        fields.push(json!({
            "name": n, "type": t, "retrievable": r, "searchable": *t == "Edm.String",
            "filterable": false, "sortable": false, "facetable": false
        }));
    }
    json!({"name": name, "fields": fields, "synonymMaps": []})
}

pub fn doc(i: usize) -> Doc {
    let v = json!({
        "id": format!("doc-{i:07}"),
        "title": format!("Title {i}"),
        "rating": (i % 5) as i64,
        "tags": ["a", "b"],
    });
    v.as_object().unwrap().clone()
}
