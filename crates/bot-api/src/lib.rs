//! The bot service: `/api/messages`, the turn pipeline, health.

pub mod app_state;
pub mod directline;
pub mod drain;
pub mod error;
pub mod intents;
pub mod proactive;
pub mod readiness;
pub mod routes;
pub mod security;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod transcripts;

pub use app_state::AppState;
pub use error::ApiError;
pub use settings::Settings;
