//! The Web Chat page at `/` (local mode), and `/webchat.js` when
//! `webchat.script_file` names a local copy.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use super::Shared;
use crate::error::ApiError;
use crate::settings::QnaKind;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where the answers come from, for a person reading the page.
fn kb_source(qna: &QnaKind) -> String {
    match qna {
        QnaKind::Embedded { kb_path, .. } => format!("{} (embedded)", kb_path.display()),
        QnaKind::Cqa {
            remote,
            project,
            deployment,
        } => format!(
            "custom question answering {project}/{deployment} at {}",
            remote.endpoints.join(", ")
        ),
        QnaKind::QnaMaker { remote, kb_id } => {
            format!("QnA Maker {kb_id} at {}", remote.endpoints.join(", "))
        }
    }
}

pub async fn index(State(dl): State<Shared>) -> Html<String> {
    let settings = &dl.app.settings;
    let script = if settings.webchat.script_file.is_empty() {
        settings.webchat.script_url.as_str()
    } else {
        "/webchat.js"
    };
    Html(
        PAGE.replace("{region}", &escape(&settings.region))
            .replace("{kb}", &escape(&kb_source(&settings.qna)))
            .replace("{script}", &escape(script)),
    )
}

/// The local copy of `webchat.js`, read on each request so a newer copy
/// needs no restart.
pub async fn script(State(dl): State<Shared>) -> Result<Response, ApiError> {
    let path = &dl.app.settings.webchat.script_file;
    if path.is_empty() {
        return Err(ApiError::NotFound(
            "no local Web Chat copy: webchat.script_file is not set".into(),
        ));
    }
    let body = tokio::fs::read(path).await.map_err(|e| {
        ApiError::NotFound(format!("webchat.script_file {path:?} cannot be read: {e}"))
    })?;
    Ok((
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        body,
    )
        .into_response())
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bot ({region}) - Web Chat, local</title>
<style>
  html, body { height: 100%; margin: 0; font-family: system-ui, sans-serif; }
  body { display: flex; flex-direction: column; }
  #info { padding: 8px 14px; background: #f3f2f1; border-bottom: 1px solid #ccc; font-size: 14px; line-height: 1.5; }
  #info code { background: #e6e6e6; padding: 0 4px; border-radius: 3px; }
  #note { color: #7a4d00; }
  #webchat { flex: 1; min-height: 0; }
  #error { color: #a4262c; padding: 14px; }
</style>
</head>
<body>
<header id="info">
  <strong>Local bot</strong> &middot; region <code id="region">{region}</code>
  &middot; knowledge base <code id="kb">{kb}</code>
  &middot; <a href="/readyz">/readyz</a>
  <div id="note">Local mode: Direct Line is served by this bot and any secret or token is accepted. Do not expose this port.</div>
</header>
<div id="webchat" role="main"></div>
<div id="error" hidden></div>
<script id="webchat-script" src="{script}" crossorigin="anonymous"></script>
<script>
(async function () {
  const fail = message => {
    const e = document.getElementById('error');
    e.textContent = message;
    e.hidden = false;
  };
  if (!window.WebChat) {
    const src = document.getElementById('webchat-script').src;
    fail('Web Chat did not load from ' + src + '. Without internet, set webchat.script_file (BOT__WEBCHAT__SCRIPT_FILE) to a local copy of webchat.js (npm botframework-webchat, dist/webchat.js).');
    return;
  }
  const userID = 'user-' + Math.random().toString(36).slice(2, 10);
  try {
    const res = await fetch('/v3/directline/tokens/generate', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: { id: userID, name: 'You' } })
    });
    if (!res.ok) throw new Error('tokens/generate answered ' + res.status + ': ' + await res.text());
    const { token } = await res.json();
    window.WebChat.renderWebChat(
      {
        directLine: window.WebChat.createDirectLine({ token, domain: location.origin + '/v3/directline' }),
        userID,
        username: 'You'
      },
      document.getElementById('webchat')
    );
    document.getElementById('webchat').focus();
  } catch (e) {
    fail('Could not start a conversation: ' + e.message);
  }
})();
</script>
</body>
</html>
"#;
