//! How a reply offers choices (a KB answer's follow-up prompts, the
//! welcome's suggestions) on its channel, so that every choice can be
//! reached wherever the user is:
//!
//! - suggested actions where the channel shows all of them;
//! - hero cards with `imBack` buttons where suggested actions would be cut
//!   (Teams shows three) or are not shown at all (Slack), as many cards as
//!   the channel's button limit needs;
//! - a list under the text where cards carry no buttons either (SMS).
//!
//! Pressing a button posts its text back, which is what the KB's follow-up
//! context expects. What each channel shows is `bot_schema::channels`.

use bot_schema::cards::HeroCard;
use bot_schema::channels::capabilities;
use bot_schema::{Activity, CardAction, SuggestedActions};

/// Adds `choices` to `reply` the way its channel shows them.
pub fn offer(reply: &mut Activity, choices: &[String]) {
    if choices.is_empty() {
        return;
    }
    let caps = capabilities(reply.channel_id());
    if choices.len() <= caps.suggested_actions {
        reply.suggested_actions = Some(SuggestedActions {
            actions: choices.iter().map(CardAction::im_back).collect(),
            ..Default::default()
        });
    } else if caps.card_actions > 0 {
        let cards = choices.chunks(caps.card_actions).map(|chunk| {
            HeroCard {
                buttons: chunk.iter().map(CardAction::im_back).collect(),
                ..Default::default()
            }
            .to_attachment()
        });
        let attachments = reply.attachments.get_or_insert_with(Vec::new);
        attachments.extend(cards);
        if attachments.len() > 1 {
            reply.attachment_layout = Some("list".to_string());
        }
    } else {
        let list: Vec<String> = choices.iter().map(|c| format!("- {c}")).collect();
        let list = list.join("\n");
        reply.text = Some(match reply.text.as_deref() {
            None | Some("") => list,
            Some(text) => format!("{text}\n\n{list}"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn reply(channel: &str) -> Activity {
        Activity {
            kind: Some("message".into()),
            channel_id: Some(channel.into()),
            text: Some("Pick one".into()),
            ..Default::default()
        }
    }

    fn choices(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("Choice {i}")).collect()
    }

    fn card_buttons(r: &Activity) -> Vec<Vec<String>> {
        r.attachments
            .iter()
            .flatten()
            .map(|a| {
                assert_eq!(
                    a.content_type.as_deref(),
                    Some(bot_schema::cards::HERO_CARD_CONTENT_TYPE)
                );
                a.content.as_ref().unwrap()["buttons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| {
                        assert_eq!(b["type"], "imBack");
                        assert_eq!(b["title"], b["value"]);
                        b["value"].as_str().unwrap().to_string()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn within_the_limit_choices_are_suggested_actions() {
        let mut r = reply("msteams");
        offer(&mut r, &choices(3));
        assert_eq!(r.suggested_actions.unwrap().actions.len(), 3);
        assert!(r.attachments.is_none());
    }

    #[test]
    fn past_the_limit_they_are_hero_card_buttons_all_of_them() {
        let mut r = reply("msteams");
        offer(&mut r, &choices(5));
        assert!(r.suggested_actions.is_none());
        assert_eq!(card_buttons(&r), vec![choices(5)]);
        assert_eq!(r.text.as_deref(), Some("Pick one"));
        // Facebook shows three buttons a card: as many cards as needed.
        let mut r = reply("facebook");
        offer(&mut r, &choices(11));
        let cards = card_buttons(&r);
        assert_eq!(cards.len(), 4);
        assert_eq!(cards.concat(), choices(11));
        assert_eq!(r.attachment_layout.as_deref(), Some("list"));
    }

    #[test]
    fn channels_without_suggested_actions_get_cards_and_without_buttons_a_list() {
        let mut r = reply("slack");
        offer(&mut r, &choices(2));
        assert_eq!(card_buttons(&r), vec![choices(2)]);
        let mut r = reply("sms");
        offer(&mut r, &choices(2));
        assert!(r.suggested_actions.is_none() && r.attachments.is_none());
        assert_eq!(
            r.text.as_deref(),
            Some("Pick one\n\n- Choice 1\n- Choice 2")
        );
    }

    #[test]
    fn no_choices_change_nothing() {
        let mut r = reply("msteams");
        offer(&mut r, &[]);
        assert_eq!(r, reply("msteams"));
        let v: Value = serde_json::to_value(&r).unwrap();
        assert!(v.get("suggestedActions").is_none());
    }
}
