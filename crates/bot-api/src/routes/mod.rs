pub mod health;
pub mod messages;
