//! Each run's text as the engine releases it, kept until its task is done,
//! for the streams that read it (`stream`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sui_sdk_types::Address;
use tokio::sync::Notify;

/// One run's text so far.
#[derive(Default)]
pub struct Live {
    state: Mutex<LiveState>,
    /// Woken at each piece and at the end.
    pub(crate) changed: Notify,
}

#[derive(Default)]
struct LiveState {
    pieces: Vec<String>,
    finished: bool,
}

impl Live {
    /// Adds a piece of text as the engine releases it.
    pub fn push(&self, text: &str) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).pieces.push(text.to_string());
        self.changed.notify_waiters();
    }

    /// The run ended (with an output or not).
    pub fn finish(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).finished = true;
        self.changed.notify_waiters();
    }

    /// The pieces from the `from`-th on, and whether the run has ended.
    pub(crate) fn since(&self, from: usize) -> (Vec<String>, bool) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.pieces.get(from..).unwrap_or_default().to_vec(), state.finished)
    }
}

/// Ends its run when dropped, whatever way the run ends.
pub struct Running(pub Arc<Live>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// The runs of open tasks, by request.
#[derive(Default)]
pub struct Runs(Mutex<HashMap<Address, Arc<Live>>>);

impl Runs {
    /// A new run of `request` (replacing an earlier attempt's).
    pub fn start(&self, request: Address) -> Running {
        let live = Arc::new(Live::default());
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(request, live.clone());
        Running(live)
    }

    /// The run of `request`, in progress or ended.
    pub fn get(&self, request: &Address) -> Option<Arc<Live>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get(request).cloned()
    }

    /// Forgets `request`'s run (its task is done): streams already open
    /// keep it to their end.
    pub fn end(&self, request: &Address) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(request);
    }
}
