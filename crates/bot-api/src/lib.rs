//! The bot service: `/api/messages`, the turn pipeline, health.

pub mod app_state;
pub mod bot;
pub mod conversation_lock;
pub mod directline;
pub mod dispatch;
pub mod drain;
pub mod error;
pub mod lu_settings;
pub mod outbox;
pub mod readiness;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod transcripts;
pub mod turn;
pub mod webchat_settings;

pub use app_state::AppState;
pub use error::ApiError;
pub use settings::Settings;
