//! One turn at a time per conversation inside this process.
//!
//! eTags alone keep concurrent turns correct, but under contention every
//! loser re-runs its turn; with 200 turns racing on one conversation that is
//! quadratic work. Queuing turns of the same conversation here leaves the
//! eTag retry for what it is for: turns racing in another process or region.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct ConversationLocks {
    map: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

/// Held by a turn, and after it by the sending of its replies (which may
/// outlive the request, so the guard owns what it needs).
pub struct ConversationGuard {
    locks: Arc<ConversationLocks>,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl ConversationLocks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits (FIFO) until no other turn of `key` runs in this process.
    pub async fn lock(self: &Arc<Self>, key: &str) -> ConversationGuard {
        let mutex = self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let guard = mutex.lock_owned().await;
        ConversationGuard {
            locks: self.clone(),
            key: key.to_string(),
            guard: Some(guard),
        }
    }

    /// Conversations with a turn running or waiting.
    pub fn active(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for ConversationGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map still holds it: nobody runs or waits, forget the key.
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn serialises_one_key_and_forgets_idle_keys() {
        let locks = Arc::new(ConversationLocks::new());
        let inside = Arc::new(AtomicUsize::new(0));
        let max_inside = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (locks, inside, max_inside) =
                    (locks.clone(), inside.clone(), max_inside.clone());
                tokio::spawn(async move {
                    let _g = locks.lock("c").await;
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max_inside.fetch_max(n, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(max_inside.load(Ordering::SeqCst), 1);
        assert_eq!(locks.active(), 0);
        // Different keys do not wait for each other.
        let a = locks.lock("a").await;
        let b = locks.lock("b").await;
        assert_eq!(locks.active(), 2);
        drop((a, b));
        assert_eq!(locks.active(), 0);
    }
}
