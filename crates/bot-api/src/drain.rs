//! Planned failover: a draining instance reports not-ready at once, so the
//! traffic router moves traffic away, while it keeps serving every turn that
//! still reaches it.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

pub struct Drain {
    draining: AtomicBool,
    changed: watch::Sender<bool>,
}

impl Default for Drain {
    fn default() -> Self {
        Self {
            draining: AtomicBool::new(false),
            changed: watch::channel(false).0,
        }
    }
}

impl Drain {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Returns whether this call changed the state.
    pub fn set(&self, draining: bool) -> bool {
        let was = self.draining.swap(draining, Ordering::SeqCst);
        if was != draining {
            tracing::warn!(draining, "drain state changed");
            self.changed.send_replace(draining);
        }
        was != draining
    }

    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.changed.subscribe()
    }
}
