//! How many requests may be in flight: through the whole gateway, and for
//! one API key, so that one key cannot hold every place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Places held by a request in flight: the gateway's and its key's.
pub type Admission = (OwnedSemaphorePermit, Option<OwnedSemaphorePermit>);

pub struct Limits {
    all: Arc<Semaphore>,
    per_key: usize,
    keys: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Limits {
    /// At most `all` requests in flight, and `per_key` for one key (both at least 1).
    pub fn new(all: usize, per_key: usize) -> Self {
        Limits { all: Arc::new(Semaphore::new(all)), per_key, keys: Mutex::default() }
    }

    /// A place for a request of `key` (none without keys), or 429 with `Retry-After`.
    pub fn admit(&self, key: Option<&str>) -> Result<Admission, ApiError> {
        let mine = match key {
            Some(name) => {
                let slots = {
                    let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
                    keys.entry(name.to_string()).or_insert_with(|| Arc::new(Semaphore::new(self.per_key))).clone()
                };
                let held = slots.try_acquire_owned().map_err(|_| {
                    ApiError::busy(&format!(
                        "the key `{name}` has {} requests in flight already; try again shortly",
                        self.per_key
                    ))
                })?;
                Some(held)
            }
            None => None,
        };
        let all = self
            .all
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::busy("too many requests in flight; try again shortly"))?;
        Ok((all, mine))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_cannot_hold_every_place_and_places_come_back() {
        let limits = Limits::new(3, 2);
        let a1 = limits.admit(Some("a")).unwrap();
        let _a2 = limits.admit(Some("a")).unwrap();
        let refused = limits.admit(Some("a")).unwrap_err();
        assert_eq!((refused.status.as_u16(), refused.code.as_deref()), (429, Some("rate_limit_exceeded")));
        assert!(refused.retry_after.is_some());
        // Another key still gets the gateway's last place; then nobody does.
        let _b = limits.admit(Some("b")).unwrap();
        assert_eq!(limits.admit(Some("c")).unwrap_err().status.as_u16(), 429);
        assert_eq!(limits.admit(None).unwrap_err().status.as_u16(), 429);
        drop(a1);
        let _again = limits.admit(Some("a")).unwrap();
    }
}
