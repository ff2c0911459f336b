//! What each channel can show: the one table of channel capabilities.
//!
//! The bot decides how to present choices and how to mark up text from
//! here and nowhere else. Each row names where its figures come from:
//! botbuilder-dialogs' `choices/channel.ts` (`supportsSuggestedActions`,
//! `supportsCardActions`), the Teams platform documentation, and the Bot
//! Framework channel reference on text formatting. To add a channel, add a
//! row (and say where its figures come from).

/// The channel ids the Bot Framework uses (botbuilder's `Channels`).
pub mod ids {
    pub const DIRECTLINE: &str = "directline";
    pub const DIRECTLINE_SPEECH: &str = "directlinespeech";
    pub const EMAIL: &str = "email";
    pub const EMULATOR: &str = "emulator";
    pub const FACEBOOK: &str = "facebook";
    pub const GROUPME: &str = "groupme";
    pub const KIK: &str = "kik";
    pub const LINE: &str = "line";
    pub const MSTEAMS: &str = "msteams";
    pub const SKYPE: &str = "skype";
    pub const SLACK: &str = "slack";
    pub const SMS: &str = "sms";
    pub const TELEGRAM: &str = "telegram";
    pub const WEBCHAT: &str = "webchat";
}

/// What a channel shows of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// At most this many `suggestedActions` are shown; 0: none are.
    pub suggested_actions: usize,
    /// At most this many buttons on one card are shown; 0: card buttons are not.
    pub card_actions: usize,
    /// Whether the channel renders `textFormat: "markdown"`.
    pub markdown: bool,
}

const fn caps(suggested_actions: usize, card_actions: usize, markdown: bool) -> Capabilities {
    Capabilities {
        suggested_actions,
        card_actions,
        markdown,
    }
}

/// Channels this table does not name, custom Direct Line clients among
/// them: what this bot sent before the table existed (suggested actions,
/// plain text). botbuilder would fall back to a numbered text list.
pub const DEFAULT: Capabilities = caps(100, 100, false);

/// channel id -> capabilities. Sources, by column:
/// suggested / card actions: botbuilder-dialogs `choices/channel.ts`
/// unless the row says otherwise; markdown: the Bot Framework channel
/// reference ("Bot Framework markdown support by channel") unless the row
/// says otherwise.
const TABLE: &[(&str, Capabilities)] = &[
    // channel.ts: suggested 100, cards 100. Web Chat renders markdown.
    (ids::WEBCHAT, caps(100, 100, true)),
    (ids::DIRECTLINE, caps(100, 100, true)),
    (ids::DIRECTLINE_SPEECH, caps(100, 100, true)),
    (ids::EMULATOR, caps(100, 100, true)),
    // Suggested: Teams "Dynamically guide users with suggested actions"
    // (Teams shows the first three, in every scope). Cards: channel.ts (50).
    // Markdown: Teams "Format your bot messages" (a subset of markdown).
    (ids::MSTEAMS, caps(3, 50, true)),
    // channel.ts: suggested 10, cards 3. Messenger shows no markdown.
    (ids::FACEBOOK, caps(10, 3, false)),
    // channel.ts: suggested 10, cards 3. Skype renders markdown.
    (ids::SKYPE, caps(10, 3, true)),
    // channel.ts: suggested 13, cards 99. LINE shows no markdown.
    (ids::LINE, caps(13, 99, false)),
    // channel.ts: suggested 20, no card actions. Kik shows no markdown.
    (ids::KIK, caps(20, 0, false)),
    // channel.ts: suggested 100, cards 100. Telegram renders markdown.
    (ids::TELEGRAM, caps(100, 100, true)),
    // channel.ts: no suggested actions, cards 100. The Slack connector
    // turns markdown into Slack's mrkdwn.
    (ids::SLACK, caps(0, 100, true)),
    // channel.ts: neither. The email channel renders markdown as HTML.
    (ids::EMAIL, caps(0, 0, true)),
    // channel.ts: neither. SMS is plain text.
    (ids::SMS, caps(0, 0, false)),
    // channel.ts: neither. GroupMe shows no markdown.
    (ids::GROUPME, caps(0, 0, false)),
];

/// The capabilities of `channel_id` (its row, or [`DEFAULT`]).
pub fn capabilities(channel_id: &str) -> Capabilities {
    TABLE
        .iter()
        .find(|(id, _)| *id == channel_id)
        .map_or(DEFAULT, |(_, c)| *c)
}

/// botbuilder's `getConversationReference` leaves the activity id out of a
/// conversationUpdate's reference on these channels: Web Chat would wait for
/// a reply to an activity it never showed.
pub fn replies_to_conversation_update(channel_id: &str) -> bool {
    !matches!(channel_id, ids::DIRECTLINE | ids::WEBCHAT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_found_and_unknown_channels_get_the_default() {
        assert_eq!(capabilities("msteams").suggested_actions, 3);
        assert_eq!(capabilities("slack").suggested_actions, 0);
        assert_eq!(capabilities("sms"), caps(0, 0, false));
        assert!(capabilities("webchat").markdown);
        assert_eq!(capabilities("some-custom-channel"), DEFAULT);
        assert_eq!(capabilities(""), DEFAULT);
    }

    #[test]
    fn each_channel_has_one_row() {
        let mut ids: Vec<&str> = TABLE.iter().map(|(id, _)| *id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), TABLE.len());
    }
}
