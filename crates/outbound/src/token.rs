//! A cache of OAuth access tokens, one per key (tenant and scope set), refreshed before they
//! expire by one caller at a time.
//!
//! Every caller for a key goes through that key's async mutex: the first one with a stale or
//! missing token fetches while the others wait, then they all use the fresh token. Keys that
//! are not being refreshed never wait on each other.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A token as the authorisation server returned it.
#[derive(Debug)]
pub struct FetchedToken {
    /// The bearer token itself.
    pub access_token: SecretString,
    /// Lifetime the server announced (`expires_in`).
    pub expires_in: Duration,
}

/// A token held by the cache.
#[derive(Debug)]
pub struct CachedToken {
    access_token: SecretString,
    /// When the server will stop accepting it.
    pub expires_at: Instant,
    /// How many times this key has been fetched (1 for the first token), for metrics and tests.
    pub generation: u64,
    lifetime: Duration,
}

impl CachedToken {
    /// The bearer value, for the `Authorization` header only.
    pub fn secret(&self) -> &str {
        self.access_token.expose_secret()
    }
}

#[derive(Default)]
struct Slot {
    current: Option<Arc<CachedToken>>,
    generation: u64,
}

/// Token cache keyed by `K`.
pub struct TokenCache<K> {
    slots: StdMutex<HashMap<K, Arc<Mutex<Slot>>>>,
    refresh_margin: Duration,
    fetches: std::sync::atomic::AtomicU64,
}

impl<K> std::fmt::Debug for TokenCache<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("refresh_margin", &self.refresh_margin)
            .finish()
    }
}

impl<K: Eq + Hash + Clone> TokenCache<K> {
    /// `refresh_margin`: a token is replaced once it has less than this left to live. For a
    /// very short-lived token the margin is capped at half its lifetime so it is still used.
    pub fn new(refresh_margin: Duration) -> Self {
        Self {
            slots: StdMutex::new(HashMap::new()),
            refresh_margin,
            fetches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn slot(&self, key: &K) -> Arc<Mutex<Slot>> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(key.clone()).or_default().clone()
    }

    /// Returns a live token for `key`, calling `fetch` if there is none or it is about to
    /// expire. Concurrent callers for the same key share one fetch.
    pub async fn get<F, Fut, E>(&self, key: &K, fetch: F) -> Result<Arc<CachedToken>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<FetchedToken, E>>,
    {
        let slot = self.slot(key);
        let mut slot = slot.lock().await;
        let now = Instant::now();
        if let Some(token) = &slot.current {
            if now + self.margin_for(token) < token.expires_at {
                return Ok(token.clone());
            }
        }
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let fetched = fetch().await?;
        slot.generation += 1;
        let token = Arc::new(CachedToken {
            access_token: fetched.access_token,
            expires_at: Instant::now() + fetched.expires_in,
            generation: slot.generation,
            lifetime: fetched.expires_in,
        });
        slot.current = Some(token.clone());
        Ok(token)
    }

    /// Tokens requested from the server so far (successful or not), for metrics.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Drops `stale` (a token the server just refused) so the next `get` fetches a new one.
    /// A newer token another caller already fetched is kept.
    pub async fn invalidate(&self, key: &K, stale: &CachedToken) {
        let slot = self.slot(key);
        let mut slot = slot.lock().await;
        if slot
            .current
            .as_ref()
            .is_some_and(|t| t.generation == stale.generation)
        {
            slot.current = None;
        }
    }

    /// Forgets every token for `key` (for example when its credentials change).
    pub fn forget(&self, key: &K) {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.remove(key);
    }

    /// The refresh margin, capped at half the token's lifetime so that a token shorter-lived
    /// than the margin is still used for a while instead of being refetched on every call.
    fn margin_for(&self, token: &CachedToken) -> Duration {
        self.refresh_margin.min(token.lifetime / 2)
    }
}

/// A fingerprint of a client secret, for cache keys: a token fetched with one secret is not
/// reused for a configuration holding another (so a rotated or mistyped secret shows at
/// once). Kept in memory only; it never leaves the process.
pub fn secret_fingerprint(secret: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    secret.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn token(secs: u64) -> FetchedToken {
        FetchedToken {
            access_token: SecretString::from("t".to_owned()),
            expires_in: Duration::from_secs(secs),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reuses_until_margin_then_refreshes() {
        let cache = TokenCache::new(Duration::from_secs(30));
        let fetches = AtomicU32::new(0);
        let get = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(token(300))
        };
        let a = cache.get(&"t1", get).await.unwrap();
        let b = cache.get(&"t1", get).await.unwrap();
        assert_eq!(a.generation, b.generation);
        tokio::time::advance(Duration::from_secs(269)).await;
        assert_eq!(cache.get(&"t1", get).await.unwrap().generation, 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get(&"t1", get).await.unwrap().generation, 2);
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn one_refresh_at_a_time() {
        let cache = Arc::new(TokenCache::new(Duration::from_secs(30)));
        let fetches = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let cache = cache.clone();
            let fetches = fetches.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get(&"t", || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, ()>(token(300))
                    })
                    .await
                    .unwrap()
                    .generation
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 1);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn invalidate_drops_only_the_stale_generation() {
        let cache = TokenCache::new(Duration::from_secs(30));
        let first = cache
            .get(&"t", || async { Ok::<_, ()>(token(300)) })
            .await
            .unwrap();
        cache.invalidate(&"t", &first).await;
        let second = cache
            .get(&"t", || async { Ok::<_, ()>(token(300)) })
            .await
            .unwrap();
        assert_eq!(second.generation, 2);
        // A late invalidation of the first token must not drop the second.
        cache.invalidate(&"t", &first).await;
        let still = cache
            .get(&"t", || async { Ok::<_, ()>(token(300)) })
            .await
            .unwrap();
        assert_eq!(still.generation, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn short_lived_token_is_still_used_until_expiry() {
        let cache = TokenCache::new(Duration::from_secs(30));
        let fetches = AtomicU32::new(0);
        let get = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(token(5))
        };
        cache.get(&"t", get).await.unwrap();
        cache.get(&"t", get).await.unwrap();
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "a 5 s token must not refetch every call"
        );
    }
}
