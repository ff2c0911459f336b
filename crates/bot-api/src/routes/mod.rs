pub mod admin;
pub mod conversations;
pub mod cqa;
pub mod health;
pub mod keys;
pub mod messages;
