//! @mentions of the bot in a message's text. In a Teams channel the bot only
//! hears messages that @mention it, so every one arrives as
//! `<at>FAQ Bot</at> how old are you` with a `mention` entity; the question
//! is what follows. botbuilder's `removeRecipientMention` takes the bot's
//! own mention out before anything reads the text; so do we, and other
//! people's mentions stay.

use std::borrow::Cow;

use serde_json::Value;

use crate::activity::Activity;

impl Activity {
    /// The `mention` entities (any case of the type name, as botbuilder's
    /// `getMentions` reads them).
    pub fn mentions(&self) -> impl Iterator<Item = &Value> {
        self.entities.iter().flatten().filter(|e| {
            e.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("mention"))
        })
    }

    /// The text without the recipient's own mentions, trimmed. Borrowed
    /// when there is nothing to take out.
    pub fn text_without_recipient_mention(&self) -> Cow<'_, str> {
        let text = self.text.as_deref().unwrap_or("");
        let Some(bot) = self.recipient_id().filter(|id| !id.is_empty()) else {
            return Cow::Borrowed(text.trim());
        };
        let mut out = Cow::Borrowed(text);
        for m in self.mentions() {
            if m["mentioned"]["id"].as_str() != Some(bot) {
                continue;
            }
            // The entity's own text is what the channel put in the message;
            // without it, Teams' markup around the mentioned name.
            let markup = match (m["text"].as_str(), m["mentioned"]["name"].as_str()) {
                (Some(t), _) if !t.is_empty() => t.to_string(),
                (_, Some(name)) => format!("<at>{name}</at>"),
                _ => continue,
            };
            if out.contains(markup.as_str()) {
                out = Cow::Owned(out.replace(markup.as_str(), " "));
            }
        }
        match out {
            Cow::Borrowed(t) => Cow::Borrowed(t.trim()),
            // Mentions taken out of the middle leave double spaces.
            Cow::Owned(t) => Cow::Owned(t.split_whitespace().collect::<Vec<_>>().join(" ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::ChannelAccount;
    use serde_json::json;

    fn message(text: &str, entities: Value) -> Activity {
        Activity {
            text: Some(text.into()),
            recipient: Some(ChannelAccount {
                id: Some("28:bot".into()),
                name: Some("FAQ Bot".into()),
                ..Default::default()
            }),
            entities: entities.as_array().cloned(),
            ..Default::default()
        }
    }

    fn mention(id: &str, name: &str) -> Value {
        json!({"type": "mention", "mentioned": {"id": id, "name": name}, "text": format!("<at>{name}</at>")})
    }

    #[test]
    fn the_bots_own_mention_is_taken_out_and_others_kept() {
        let a = message(
            "<at>FAQ Bot</at> ask <at>Ada</at> how old are you",
            json!([mention("28:bot", "FAQ Bot"), mention("29:ada", "Ada")]),
        );
        assert_eq!(
            a.text_without_recipient_mention(),
            "ask <at>Ada</at> how old are you"
        );
    }

    #[test]
    fn without_a_mention_entity_the_text_is_kept_as_sent() {
        let a = message("  <at>FAQ Bot</at> hi ", json!([]));
        assert!(matches!(
            a.text_without_recipient_mention(),
            Cow::Borrowed("<at>FAQ Bot</at> hi")
        ));
    }

    #[test]
    fn every_mention_of_the_bot_goes_and_the_type_is_matched_in_any_case() {
        let mut m = mention("28:bot", "FAQ Bot");
        m["type"] = json!("Mention");
        let a = message(
            "how old <at>FAQ Bot</at> are you <at>FAQ Bot</at>",
            json!([m]),
        );
        assert_eq!(a.text_without_recipient_mention(), "how old are you");
        // No entity text: Teams' markup around the mentioned name.
        let a = message(
            "<at>FAQ Bot</at> hello",
            json!([{"type": "mention", "mentioned": {"id": "28:bot", "name": "FAQ Bot"}}]),
        );
        assert_eq!(a.text_without_recipient_mention(), "hello");
    }
}
