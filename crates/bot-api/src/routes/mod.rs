pub mod admin;
pub mod cqa;
pub mod health;
pub mod messages;
