//! The bot, without a web framework: what a turn does with an Activity.
//!
//! - `turn`: load state, run the bot, save with eTags (the commit point),
//!   re-run on a conflict; redeliveries never run twice.
//! - `outbox`: the replies saved with the turn, sent after it, each accepted
//!   reply marked; retried in the background, on redelivery and before the
//!   next activity.
//! - `state`: conversation and user state in botbuilder's document shape.
//! - `bot` and `dispatch`: the conversation logic and intent routing;
//!   `prompts`: how choices are shown on each channel.
//! - `handoff`: conversations handed to a person; `proactive`: messages
//!   the bot starts (an operator's), sent to a conversation's reference.
//!
//! The HTTP service (`bot-api`) is a layer around `Engine`: it authenticates
//! and parses, calls `turn::run` and `outbox`, and maps `CoreError` to
//! statuses. Nothing here knows about HTTP servers.

pub mod bot;
pub mod conversation_lock;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod handoff;
pub mod observer;
pub mod outbox;
pub mod proactive;
pub mod prompts;
pub mod state;
pub mod turn;

pub use bot::{Bot, BotConfig};
pub use engine::Engine;
pub use error::CoreError;
pub use observer::{NoObserver, TurnObserver};
