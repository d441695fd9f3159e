//! Gas coins and owned-object locks: which coins pay a call, held until its
//! outcome is known, so that no two transactions are signed over one coin.

use futures::TryStreamExt;

use super::*;

impl Chain {
    /// Locks owned objects until the guards drop, in id order, so that two
    /// calls locking the same objects never wait on each other in a cycle.
    pub(super) async fn lock(&self, ids: &mut [Address]) -> Vec<OwnedMutexGuard<()>> {
        ids.sort();
        let mut guards = Vec::with_capacity(ids.len());
        for id in ids.iter() {
            let m = {
                let mut locks = self.locks.lock().expect("lock table");
                locks.entry(*id).or_default().clone()
            };
            guards.push(m.lock_owned().await);
        }
        guards
    }
    /// Refreshes the list of the sender's coins from the node.
    async fn refresh_coins(&self) -> Result<()> {
        let request = proto::ListOwnedObjectsRequest::default()
            .with_owner(self.sender().to_string())
            .with_object_type("0x2::coin::Coin<0x2::sui::SUI>")
            .with_read_mask(mask(&["object_id", "version", "digest", "balance"]))
            .with_page_size(1_000);
        let objects: Vec<proto::Object> = self
            .rpc
            .list_owned_objects(request)
            .try_collect()
            .await
            .map_err(|e| SdkError::rpc("listing the sender's coins", e))?;
        let mut coins = BTreeMap::new();
        let mut refs = Vec::new();
        for o in &objects {
            let r = reference(o)?;
            coins.insert(*r.object_id(), o.balance.unwrap_or(0));
            refs.push(r);
        }
        let mut cache = self.cache.lock().expect("cache");
        cache.coins = coins;
        // A transaction in flight may have moved a coin on since the node
        // answered: keep the newer of the two references.
        for r in refs {
            match cache.refs.get(r.object_id()) {
                Some(known) if known.version() >= r.version() => {}
                _ => {
                    cache.refs.insert(*r.object_id(), r);
                }
            }
        }
        Ok(())
    }

    /// Picks gas coins holding at least `need` MIST that are not locked, and
    /// locks them. When the sender's coins would do but transactions in
    /// flight hold them, waits (at most `GAS_WAIT`) for them to be released.
    pub(super) async fn take_gas(&self, need: u64) -> Result<(Vec<Address>, Vec<OwnedMutexGuard<()>>)> {
        let give_up = tokio::time::Instant::now() + GAS_WAIT;
        let held = || -> u128 { self.cache.lock().expect("cache").coins.values().map(|b| *b as u128).sum() };
        for retry in 0u32.. {
            if let Some(taken) = self.try_take_gas(need) {
                return Ok(taken);
            }
            if retry > 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            if retry == 0 || held() < need as u128 {
                self.refresh_coins().await?;
            }
            if held() < need as u128 || tokio::time::Instant::now() >= give_up {
                break; // short even counting the coins in use, or waited long enough
            }
        }
        let balance = self.balance().await?;
        Err(SdkError::InsufficientBalance(format!(
            "{} holds {balance} MIST; this call needs {need} (payment and gas budget) in coins not in use by other transactions",
            self.sender()
        )))
    }

    /// Locks the largest free coins until they cover `need`; `None` (and
    /// nothing locked) when the free coins fall short.
    fn try_take_gas(&self, need: u64) -> Option<(Vec<Address>, Vec<OwnedMutexGuard<()>>)> {
        let candidates: Vec<(Address, u64)> = {
            let cache = self.cache.lock().expect("cache");
            let mut c: Vec<(Address, u64)> = cache.coins.iter().map(|(a, b)| (*a, *b)).collect();
            c.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
            c
        };
        let mut chosen = Vec::new();
        let mut guards = Vec::new();
        let mut total: u128 = 0;
        for (id, balance) in candidates {
            let m = {
                let mut locks = self.locks.lock().expect("lock table");
                locks.entry(id).or_default().clone()
            };
            // A coin in use by a transaction in flight is skipped, not waited for.
            let Ok(guard) = m.try_lock_owned() else { continue };
            chosen.push(id);
            guards.push(guard);
            total += balance as u128;
            if total >= need as u128 {
                return Some((chosen, guards));
            }
        }
        None
    }
}
